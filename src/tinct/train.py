"""Training: one Lightning module for every method, dataclass configs, ``fit()``.

A method (:class:`tinct.methods.base.Method`) declares its optimisation steps
(``training_steps()``: a list of :class:`~tinct.methods.base.Step`) and the batch keys it
needs (``batch_keys``). :class:`MethodModule` runs the steps that are active at the current
point of training, in order, on every batch, with manual optimisation: one Adam optimiser
per step, toggled, ``manual_backward``; what a step passes on (the generator's fake image)
goes to the next in a ``carry`` dict, never into the batch. G then D, a first phase then a
second, or one add-on optimiser over a frozen backbone are all just lists of steps.
Learning rates stay constant for the first half of training and decay linearly to zero over
the second half (pix2pix / GuidingPainter's schedule), per batch rather than per epoch so
that short runs (one or two epochs on a CPU) follow the same curve.

Scaling out: with several processes (``--devices N --strategy ddp``, GPUs or CPU/gloo) each
step's backward runs without DDP's own gradient hooks (``no_sync``), and the step's
gradients are then averaged over the processes by one all-reduce. DDP's reducer expects every
parameter of the model in every backward, which a G step (D untouched) or a D step (G
untouched) never gives; averaging per step works for any list of steps and needs no
``find_unused_parameters``. (Lightning's manual-optimisation GAN examples sidestep this the
same way: the gradients of one optimiser are synchronised at that optimiser's step.)

Configs are dataclasses; a YAML file overrides them (``train:`` and ``model:`` sections),
and an unknown key is an error. The same code runs on one CPU or many GPUs with DDP
(``devices``, ``strategy``). Reproducible from a seed on CPU: global seeding, deterministic
algorithms, and a per-step random generator derived from (seed, step, rank).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import lightning as L
import torch

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data: str = "openmoji"  # "openmoji" (train split) or a folder of colour images
    sketch: str = "line"  # OpenMoji: "line" (true line art) or "xdog"
    size: int = 128
    batch_size: int = 16
    epochs: int = 10
    max_steps: int = -1  # stop after this many optimiser steps (one per declared step and batch: two for G, D); -1: all epochs
    limit: int | None = None  # use only the first N training images
    augment: bool = True  # joint random flip and crop
    num_workers: int = 0
    seed: int = 0
    accelerator: str = "auto"
    devices: Any = 1  # int or "auto"; >1 with strategy "ddp" trains on several GPUs
    strategy: str = "auto"
    precision: str = "32-true"
    checkpoint_every: int = 100  # steps between checkpoints (Lightning .ckpt + exported weights)
    samples: int = 6  # validation images in the per-epoch sample grid
    sample_hints: tuple[int, ...] = (0, 3, 10)
    decay_start: float = 0.5  # fraction of training after which the learning rate decays linearly
    init: str | None = None  # start from the weights of an exported model folder (fine-tuning)
    out: str = "runs/train"


def _coerce(value: Any, current: Any, key: str) -> Any:
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(current, bool) and not isinstance(value, bool):
        raise ValueError(f"{key} takes true/false, got {value!r}")
    if isinstance(current, float) and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:  # YAML reads "2e-4" (no dot) as a string
            return float(value)
        except ValueError:
            raise ValueError(f"{key} takes a number, got {value!r}") from None
    return value


def override(config, values: dict, *, where: str):
    """A copy of dataclass ``config`` with ``values`` applied; unknown keys raise ValueError."""
    known = {f.name for f in fields(config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; known: {', '.join(sorted(known))}")
    return dataclasses.replace(config, **{k: _coerce(v, getattr(config, k), f"{where}.{k}") for k, v in values.items()})


def read_overrides(path: str | Path) -> dict[str, dict]:
    """A YAML file with optional ``train:`` and ``model:`` mappings."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no config file {path}")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict) or set(content) - {"train", "model"}:
        raise ValueError(f"{path}: expected top-level keys 'train' and/or 'model', got {sorted(content) if isinstance(content, dict) else type(content).__name__}")
    return {section: dict(content.get(section) or {}) for section in ("train", "model")}


def parse_assignments(assignments: list[str]) -> dict[str, dict]:
    """``["model.base_channels=16", "train.epochs=3"]`` -> {"model": {...}, "train": {...}} (YAML values)."""
    import yaml

    result: dict[str, dict] = {"train": {}, "model": {}}
    for item in assignments:
        key, sep, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in result:
            raise ValueError(f"--set takes train.KEY=VALUE or model.KEY=VALUE, got {item!r}")
        result[section][name] = yaml.safe_load(raw)
    return result


def linear_decay(total: int, start_fraction: float):
    """Learning-rate factor per step: 1 until ``start_fraction`` of ``total`` steps, then
    linearly down to 1 / (decay steps + 1) at the last step (pix2pix's rule, per step)."""
    start = int(total * start_fraction)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start + 1) / (total - start + 1))

    return factor


def _concurrent_steps(steps) -> int:
    """The most steps active at once over training (2 for G/D; 1 for an add-on optimiser)."""
    bounds = sorted({start for step in steps for start in step.active if start < 1.0} | {0.0})
    return max(1, max(sum(step.is_active(point) for step in steps) for point in bounds))


class MethodModule(L.LightningModule):
    """The Lightning wrapper around a method: manual optimisation of its declared steps."""

    def __init__(self, method: torch.nn.Module, config: TrainConfig):
        super().__init__()
        self.method = method
        self.config = config
        self.automatic_optimization = False
        self.total_batches = 1  # set in configure_optimizers
        self.start_step = 0  # set when training starts: after a resume, the restored step
        self.batches_done = 0  # batches trained so far (restored on resume): the schedule's clock
        self._steps: list = []

    def configure_optimizers(self):
        self._steps = self.method.training_steps()
        optimizers = [torch.optim.Adam(step.parameters, lr=step.lr, betas=tuple(step.betas)) for step in self._steps]
        trainer = self.trainer
        trainer.estimated_stepping_batches  # sets up the training loader, so num_training_batches is known
        batches = int(trainer.num_training_batches) * max(1, trainer.max_epochs or 1)
        if trainer.max_steps > 0:  # Lightning's steps are optimiser steps: one per active step and batch
            batches = min(batches, trainer.max_steps // _concurrent_steps(self._steps))
        self.total_batches = max(1, batches)  # the schedule's length: LR decay and the method's progress
        decay = linear_decay(self.total_batches, self.config.decay_start)
        return optimizers, [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in optimizers]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["tinct_batches_done"] = self.batches_done

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # checkpoints of earlier versions count only optimiser steps (two per batch, G and D)
        self.batches_done = checkpoint.get("tinct_batches_done", checkpoint.get("global_step", 0) // 2)

    def _step_generator(self) -> torch.Generator:
        seed = (self.config.seed * 1_000_003 + self.global_step * 7919 + self.global_rank) % (2**63)
        return torch.Generator(device=self.device).manual_seed(seed)

    def on_train_start(self) -> None:
        self.start_step = self.global_step

    def _no_sync(self):
        """DDP's own gradient hooks off for one step's backward (see the module docstring)."""
        from contextlib import nullcontext

        from lightning.pytorch.strategies import ParallelStrategy

        strategy = self.trainer.strategy
        return strategy.block_backward_sync() if isinstance(strategy, ParallelStrategy) else nullcontext()

    def _average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Average one step's gradients over the processes (one all-reduce); a parameter that
        got no gradient in any process keeps none, so Adam skips it as it would on one."""
        world = self.trainer.world_size
        if world < 2 or not torch.distributed.is_available() or not torch.distributed.is_initialized():
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
        present = torch.tensor([float(p.grad is not None) for p in parameters], device=self.device)
        flat = torch.cat([g.reshape(-1) for g in grads] + [present])
        torch.distributed.all_reduce(flat)
        flat[: -len(parameters)] /= world
        offset = 0
        for parameter, grad, seen in zip(parameters, grads, flat[-len(parameters):]):
            values = flat[offset : offset + grad.numel()].view_as(grad)
            offset += grad.numel()
            parameter.grad = values.clone() if seen > 0 else None

    def training_step(self, batch: dict, batch_index: int) -> None:
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        progress = min(1.0, self.batches_done / self.total_batches)
        generator = self._step_generator()  # one per batch: every step draws from it in turn
        carry: dict = {}
        logs: dict = {}
        for step, optimizer in zip(self._steps, optimizers):
            if not step.is_active(progress):
                continue
            self.toggle_optimizer(optimizer)
            with self._no_sync():
                loss, step_logs, passed_on = step.run(batch, carry, progress=progress, generator=generator)
                optimizer.zero_grad(set_to_none=True)
                self.manual_backward(loss)
            self._average_gradients(step.parameters)
            optimizer.step()
            self.untoggle_optimizer(optimizer)
            carry = {**carry, **passed_on}
            logs.update(step_logs)
        self.batches_done += 1
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:  # per batch (linear_decay)
            scheduler.step()
        logs["lr"] = optimizers[0].param_groups[0]["lr"]
        self.log_dict({k: float(v) for k, v in logs.items()}, prog_bar=True, on_step=True, on_epoch=True,
                      batch_size=batch["color"].shape[0], sync_dist=False)


def _keep(keys: tuple[str, ...]):
    """A transform keeping the batch keys a method trains on; a missing key is an error
    naming what the data gives."""

    def keep(sample: dict) -> dict:
        missing = [key for key in keys if key not in sample]
        if missing:
            raise ValueError(f"the training data gives {', '.join(sorted(sample))}, but the method needs "
                             f"{', '.join(missing)} too")
        return {key: sample[key] for key in keys}

    return keep


def _datasets(config: TrainConfig, batch_keys: tuple[str, ...]):
    import copy

    from tinct.data.augment import joint_flip_crop
    from tinct.data.folder import FolderDataset
    from tinct.data.openmoji import OpenMojiDataset

    keep = _keep(batch_keys)

    def augment(sample: dict) -> dict:
        sample = keep(sample)
        return joint_flip_crop(sample, size=config.size) if config.augment else sample

    if config.data == "openmoji":
        train = OpenMojiDataset("train", size=config.size, sketch=config.sketch, transform=augment, limit=config.limit)
        val = OpenMojiDataset("val", size=config.size, sketch=config.sketch, limit=config.samples, transform=keep)
        return train, val
    train = FolderDataset(config.data, size=config.size, transform=augment)
    if config.limit is not None:
        train.files = train.files[: config.limit]
    val = copy.copy(train)  # the folder is scanned once; the samples are its first images, unaugmented
    val.files, val.transform = train.files[: config.samples], keep
    return train, val


class DataModule(L.LightningDataModule):
    """Training images (shuffled, seeded) and a few fixed validation images for samples."""

    def __init__(self, config: TrainConfig, batch_keys: tuple[str, ...] = ("sketch", "color")):
        super().__init__()
        self.config = config
        self.train, self.val = _datasets(config, batch_keys)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(
            self.train, batch_size=self.config.batch_size, shuffle=True, drop_last=len(self.train) > self.config.batch_size,
            num_workers=self.config.num_workers, generator=torch.Generator().manual_seed(self.config.seed),
            persistent_workers=self.config.num_workers > 0,
        )

    def sample_batch(self) -> dict:
        items = [self.val[i] for i in range(min(self.config.samples, len(self.val)))]
        return {key: torch.stack([item[key] for item in items]) for key in items[0]}


class SamplesAndExport(L.Callback):
    """Each epoch: a sample grid PNG; every ``checkpoint_every`` steps and at the end: the
    exported weights (config.json + model.safetensors) under ``out/model``."""

    def __init__(self, config: TrainConfig, sample_batch: dict):
        self.config = config
        self.sample_batch = sample_batch
        self.out = Path(config.out)

    def _export(self, trainer, module: MethodModule) -> None:
        if trainer.is_global_zero:
            module.method.save_pretrained(self.out / "model")
            (self.out / "model" / "train_config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        if self.config.checkpoint_every > 0 and trainer.global_step % self.config.checkpoint_every == 0:
            self._export(trainer, module)

    def on_train_epoch_end(self, trainer, module) -> None:
        if not trainer.is_global_zero:
            return
        from tinct.evaluate import sample_columns
        from tinct.image import save_image
        from tinct.visual import sample_grid

        method = module.method
        was_training = method.training
        method.eval()
        batch = {k: v.to(module.device) for k, v in self.sample_batch.items()}
        generator = torch.Generator(device=module.device).manual_seed(self.config.seed)
        with torch.no_grad():
            shown = sample_columns(method, batch, generator=generator, hint_counts=self.config.sample_hints)
        columns = [batch["sketch"].expand(-1, 3, -1, -1), *(column.clamp(0, 1) for column in shown), batch["color"]]
        method.train(was_training)
        save_image(sample_grid(columns), self.out / "samples" / f"epoch_{trainer.current_epoch:03d}.png")

    def on_train_end(self, trainer, module) -> None:
        self._export(trainer, module)


def build_method(name: str, overrides: dict | None = None):
    """A fresh method from the registry with config overrides applied."""
    from tinct.methods import METHODS

    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(sorted(METHODS))}")
    config = override(METHODS[name].config_class(), overrides or {}, where="model")
    return METHODS[name](config)


def fit(method_name: str, config: TrainConfig, model_overrides: dict | None = None, *, resume: str | None = None,
        fast_dev_run: bool = False, callbacks: tuple = ()) -> Path:
    """Train ``method_name``; returns the exported model folder (``config.out/model``).

    ``resume``: a Lightning checkpoint path, or ``"auto"`` for ``out/checkpoints/last.ckpt``;
    ``callbacks``: more Lightning callbacks (progress probes, early stopping, ...).
    """
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    L.seed_everything(config.seed, workers=True, verbose=False)
    method = build_method(method_name, model_overrides)
    if config.init:
        from safetensors.torch import load_file

        weights = Path(config.init) / "model.safetensors"
        if not weights.exists():
            raise FileNotFoundError(f"--init: no {weights}")
        method.load_state_dict(load_file(weights))
        log.info("starting from the weights in %s", weights)
    data = DataModule(config, tuple(method.batch_keys))
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = None
    if resume == "auto":
        ckpt_path = out / "checkpoints" / "last.ckpt"
        if not ckpt_path.exists():
            log.warning("no checkpoint at %s: starting from scratch", ckpt_path)
            ckpt_path = None
    elif resume:
        ckpt_path = Path(resume)
        if not ckpt_path.exists():
            raise FileNotFoundError(f"no checkpoint {ckpt_path} to resume from")
    loggers = [CSVLogger(out, name="logs")]  # a resumed run logs into a new version folder
    try:
        loggers.append(TensorBoardLogger(out, name="tensorboard"))
    except ModuleNotFoundError:
        log.warning("tensorboard is not installed: logging to CSV only")
    # every checkpoint_every steps: step=N.ckpt (all kept) and last.ckpt (what --resume auto reads)
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", filename="{step}", every_n_train_steps=max(1, config.checkpoint_every),
                                 save_last=True, save_top_k=-1)
    trainer = L.Trainer(
        accelerator=config.accelerator, devices=config.devices, strategy=config.strategy,
        precision=config.precision, max_epochs=config.epochs, max_steps=config.max_steps,
        deterministic=True, logger=loggers, callbacks=[checkpoint, SamplesAndExport(config, data.sample_batch()), *callbacks],
        fast_dev_run=fast_dev_run, log_every_n_steps=10, enable_progress_bar=True, default_root_dir=out,
    )
    started = time.time()
    module = MethodModule(method, config)
    trainer.fit(module, datamodule=data, ckpt_path=str(ckpt_path) if ckpt_path else None)
    # Lightning counts optimiser steps: with manual optimisation, one per active step and batch
    log.info("trained %s to %d optimiser steps in %.0f s", method_name, trainer.global_step, time.time() - started)
    if trainer.is_global_zero:
        (out / "model").mkdir(parents=True, exist_ok=True)
        (out / "model" / "train_summary.json").write_text(json.dumps(
            {"optimizer_steps": trainer.global_step, "batches": module.batches_done,
             "epochs": trainer.current_epoch, "resumed_from_step": module.start_step,
             "seconds": round(time.time() - started, 1)}, indent=2))
    return out / "model"
