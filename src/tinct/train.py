"""Training: one Lightning GAN module for every method, dataclass configs, ``fit()``.

A method (``tinct.methods``) is an ``nn.Module`` that provides

- ``generator_step(batch, *, progress, generator)`` -> ``(loss, logs, fake)``,
- ``discriminator_step(batch, fake)`` -> ``(loss, logs)``,
- ``generator_parameters()`` / ``discriminator_parameters()``,
- ``policy(batch, max_hints=, generator=)`` and ``evaluate_colorize(batch, colors, mask)``
  (for the sample grid and ``tinct evaluate``), or, for a method without hints,
  ``sample_columns(batch, generator=)`` (its own sample-grid columns), ``save_pretrained(folder)``.

The discriminator's Adam uses the method config's ``lr_d`` when it has one, else ``lr``.

:class:`GANModule` runs them with manual optimisation: the generator step (which also
produces the fake image), then the discriminator step on that fake, each with its own
Adam optimiser, ``manual_backward`` and toggled optimisers. Learning rates stay constant
for the first half of training and decay linearly to zero over the second half
(pix2pix / GuidingPainter's schedule), per batch rather than per epoch so that short runs
(one or two epochs on a CPU) follow the same curve.

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
    max_steps: int = -1  # stop after this many optimiser steps, two per batch (G, D); -1: run all epochs
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


class GANModule(L.LightningModule):
    """The Lightning wrapper around a method: manual optimisation, G step then D step."""

    def __init__(self, method: torch.nn.Module, config: TrainConfig):
        super().__init__()
        self.method = method
        self.config = config
        self.automatic_optimization = False
        self.total_batches = 1  # set in configure_optimizers
        self.start_step = 0  # set when training starts: after a resume, the restored step

    def configure_optimizers(self):
        model_config = self.method.config
        betas = tuple(model_config.betas)
        opt_g = torch.optim.Adam(self.method.generator_parameters(), lr=model_config.lr, betas=betas)
        lr_d = getattr(model_config, "lr_d", None)  # a method may give D its own learning rate (SCFT)
        opt_d = torch.optim.Adam(self.method.discriminator_parameters(), lr=model_config.lr if lr_d is None else lr_d,
                                 betas=betas)
        trainer = self.trainer
        trainer.estimated_stepping_batches  # sets up the training loader, so num_training_batches is known
        batches = int(trainer.num_training_batches) * max(1, trainer.max_epochs or 1)
        if trainer.max_steps > 0:  # Lightning's steps are optimiser steps: two per batch here
            batches = min(batches, trainer.max_steps // 2)
        self.total_batches = max(1, batches)  # the schedule's length: LR decay and the method's progress
        decay = linear_decay(self.total_batches, self.config.decay_start)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers

    def _step_generator(self) -> torch.Generator:
        seed = (self.config.seed * 1_000_003 + self.global_step * 7919 + self.global_rank) % (2**63)
        return torch.Generator(device=self.device).manual_seed(seed)

    def on_train_start(self) -> None:
        self.start_step = self.global_step

    def training_step(self, batch: dict, batch_index: int) -> None:
        opt_g, opt_d = self.optimizers()
        progress = min(1.0, (self.global_step // 2) / self.total_batches)  # two optimiser steps per batch

        self.toggle_optimizer(opt_g)
        loss_g, logs_g, fake = self.method.generator_step(batch, progress=progress, generator=self._step_generator())
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self.toggle_optimizer(opt_d)
        loss_d, logs_d = self.method.discriminator_step(batch, fake.detach())
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        for scheduler in self.lr_schedulers():  # per batch (see linear_decay)
            scheduler.step()
        logs = {**logs_g, **logs_d, "lr": opt_g.param_groups[0]["lr"]}
        self.log_dict({k: float(v) for k, v in logs.items()}, prog_bar=True, on_step=True, on_epoch=True,
                      batch_size=batch["color"].shape[0], sync_dist=False)


def _images_only(sample: dict) -> dict:
    """What the methods train on: the colour image and its sketch."""
    return {key: sample[key] for key in ("color", "sketch")}


def _datasets(config: TrainConfig):
    import copy

    from tinct.data.augment import joint_flip_crop
    from tinct.data.folder import FolderDataset
    from tinct.data.openmoji import OpenMojiDataset

    def augment(sample: dict) -> dict:
        sample = _images_only(sample)
        return joint_flip_crop(sample, size=config.size) if config.augment else sample

    if config.data == "openmoji":
        train = OpenMojiDataset("train", size=config.size, sketch=config.sketch, transform=augment, limit=config.limit)
        val = OpenMojiDataset("val", size=config.size, sketch=config.sketch, limit=config.samples,
                              transform=_images_only)
        return train, val
    train = FolderDataset(config.data, size=config.size, transform=augment)
    if config.limit is not None:
        train.files = train.files[: config.limit]
    val = copy.copy(train)  # the folder is scanned once; the samples are its first images, unaugmented
    val.files, val.transform = train.files[: config.samples], _images_only
    return train, val


class DataModule(L.LightningDataModule):
    """Training images (shuffled, seeded) and a few fixed validation images for samples."""

    def __init__(self, config: TrainConfig):
        super().__init__()
        self.config = config
        self.train, self.val = _datasets(config)

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

    def _export(self, trainer, module: GANModule) -> None:
        if trainer.is_global_zero:
            module.method.save_pretrained(self.out / "model")
            (self.out / "model" / "train_config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        if self.config.checkpoint_every > 0 and trainer.global_step % self.config.checkpoint_every == 0:
            self._export(trainer, module)

    def on_train_epoch_end(self, trainer, module) -> None:
        if not trainer.is_global_zero:
            return
        from tinct.image import save_image

        method = module.method
        was_training = method.training
        method.eval()
        batch = {k: v.to(module.device) for k, v in self.sample_batch.items()}
        columns = [batch["sketch"].expand(-1, 3, -1, -1)]
        generator = torch.Generator(device=module.device).manual_seed(self.config.seed)
        with torch.no_grad():
            if hasattr(method, "sample_columns"):  # a method without hints (SCFT: references) shows its own
                columns += [column.clamp(0, 1) for column in method.sample_columns(batch, generator=generator)]
            else:
                hints = method.policy(batch, max_hints=max(self.config.sample_hints), generator=generator)
                for count in self.config.sample_hints:
                    columns.append(method.evaluate_colorize(batch, *hints(count)).clamp(0, 1))
        columns.append(batch["color"])
        method.train(was_training)
        grid = torch.stack(columns, dim=1).cpu()  # (B, columns, 3, H, W)
        rows, cols, _, height, width = grid.shape
        image = grid.permute(2, 0, 3, 1, 4).reshape(3, rows * height, cols * width)
        save_image(image, self.out / "samples" / f"epoch_{trainer.current_epoch:03d}.png")

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
        fast_dev_run: bool = False) -> Path:
    """Train ``method_name``; returns the exported model folder (``config.out/model``).

    ``resume``: a Lightning checkpoint path, or ``"auto"`` for ``out/checkpoints/last.ckpt``.
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
    data = DataModule(config)
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
        deterministic=True, logger=loggers, callbacks=[checkpoint, SamplesAndExport(config, data.sample_batch())],
        fast_dev_run=fast_dev_run, log_every_n_steps=10, enable_progress_bar=True, default_root_dir=out,
    )
    started = time.time()
    module = GANModule(method, config)
    trainer.fit(module, datamodule=data, ckpt_path=str(ckpt_path) if ckpt_path else None)
    # Lightning counts optimiser steps: with manual optimisation, two per batch (G and D)
    log.info("trained %s to %d optimiser steps in %.0f s", method_name, trainer.global_step, time.time() - started)
    if trainer.is_global_zero:
        (out / "model").mkdir(parents=True, exist_ok=True)
        (out / "model" / "train_summary.json").write_text(json.dumps(
            {"optimizer_steps": trainer.global_step, "batches": trainer.global_step // 2,
             "epochs": trainer.current_epoch, "resumed_from_step": module.start_step,
             "seconds": round(time.time() - started, 1)}, indent=2))
    return out / "model"
