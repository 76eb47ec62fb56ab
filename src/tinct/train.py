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

Exact resume: a run stopped at any checkpoint (mid-epoch, or killed after it) and resumed
gives, on CPU, the same weights and optimiser state tensor for tensor as a run that never
stopped. Nothing random depends on how long the process has been running: the order of an
epoch and each sample's augmentation are pure functions of (seed, epoch, index)
(:mod:`tinct.data.sampling`), the training steps draw from the per-step generator, and the
checkpoint records where training stands in the data (the :class:`DataModule`'s state: the
epoch and how many of its batches are done, as Lightning's loop counts them), so a resumed
epoch skips exactly the batches already trained on.

Errors a user can cause (a bad setting, config file, checkpoint or ``--init`` folder, a
diverging loss) raise one-line ``ValueError``/``FileNotFoundError`` naming the file or
setting and the reason. A non-finite loss or weight stops training at once, before anything
is exported or checkpointed, so the last good export in ``out/model`` survives.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import warnings
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data: str = "openmoji"  # a --data spec (tinct.data.specs): openmoji, a source, a folder, sbs:FOLDER, a+b
    sketch: str = "line"  # OpenMoji: "line" (true line art) or "xdog"
    size: int = 128
    batch_size: int = 16
    epochs: int = 10
    max_steps: int = -1  # stop after this many optimiser steps (one per declared step and batch: two for G, D); -1: all epochs
    limit: int | None = None  # use only the first N training images
    augment: bool = True  # joint random flip and crop
    # colour augmentation (tinct.data.recolor; not in the papers): the probability that every
    # ground-truth region of a sample takes its own random colour (sources with regions only),
    # and that the whole picture's hue is rotated
    recolor: float = 0.0
    hue_jitter: float = 0.0
    # the probability that a sample's sketch gets open strokes, gaps of 2-8 px (tinct.data.gaps;
    # not in the papers); targets derived from the sketch (skeleton_target) see the closed lines
    gaps: float = 0.0
    num_workers: int = 0
    seed: int = 0
    accelerator: str = "auto"
    devices: Any = 1  # int or "auto"; >1 with strategy "ddp" trains on several GPUs
    strategy: str = "auto"
    precision: str = "32-true"
    checkpoint_every: int = 100  # steps between checkpoints (Lightning .ckpt + exported weights); 0: none, only the final export
    keep_checkpoints: int = 0  # keep only the newest N step checkpoints (and last.ckpt); 0: keep them all
    samples: int = 6  # validation images in the per-epoch sample grid
    sample_hints: tuple[int, ...] = (0, 3, 10)
    decay_start: float = 0.5  # fraction of training after which the learning rate decays linearly
    max_minutes: float | None = None  # also stop (and export) after this much wall-clock time; None: no limit
    # Lightning's: true (the default; CUDA ops with no deterministic kernel are errors), false, or "warn"
    deterministic: Any = True
    init: str | None = None  # start from the weights of an exported model folder (fine-tuning)
    out: str = "runs/train"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """ValueError naming the first setting that is out of range (``train.KEY ...``).
        Accelerator, devices, strategy and precision are Lightning's to check (see :func:`fit`)."""
        whole = ("size", "batch_size", "epochs", "max_steps", "num_workers", "seed", "checkpoint_every", "samples",
                 "keep_checkpoints")
        for name in whole + (("limit",) if self.limit is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"train.{name} takes a whole number, got {value!r}")
        if not isinstance(self.augment, bool):
            raise ValueError(f"train.augment takes true/false, got {self.augment!r}")
        if isinstance(self.decay_start, bool) or not isinstance(self.decay_start, (int, float)):
            raise ValueError(f"train.decay_start takes a number, got {self.decay_start!r}")
        if not isinstance(self.sample_hints, (list, tuple)):
            raise ValueError(f"train.sample_hints takes a list of hint counts, got {self.sample_hints!r}")
        self.sample_hints = tuple(self.sample_hints)
        minimum = {"size": 8, "batch_size": 1, "epochs": 1, "samples": 1, "num_workers": 0, "checkpoint_every": 0,
                   "keep_checkpoints": 0}
        for name, least in minimum.items():
            if getattr(self, name) < least:
                raise ValueError(f"train.{name} must be at least {least}, got {getattr(self, name)}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"train.max_steps must be -1 (all epochs) or at least 1, got {self.max_steps}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"train.seed must be in [0, 2**32), got {self.seed}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"train.limit must be at least 1 (or unset: all images), got {self.limit}")
        for name in ("recolor", "hue_jitter", "gaps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"train.{name} takes a probability in [0, 1], got {value!r}")
        if not 0.0 <= self.decay_start <= 1.0:
            raise ValueError(f"train.decay_start must be in [0, 1], got {self.decay_start}")
        if self.max_minutes is not None and (isinstance(self.max_minutes, bool)
                                             or not isinstance(self.max_minutes, (int, float)) or self.max_minutes <= 0):
            raise ValueError(f"train.max_minutes takes a positive number of minutes, got {self.max_minutes!r}")
        if self.deterministic not in (True, False, "warn"):
            raise ValueError(f"train.deterministic takes true, false or warn, got {self.deterministic!r}")
        if self.sketch not in ("line", "xdog"):
            raise ValueError(f"train.sketch takes 'line' or 'xdog', got {self.sketch!r}")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in self.sample_hints):
            raise ValueError(f"train.sample_hints takes hint counts >= 0, got {list(self.sample_hints)}")


def _first_line(error: BaseException) -> str:
    """An exception's message as one line (the first), or its type when it has none."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _coerce(value: Any, current: Any, key: str) -> Any:
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(current, bool) and not isinstance(value, bool) and not key.endswith(".deterministic"):
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


def _load_yaml(text: str, where: str, *, lines: bool = True) -> Any:
    """``yaml.safe_load`` with its errors as one-line ValueErrors naming ``where`` (and the
    line, with ``lines``); a ``!!python/...`` tag is refused: config files hold plain values."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        at = f", line {mark.line + 1}" if lines and mark is not None else ""
        problem = getattr(error, "problem", None) or _first_line(error)
        if isinstance(error, yaml.constructor.ConstructorError) and "tag:yaml.org,2002:" in problem:
            tag = problem[problem.index("tag:yaml.org,2002:"):].strip("'").replace("tag:yaml.org,2002:", "!!")
            problem = f"the tag {tag} is not allowed (plain YAML values only)"
        raise ValueError(f"{where}{at}: not valid YAML: {problem}") from None


def read_overrides(path: str | Path) -> dict[str, dict]:
    """A YAML file with optional ``train:`` and ``model:`` mappings."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no config file {path}")
    if path.is_dir():
        raise ValueError(f"config file {path} is a folder, not a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"config file {path} is not UTF-8 text (a YAML file was expected)") from None
    content = _load_yaml(text, str(path)) or {}
    if not isinstance(content, dict) or set(content) - {"train", "model"}:
        raise ValueError(f"{path}: expected top-level keys 'train' and/or 'model', got {sorted(map(str, content)) if isinstance(content, dict) else type(content).__name__}")
    sections = {}
    for section in ("train", "model"):
        values = content.get(section) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: '{section}' must map setting names to values, got {type(values).__name__} {values!r}")
        sections[section] = dict(values)
    return sections


def parse_assignments(assignments: list[str]) -> dict[str, dict]:
    """``["model.base_channels=16", "train.epochs=3"]`` -> {"model": {...}, "train": {...}} (YAML values)."""
    result: dict[str, dict] = {"train": {}, "model": {}}
    for item in assignments:
        key, sep, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in result:
            raise ValueError(f"--set takes train.KEY=VALUE or model.KEY=VALUE, got {item!r}")
        result[section][name] = _load_yaml(raw, f"--set {item}", lines=False)
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
        self._names: dict[int, str] = {}  # id(parameter) -> its name, for the non-finite check's message

    def configure_optimizers(self):
        self._steps = self.method.training_steps()
        self._names = {id(parameter): name for name, parameter in self.method.named_parameters()}
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
        checkpoint["tinct_method"] = self.method.name  # what --resume checks first

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

    def _diverged(self, step, at: int, what: str) -> ValueError:
        return ValueError(f"training stopped at global step {at} (epoch {self.current_epoch}, batch "
                          f"{self.batches_done}) in the {step.name!r} step: {what}; nothing of it was saved, "
                          f"{Path(self.config.out) / 'model'} keeps the last good export (try a lower learning "
                          f"rate, or check the data)")

    def _check_loss(self, step, at: int, loss: torch.Tensor) -> None:
        values = loss.detach().float().flatten()
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            raise self._diverged(step, at, f"its loss is {values[~finite][0].item()}")

    def _check_parameters(self, step, at: int) -> None:
        """A step's parameters after its update: one fused L2 norm per tensor (a NaN or inf in
        it makes its norm non-finite), one sync, about 1/30 of an Adam step's work. Only when
        a norm is not finite are the tensors checked exactly (huge finite weights can overflow
        a norm) and the first bad one named."""
        parameters = [p.detach() for p in step.parameters]
        if not parameters:
            return
        with torch.no_grad():
            norms = torch.stack(torch._foreach_norm(parameters))
        if bool(torch.isfinite(norms).all()):
            return
        bad = [p for p in step.parameters if not bool(torch.isfinite(p.detach()).all())]
        if not bad:
            return
        kinds = {"nan" if p.isnan().any() else "inf" for p in bad}
        name = self._names.get(id(bad[0]), "a parameter")
        raise self._diverged(step, at, f"the weight {name} became non-finite ({'/'.join(sorted(kinds))})"
                                       + (f", and {len(bad) - 1} more" if len(bad) > 1 else ""))

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
            at = self.global_step  # optimiser steps done before this one
            self.toggle_optimizer(optimizer)
            with self._no_sync():
                loss, step_logs, passed_on = step.run(batch, carry, progress=progress, generator=generator)
                self._check_loss(step, at, loss)
                optimizer.zero_grad(set_to_none=True)
                self.manual_backward(loss)
            self._average_gradients(step.parameters)
            optimizer.step()
            self._check_parameters(step, at)
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


def _keep(keys: tuple[str, ...], optional: tuple[str, ...] = ()):
    """A transform keeping the batch keys a method trains on (and the ``optional`` ones the
    data has); a missing key is an error naming what the data gives."""

    def keep(sample: dict) -> dict:
        missing = [key for key in keys if key not in sample]
        if missing:
            raise ValueError(f"the training data gives {', '.join(sorted(sample))}, but the method needs "
                             f"{', '.join(missing)} too")
        return {key: sample[key] for key in (*keys, *optional) if key in sample}

    return keep


def _datasets(config: TrainConfig, batch_keys: tuple[str, ...]):
    """(train, val): train is keyed by an :class:`~tinct.data.sampling.EpochSampler`'s
    ``(index, draw_seed)`` and augments each sample with its own seeded generator.

    Two batch keys are made here rather than read from the data: ``"tags"``, the multi-hot
    colour tags over :data:`tinct.data.tags.TAGS` of the colour image as trained on (after the
    crop and colour augmentation; ``skin_<tone>`` only while its colours are as drawn), and
    ``"skeleton_target"``, :func:`tinct.regions.region_skeleton` of the closed sketch (1, H, W).
    Gaps (``train.gaps``) open the ``"sketch"`` after both, so only the input is open."""
    from tinct.data.augment import joint_flip_crop
    from tinct.data.gaps import erase_gaps
    from tinct.data.recolor import hue_jitter, recolor_regions
    from tinct.data.sampling import SeededTransform
    from tinct.data.specs import open_dataset
    from tinct.data.tags import sample_tags, skin_tone_tags
    from tinct.regions import region_skeleton

    made = [key for key in ("tags", "skeleton_target") if key in batch_keys]
    needed = ("sketch", "color") if "tags" in made else ("sketch",) if made else ()
    read_keys = tuple(dict.fromkeys([*(key for key in batch_keys if key not in made), *needed]))
    recolor = config.recolor > 0 and "color" in batch_keys and "sketch" in batch_keys
    gaps = config.gaps > 0 and "sketch" in batch_keys
    metadata = ("skin_tone",) if "tags" in made else ()

    def reader(optional: tuple[str, ...]):
        keep = _keep(read_keys, optional=optional + metadata)

        def read(sample: dict) -> dict:
            sample = keep(sample)
            if metadata:  # every member of a mix then gives it, so the mix keeps it ("" = none)
                sample.setdefault("skin_tone", "")
            return sample

        return read

    def make_keys(sample: dict, *, as_drawn: bool) -> dict:
        if "tags" in made:
            extra = skin_tone_tags(sample["skin_tone"]) if as_drawn else ()
            sample["tags"] = sample_tags(sample["color"], sample["sketch"], extra=extra)
        if "skeleton_target" in made:
            sample["skeleton_target"] = region_skeleton(sample["sketch"][None])[0]
        return sample

    def augment(sample: dict, *, generator: torch.Generator) -> dict:
        if config.augment:
            sample = joint_flip_crop(sample, size=config.size, generator=generator)
        drawn = sample.get("color")
        if recolor and "regions" in sample:  # folders have no ground-truth regions: colours as drawn
            sample["color"] = recolor_regions(sample["color"], sample["sketch"], sample.pop("regions"),
                                              generator=generator, p=config.recolor)
        if config.hue_jitter > 0 and "color" in sample:
            sample["color"] = hue_jitter(sample["color"], generator=generator, p=config.hue_jitter)
        # recolor_regions and hue_jitter give their input back when they leave it as drawn
        sample = make_keys(sample, as_drawn=sample.get("color") is drawn)
        if gaps and float(torch.rand((), generator=generator)) < config.gaps:
            sample["sketch"] = erase_gaps(sample["sketch"], generator=generator)[0]
        return {key: value for key, value in sample.items() if key in batch_keys}

    read_val = reader(())

    def unaugmented(sample: dict) -> dict:
        sample = make_keys(read_val(sample), as_drawn=True)
        return {key: value for key, value in sample.items() if key in batch_keys}

    options = dict(size=config.size, sketch=config.sketch)
    train = open_dataset(config.data, split="train", limit=config.limit,
                         transform=reader(("regions",) if recolor else ()), **options)
    # the sample grid: the val split of a source (a folder's first images, unaugmented)
    val = open_dataset(config.data, split="val", limit=config.samples, transform=unaugmented, **options)
    return SeededTransform(train, augment), val


class DataModule(L.LightningDataModule):
    """Training images (shuffled, seeded) and a few fixed validation images for samples.

    The training loader's :class:`~tinct.data.sampling.EpochSampler` shards the data over
    the processes itself (so Lightning must not wrap it: see :func:`fit`). The module's
    ``state_dict`` (saved in every checkpoint) is where training stands in the data; after
    ``load_state_dict`` the loader starts in that epoch, after the batches already done.
    """

    def __init__(self, config: TrainConfig, batch_keys: tuple[str, ...] = ("sketch", "color")):
        super().__init__()
        self.config = config
        self.train, self.val = _datasets(config, batch_keys)
        self._resume: dict | None = None  # a checkpoint's state_dict, when resuming
        items = [self.val[i] for i in range(min(self.config.samples, len(self.val)))]  # read now: errors early
        self._samples = {key: torch.stack([item[key] for item in items]) for key in items[0]
                         if isinstance(items[0][key], torch.Tensor)}  # a mix also names each sample's source

    def _processes(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _layout(self) -> dict[str, int]:
        """What the order of the batches depends on, besides the epoch."""
        return {"images": len(self.train), "batch_size": self.config.batch_size, "seed": self.config.seed,
                "processes": self._processes()[1]}

    def train_dataloader(self):
        from tinct.data.sampling import EpochSampler

        rank, world = self._processes()
        sampler = EpochSampler(len(self.train), batch_size=self.config.batch_size, seed=self.config.seed, rank=rank,
                               world_size=world)
        if self._resume is not None:
            saved = {key: self._resume.get(key) for key in self._layout()}
            if saved == self._layout():
                sampler.resume_at(self._resume["epoch"], self._resume["batches"])
            else:
                log.warning("the data changed since the checkpoint (%s then, %s now): the resumed epoch does not "
                            "repeat the original order", saved, self._layout())
        return torch.utils.data.DataLoader(
            self.train, batch_size=self.config.batch_size, sampler=sampler, drop_last=len(sampler) > self.config.batch_size,
            num_workers=self.config.num_workers, persistent_workers=self.config.num_workers > 0,
            generator=torch.Generator().manual_seed(self.config.seed),  # worker seeds: never the global generator
        )

    def state_dict(self) -> dict:
        """The epoch and how many of its batches are trained on, as Lightning's loop counts them
        (the loader itself runs a batch ahead); saved at an epoch's last batch, the next epoch."""
        trainer = self.trainer
        if trainer is None or not math.isfinite(trainer.num_training_batches):
            return {}
        epoch = trainer.current_epoch
        batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if batches >= trainer.num_training_batches:
            epoch, batches = epoch + 1, 0
        return {"epoch": int(epoch), "batches": int(batches), **self._layout()}

    def load_state_dict(self, state: dict) -> None:
        self._resume = dict(state) if state else None

    def sample_batch(self) -> dict:
        """The validation images of the per-epoch sample grid, unaugmented."""
        return self._samples


def _non_finite(module: torch.nn.Module) -> str | None:
    """The name of the first floating-point tensor of ``module``'s state that is not finite."""
    return next((name for name, tensor in module.state_dict().items()
                 if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())), None)


class SamplesAndExport(L.Callback):
    """Each epoch: a sample grid PNG; every ``checkpoint_every`` steps and at the end: the
    exported weights (config.json + model.safetensors) under ``out/model``. Weights that are
    not finite are never exported over the folder (:class:`MethodModule` stops training first)."""

    def __init__(self, config: TrainConfig, sample_batch: dict | None = None):
        self.config = config
        self.sample_batch = sample_batch  # None: the datamodule's, read at setup
        self.out = Path(config.out)

    def setup(self, trainer, module, stage: str) -> None:
        if self.sample_batch is None:
            self.sample_batch = trainer.datamodule.sample_batch()

    def _export(self, trainer, module: MethodModule) -> None:
        if trainer.is_global_zero:
            bad = _non_finite(module.method)
            if bad is not None:
                raise ValueError(f"not exporting to {self.out / 'model'}: the weight {bad} is not finite "
                                 f"(the folder keeps the last good export)")
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


def _first_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str | None:
    """The first key that is missing from ``found``, has another shape there, or is unknown."""
    for key, tensor in expected.items():
        if key not in found:
            return f"it has no {key}"
        if tuple(found[key].shape) != tuple(tensor.shape):
            return f"{key} is {tuple(found[key].shape)} there but {tuple(tensor.shape)} in the model"
    unknown = next((key for key in found if key not in expected), None)
    return f"it has {unknown}, which the model has not" if unknown is not None else None


def _load_init(method, folder: Path) -> None:
    """Start from the weights exported to ``folder`` (``--init``): they must fit exactly."""
    from safetensors import SafetensorError, safe_open

    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"--init: no {weights}")
    try:
        with safe_open(str(weights), framework="pt") as file:
            saved_method = (file.metadata() or {}).get("method")
            state = {key: file.get_tensor(key) for key in file.keys()}
    except (SafetensorError, OSError) as error:
        raise ValueError(f"--init: cannot read {weights} (corrupt or truncated?): {_first_line(error)}") from None
    problem = _first_mismatch(method.state_dict(), state)
    if problem is not None:
        of = f" (they are {saved_method} weights)" if saved_method and saved_method != method.name else ""
        raise ValueError(f"--init: the weights in {folder} do not fit {method.name} with these model settings{of}: "
                         f"{problem}")
    method.load_state_dict(state)
    log.info("starting from the weights in %s", weights)


def _checkpoint_path(resume: str | None, out: Path) -> Path | None:
    """The checkpoint ``resume`` names (``"auto"``: ``out/checkpoints/last.ckpt`` if any, or the
    newest ``last-vN.ckpt`` beside it)."""
    if not resume:
        return None
    if resume == "auto":
        # the newest of last.ckpt and any last-vN.ckpt an earlier version of tinct let Lightning write
        found = sorted((out / "checkpoints").glob("last*.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            log.warning("no checkpoint at %s: starting from scratch", out / "checkpoints" / "last.ckpt")
            return None
        return found[-1]
    path = Path(resume)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint {path} to resume from")
    if path.is_dir():
        last = path / "checkpoints" / "last.ckpt"
        hint = f" such as {last}" if last.is_file() else ""
        raise ValueError(f"--resume {path} is a folder; give a Lightning checkpoint file{hint}, or --resume auto")
    return path


def _check_checkpoint(path: Path, module: MethodModule, method_name: str) -> None:
    """ValueError unless ``path`` is a Lightning training checkpoint of this method and model
    config; a warning when an earlier version wrote it (it resumes, but not exactly)."""
    import pickle
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ValueError(f"--resume {path} is not a Lightning checkpoint (not a PyTorch zip archive)")
    try:  # what Lightning will load; mmap: the tensors are not read, only their shapes
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        raise ValueError(f"--resume {path} is not a Lightning checkpoint (it holds Python objects other than "
                         f"tensors and plain values)") from None
    except (RuntimeError, OSError, ValueError, EOFError) as error:
        raise ValueError(f"--resume {path} is not a readable checkpoint: {_first_line(error)}") from None
    missing = [key for key in ("state_dict", "optimizer_states", "loops")
               if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise ValueError(f"--resume {path} is not a Lightning training checkpoint (it has no {', '.join(missing)})")
    saved_method = checkpoint.get("tinct_method")
    if saved_method is not None and saved_method != module.method.name:
        raise ValueError(f"--resume {path} is a checkpoint of {saved_method}, not {method_name}")
    problem = _first_mismatch(module.state_dict(), checkpoint["state_dict"])
    if problem is not None:
        raise ValueError(f"--resume {path} does not fit {method_name} with these model settings: {problem}")
    if DataModule.__qualname__ not in checkpoint:
        log.warning("%s was written by an earlier version of tinct: it resumes, but not exactly like an "
                    "uninterrupted run (the data order of its epoch starts over)", path)


def _trainer(config: TrainConfig, *, fast_dev_run: bool, callbacks: tuple) -> L.Trainer:
    """The Lightning trainer; its errors on accelerator/devices/strategy/precision as one line."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    out = Path(config.out)
    loggers = [CSVLogger(out, name="logs")]  # a resumed run logs into a new version folder
    try:
        loggers.append(TensorBoardLogger(out, name="tensorboard"))
    except ModuleNotFoundError:
        log.warning("tensorboard is not installed: logging to CSV only")
    # every checkpoint_every steps: step=N.ckpt (all kept, or the newest keep_checkpoints) and last.ckpt
    # (what --resume auto reads)
    keep = dict(monitor="step", mode="max", save_top_k=config.keep_checkpoints) if config.keep_checkpoints else {}
    # enable_version_counter off: last.ckpt is overwritten, never written beside as last-v1.ckpt (Lightning
    # versions it when a resumed run's checkpoint settings differ, and --resume auto would then read a stale one)
    checkpoints = [ModelCheckpoint(dirpath=out / "checkpoints", filename="{step}", every_n_train_steps=config.checkpoint_every,
                                   save_last=True, enable_version_counter=False, **({"save_top_k": -1} | keep))
                   ] if config.checkpoint_every > 0 else []
    try:
        return L.Trainer(
            accelerator=config.accelerator, devices=config.devices, strategy=config.strategy,
            precision=config.precision, max_epochs=config.epochs, max_steps=config.max_steps,
            max_time=None if config.max_minutes is None else timedelta(minutes=config.max_minutes),
            deterministic=config.deterministic, logger=loggers, callbacks=[*checkpoints, SamplesAndExport(config), *callbacks],
            enable_checkpointing=bool(checkpoints), fast_dev_run=fast_dev_run, log_every_n_steps=10,
            enable_progress_bar=True, default_root_dir=out,
            use_distributed_sampler=False,  # the EpochSampler shards the data over the processes itself
        )
    except (ValueError, TypeError, MisconfigurationException) as error:
        raise ValueError(f"cannot train with accelerator={config.accelerator!r}, devices={config.devices!r}, "
                         f"strategy={config.strategy!r}, precision={config.precision!r}: {_first_line(error)}") from None


def fit(method_name: str, config: TrainConfig, model_overrides: dict | None = None, *, resume: str | None = None,
        fast_dev_run: bool = False, callbacks: tuple = ()) -> Path:
    """Train ``method_name``; returns the exported model folder (``config.out/model``).

    ``resume``: a Lightning checkpoint path, or ``"auto"`` for ``out/checkpoints/last.ckpt``;
    resuming from any checkpoint gives what the uninterrupted run gives (exactly, on CPU).
    ``callbacks``: more Lightning callbacks (progress probes, early stopping, ...).
    Everything is checked before training starts: the settings, the checkpoint, ``--init``.
    """
    config.validate()
    out = Path(config.out)
    ckpt_path = _checkpoint_path(resume, out)
    trainer = _trainer(config, fast_dev_run=fast_dev_run, callbacks=callbacks)
    L.seed_everything(config.seed, workers=True, verbose=False)
    method = build_method(method_name, model_overrides)
    if config.init:
        _load_init(method, Path(config.init))
    module = MethodModule(method, config)
    if ckpt_path is not None:
        _check_checkpoint(ckpt_path, module, method_name)
    data = DataModule(config, tuple(method.batch_keys))
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with warnings.catch_warnings():  # the DataModule's state makes the loader resumable; Lightning cannot tell
        warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
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
