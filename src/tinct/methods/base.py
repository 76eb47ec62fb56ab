"""The method contract: what every colorization method declares, and what it provides.

Everything outside :mod:`tinct.methods` (the Colorizer, the CLI, evaluation, training, the
app) reads these declarations and never tests a method's name:

- :class:`Guidance` — the guidance a method takes (ranked regions, points/strokes, a
  reference picture, colour tags with their vocabulary, a style code, scribbles) and which
  of it is required;
- ``protocol`` — the evaluation protocol of :mod:`tinct.evaluate` that fits it
  (``"hints"``, ``"reference"``, ``"tags"``, ``"styles"``);
- ``batch_keys`` — the keys its training batches must carry (``"sketch"`` and ``"color"``
  always; region maps, tags, ... when the method needs them);
- :meth:`Method.prepare` / :meth:`Method.paint` — inference on network-size tensors
  (:class:`Inputs`), the guidance already validated and rasterised by the caller;
- :meth:`Method.training_steps` — the optimisation steps :mod:`tinct.train` runs on every
  batch, in order (:class:`Step`: G then D; a first phase then a second; one add-on
  optimiser over a frozen backbone).

:class:`GANMethod` adds what the GAN methods share: the sketch-conditioned discriminator
step, and the two default steps (generator, then discriminator).

A checkpoint folder is ``config.json`` + ``model.safetensors`` (:mod:`tinct.methods.pretrained`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from tinct.color import to_signed
from tinct.losses import conditional_discriminator_loss
from tinct.methods.checks import check_batch
from tinct.methods.pretrained import load_pretrained, save_pretrained

# ----------------------------------------------------------------------------- declarations

#: every kind of guidance, in the order messages list them, with the words they use
GUIDANCE_KINDS: dict[str, str] = {
    "regions": "colours for ranked regions",
    "points": "points, strokes",
    "reference": "a reference image",
    "tags": "colour tags",
    "style": "a style",
    "scribbles": "scribbles",
}


@dataclass(frozen=True)
class Guidance:
    """What a method accepts.

    regions: it ranks regions and takes one colour per ranked region (GuidingPainter);
    points: point and stroke hints; reference: a reference picture; tags: its colour-tag
    vocabulary (empty: takes no tags); style_dim: size of its style code (0: takes no
    style); scribbles: scribbles over bleeding edges; required: kinds a request must give
    (``("reference",)`` for a method that cannot paint without one).
    """

    regions: bool = False
    points: bool = False
    reference: bool = False
    tags: tuple[str, ...] = ()
    style_dim: int = 0
    scribbles: bool = False
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.required) - set(GUIDANCE_KINDS))
        if unknown or any(not self.accepts(kind) for kind in self.required):
            raise ValueError(f"required kinds must be accepted kinds of {sorted(GUIDANCE_KINDS)}, got {self.required}")
        if self.style_dim < 0:
            raise ValueError(f"style_dim must be >= 0, got {self.style_dim}")

    def accepts(self, kind: str) -> bool:
        """Whether this guidance includes ``kind`` (a key of :data:`GUIDANCE_KINDS`)."""
        if kind not in GUIDANCE_KINDS:
            raise ValueError(f"unknown kind of guidance {kind!r}; kinds: {', '.join(GUIDANCE_KINDS)}")
        return {"regions": self.regions, "points": self.points, "reference": self.reference,
                "tags": bool(self.tags), "style": self.style_dim > 0, "scribbles": self.scribbles}[kind]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The accepted kinds, in :data:`GUIDANCE_KINDS` order."""
        return tuple(kind for kind in GUIDANCE_KINDS if self.accepts(kind))

    def describe(self) -> str:
        """What it takes, in words: ``"points, strokes"``; ``"no guidance"`` when nothing."""
        return ", ".join(GUIDANCE_KINDS[kind] for kind in self.kinds) or "no guidance"


@dataclass(frozen=True)
class Inputs:
    """One request at the network's size, as :meth:`Method.paint` receives it.

    sketch: (B, 1, S, S) in [0, 1] (1 = paper); hint_colors (B, 3, S, S) in [0, 1] and
    hint_mask (B, 1, S, S) in {0, 1} (points, strokes and filled ranked regions), or None;
    reference: (B, 3, S', S') in [0, 1] or None; tags: (B, T) multi-hot over the method's
    vocabulary or None; style: (B, style_dim) code or None; scribbles: (B, 1, S, S) in
    {0, 1} or None; prepared: what :meth:`Method.prepare` returned for this sketch.
    """

    sketch: torch.Tensor
    hint_colors: torch.Tensor | None = None
    hint_mask: torch.Tensor | None = None
    reference: torch.Tensor | None = None
    tags: torch.Tensor | None = None
    style: torch.Tensor | None = None
    scribbles: torch.Tensor | None = None
    prepared: dict = field(default_factory=dict)

    def hints_or_none(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(hint_colors, hint_mask)``, zeros (no hint) where none were given."""
        if (self.hint_colors is None) != (self.hint_mask is None):
            raise ValueError("give both hint_colors and hint_mask, or neither")
        if self.hint_colors is not None:
            return self.hint_colors, self.hint_mask
        batch, _, height, width = self.sketch.shape
        return self.sketch.new_zeros(batch, 3, height, width), self.sketch.new_zeros(batch, 1, height, width)


#: the style seed a style-based method paints with when none is given
DEFAULT_STYLE_SEED = 0


def style_from_seed(seed: int, style_dim: int) -> torch.Tensor:
    """The style code of ``seed``: (1, style_dim) float32 drawn from N(0, I) by a CPU generator
    seeded with it. The one map from a style seed to a code (the Colorizer, ``tinct colorize
    --style``, hint files, the ``styles`` protocol and a method's default all use it), so a
    seed names the same code everywhere and on every device."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"a style seed is a whole number in [0, 2**63), got {seed!r}")
    if style_dim < 1:
        raise ValueError(f"style_dim must be >= 1, got {style_dim}")
    return torch.randn(1, style_dim, generator=torch.Generator().manual_seed(seed))


StepRun = Callable[..., tuple[torch.Tensor, dict, dict]]


@dataclass(frozen=True)
class Step:
    """One optimisation step a method declares; :mod:`tinct.train` runs the active steps of
    every batch in order, each with its own Adam optimiser over ``parameters``.

    ``run(batch, carry, *, progress, generator) -> (loss, logs, carry_out)``: batch is the
    training batch (never written to); carry holds what earlier steps of this batch passed
    on (``carry_out`` of each is merged into it, e.g. the generator's fake image for the
    discriminator); progress is the fraction of training done; generator seeds the step's
    random draws. ``active = (start, end)``: the step runs while ``start <= progress < end``
    (phases). ``lr``/``betas``: its Adam settings (the learning rate decays with the
    trainer's schedule).
    """

    name: str
    parameters: list[nn.Parameter]
    run: StepRun
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    active: tuple[float, float] = (0.0, 1.0)

    def is_active(self, progress: float) -> bool:
        start, end = self.active
        return start <= progress < end or (end >= 1.0 and progress >= 1.0)


# ----------------------------------------------------------------------------- the base classes


def cpu_generator(generator: torch.Generator | None) -> torch.Generator | None:
    """The data samplers (point hints, references) draw on the CPU; a generator on another
    device (the trainer's per-step CUDA generator) seeds a CPU one, so draws stay reproducible."""
    if generator is None or generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return torch.Generator().manual_seed(seed)


class Method(nn.Module):
    """A colorization method (one file per paper under :mod:`tinct.methods`).

    Class attributes every subclass sets: ``name`` (the key of ``METHODS`` and of
    ``config.json``'s ``"method"``), ``config_class`` (its ``@dataclass Config``), ``guidance``
    (a :class:`Guidance`; a method whose vocabulary lives in its config overrides the
    property), ``protocol`` and, when it needs more than sketch and colour, ``batch_keys``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    guidance: Guidance = Guidance()
    protocol: ClassVar[str] = "hints"
    batch_keys: ClassVar[tuple[str, ...]] = ("sketch", "color")
    trainable: ClassVar[bool] = True

    @property
    def display_name(self) -> str:
        """The name reports use (a variant may say which, e.g. ``scft+skeleton``)."""
        return self.name

    # -- inference

    def prepare(self, sketch: torch.Tensor) -> dict:
        """Hint-independent work on the network-size sketch (B, 1, S, S), reused across
        updates. A method whose guidance has ``regions`` returns ``{"segments": (B, N, S, S)}``
        one-hot, channel i = the (i+1)-th region it asks about."""
        return {}

    def paint(self, inputs: Inputs) -> torch.Tensor:
        """The colours for ``inputs``: (B, 3, S, S) in [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} does not paint")

    def paint_details(self, inputs: Inputs) -> tuple[torch.Tensor, dict]:
        """:meth:`paint` and what a method can tell about how it painted (SCFT: its
        attention), in one pass. The default tells nothing."""
        return self.paint(inputs), {}

    def hint_policy(self, batch: dict, prepared: dict, *, max_hints: int,
                    generator: torch.Generator | None = None):
        """The ``hints`` protocol: the method's own way of giving k hints for ``batch``
        (with the ground truth ``batch["color"]``): returns ``k -> (hint_colors, hint_mask)``."""
        raise NotImplementedError(f"{type(self).__name__} has no hint policy")

    # -- training

    def training_steps(self) -> list[Step]:
        """The optimisation steps of one training batch, in order."""
        raise NotImplementedError(f"{type(self).__name__} declares no training steps")

    # -- checkpoints

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` to ``folder``."""
        return save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path):
        """Load a folder written by :meth:`save_pretrained`; the model is in eval mode."""
        return load_pretrained(cls, cls.config_class, folder)


class GANMethod(Method):
    """A method trained as a conditional GAN: a generator step, then a discriminator step.

    A subclass builds ``self.discriminator`` (scoring concat(sketch, image) in [-1, 1]), keeps
    its config (with ``weight_adv``, ``lr``, ``betas``, optionally ``lr_d``) in ``self.config``,
    and implements ``generator_step(batch, *, progress, generator) -> (loss, logs, carry)``
    with ``carry = {"fake": ..., "real": ...}`` (the image D must tell from the fake).
    """

    def generator_parameters(self) -> list[nn.Parameter]:
        """Everything but the discriminator."""
        skip = {id(p) for p in self.discriminator.parameters()}
        return [p for p in self.parameters() if id(p) not in skip]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())

    @property
    def discriminator_lr(self) -> float:
        """D's learning rate: the config's ``lr`` (SCFT gives D its own)."""
        return self.config.lr

    def discriminator_step(self, batch: dict, carry: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """LSGAN loss of D on ``carry["real"]`` vs ``carry["fake"].detach()``, conditioned on the
        sketch, times ``weight_adv`` as in the GuidingPainter code. Images (B, 3, H, W) in [0, 1]."""
        sketch, _ = check_batch(batch)
        real, fake = carry["real"], carry["fake"]
        if fake.shape != real.shape:
            raise ValueError(f"fake must be (B, 3, H, W) = {tuple(real.shape)}, got {tuple(fake.shape)}")
        loss = self.config.weight_adv * conditional_discriminator_loss(
            self.discriminator, to_signed(sketch), to_signed(real), to_signed(fake.detach())
        )
        return loss, {"loss_d": float(loss.detach())}

    def training_steps(self) -> list[Step]:
        config = self.config

        def generator(batch, carry, *, progress, generator):
            loss, logs, out = self.generator_step(batch, progress=progress, generator=generator)
            return loss, logs, {"fake": out["fake"].detach(), "real": out["real"]}

        def discriminator(batch, carry, *, progress, generator):
            loss, logs = self.discriminator_step(batch, carry)
            return loss, logs, {}

        betas = tuple(config.betas)
        return [Step("generator", self.generator_parameters(), generator, lr=config.lr, betas=betas),
                Step("discriminator", self.discriminator_parameters(), discriminator, lr=self.discriminator_lr,
                     betas=betas)]
