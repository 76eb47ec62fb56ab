"""Edge enhancement (Kim et al., "Deep Edge-Aware Interactive Colorization against
Color-Bleeding Effects", ICCV 2021): small add-on networks that correct a frozen hint-based
colorizer's encoder features where the user scribbles over an edge that colour bled across.

The paper (§3): a pre-trained colorization network is frozen. At ``l`` encoder layers, shallow
and deep (§3.3, Fig. 4 d), an edge-enhancing network E_i reads the scribble S resized to the
layer and the activation map A_i, and its output is added back: ``Ã_i = A_i + E_i([S, A_i])``
(eq. 1); the following layers read Ã_i. Training uses pseudo-scribbles (§3.2,
:mod:`tinct.data.scribbles`: Canny on the a/b channels of the ground truth and of the frozen
colorizer's output, one edge the output lost, thickened to 1-11 px) and three losses (§3.4):

- ``L_edge`` (eq. 3): the squared difference between the colour gradients (eq. 2: Sobel
  magnitude of the a and b channels, :func:`tinct.losses.ab_sobel`) of the output and of the
  ground truth, averaged over the pixels of a mask M around the scribble;
- ``L_reg_i`` (eq. 4): ``||E_i([S, A_i])||²`` per layer;
- ``L_con`` (eq. 5): the same gradient difference between the output and the frozen
  colorizer's own output, over the pixels outside M;
- ``L = λ_edge L_edge + Σ_i λ_reg L_reg_i + λ_con L_con`` (eq. 6).

The backbone is tinct's point-hint colorizer (:mod:`tinct.methods.point_hints`; the shipped
``point_hints`` by default): like the paper's Zhang et al. backbone it takes point hints, and
the paper finds that add-ons over a hint-based model train better than over an unconditional
one (§3.5). Its parameters are excluded from the optimiser and do not require gradients, its
BatchNorm layers stay in eval mode whatever mode this model is put in, and a checkpoint of this
method holds only the add-ons plus the backbone's name (``Config.backbone``, a shipped model's
name or a checkpoint folder) and the SHA-256 of its weights file: loading rebuilds the backbone
from there and refuses a backbone whose weights changed (the add-ons were trained on its
features). ``backbone: "inline"`` instead builds a fresh point-hint U-Net from ``base_channels``
and ``depth`` and saves it with the add-ons (the tests' tiny models).

Choices the paper leaves open (no code is public but the metric's), with the reason for each:

- **Lab**: the paper's backbone predicts ab from L; ours predicts RGB. The backbone is not
  retrained: the Sobel terms are taken on the a/b channels of its RGB output converted to
  CIELAB (kornia), so ``L_edge`` and ``L_con`` are the paper's formulas on the same colour
  quantity (a/b divided by 110, about [-1, 1]); only the way the network produces colour differs;
- **layers**: every encoder level but the bottleneck (``levels = ()``: 0 … depth − 1), i.e. for
  the shipped backbone (16 base channels, 4 levels) the maps after ``inc`` (16 ch, full
  resolution), and after the first three poolings (32 ch at 1/2, 64 at 1/4, 128 at 1/8). The
  bottleneck (1/16: 8 × 8 cells at 128 px) is too coarse to place an edge;
- **E_i**: 3×3 conv (C_i + 1 → h_i), ReLU, 3×3 conv (h_i → C_i), ``h_i = min(C_i,
  hidden_channels)``; the last conv starts at zero, so the untrained add-ons change nothing
  and training starts from the backbone's output;
- **resizing S**: max-pooling by 2^i (the scribble padded like the U-Net's input), so a 1-px
  scribble survives at every level and the map stays binary ("down-scale" in the paper);
- **mask M**: the pixels within a ``mask_window`` × ``mask_window`` box (7: the K of the
  evaluation) of the scribble's pixels;
- **norms**: ``L_reg_i`` is the mean of the squared correction over its elements (a sum would
  scale with the layer's size), and both masked losses are per-pixel means over the batch's
  masked pixels (eqs. 3, 5 are expectations over P);
- **loss weights** (the paper gives none): λ_edge = λ_con = 1 (one quantity on complementary
  pixels) and λ_reg = 0.1 for every layer, a guess: over the first 200 batches on the mixed
  data (128 px) L_edge stays ≈ 0.45, L_con ≈ 0.03 and Σ_i L_reg_i grows from 0 to ≈ 0.02, so
  the regulariser matters once the add-ons have learnt their corrections (fitting one batch,
  L_edge falls to 0.015 while Σ L_reg reaches 0.04);
- **optimiser**: Adam, lr 2e-4, β = (0.9, 0.999) (the backbone's; the paper gives none);
- **hints in training**: the backbone's own hint distribution (RTUG's geometric point hints,
  p = 1/8); the pseudo-scribble is found on the backbone's output with those hints;
- **no scribble**: an image whose scribble is empty bypasses the add-ons at inference, so
  the model then gives the backbone's output exactly (a batch with no scribble at all runs
  the backbone alone, bit for bit; in a batch that mixes, the images without keep their
  activation maps unchanged). The paper computes ``E([0, A])`` and relies on ``L_reg`` and
  ``L_con`` to make it small; training here does the same (the bypass is off in the training
  step), so the add-ons also learn to stay quiet without a scribble.

Sizes: over the shipped backbone (1.08 M parameters in its U-Net) the four add-ons hold 0.25 M
(4.8 k, 18.8 k, 74.4 k and 148.2 k, full resolution to 1/8); about 0.5 s per training batch of 8
at 128 px on one (shared) CPU core under bf16 autocast, 0.7 s in float32. Lightning warns at the
start of training that modules are in eval mode: those are the backbone's, on purpose.

The Table 3 ablations are config switches: ``weight_con = 0`` (without L_con), ``weight_reg =
0`` (without L_reg), ``width_augmentation = false`` (the 1-px edge as the scribble).
Training batches need only ``sketch`` and ``color``: the pseudo-scribbles are made inside the
training step from ``batch["color"]`` and the frozen backbone's output, which only the model
has (the data pipeline never runs a network).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tinct.data.hints import random_points, sample_point_hints
from tinct.data.scribbles import TRAIN_WIDTHS, pseudo_scribble
from tinct.losses import ab_sobel, masked_squared_error
from tinct.methods.base import Guidance, Inputs, Method, Step, cpu_generator
from tinct.methods.checks import check_batch, check_hints
from tinct.methods.point_hints import Config as PointHintsConfig
from tinct.methods.point_hints import PointHints

INLINE = "inline"  # Config.backbone: a fresh point-hint U-Net saved with the add-ons


@dataclass
class Config:
    """Edge-enhancement hyper-parameters; the paper's where it gives them (module docstring for
    every choice it leaves open)."""

    method: str = "edge_enhance"
    backbone: str = "point_hints"  # a shipped point-hint model's name or checkpoint folder; "inline": built here
    backbone_sha256: str = ""  # SHA-256 of the backbone's model.safetensors, recorded at build, checked at load
    base_channels: int | None = None  # the backbone's; None: read from it ("inline": 64)
    depth: int | None = None  # the backbone's pooling levels; None: read from it ("inline": 4)
    levels: tuple[int, ...] = ()  # encoder levels with an add-on (0 = full resolution); (): 0 ... depth - 1
    hidden_channels: int = 64  # E_i's hidden width is min(C_i, hidden_channels)
    weight_edge: float = 1.0
    weight_reg: float = 0.1  # per layer; 0: Table 3's "w/o L_reg"
    weight_con: float = 1.0  # 0: Table 3's "w/o L_con"
    width_augmentation: bool = True  # scribbles 1-11 px wide in training; false: the 1-px edge (Table 3's "w/o aug")
    mask_window: int = 7  # M: pixels within this box of the scribble (L_edge inside, L_con outside)
    hint_p: float = 0.125  # the backbone's training hints (geometric number, RTUG)
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        if not isinstance(self.backbone, str) or not self.backbone.strip():
            raise ValueError(f"backbone must name a point-hint model (a shipped name or a folder) or be "
                             f"{INLINE!r}, got {self.backbone!r}")
        for name in ("base_channels", "depth"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1 or None, got {value!r}")
        self.levels = tuple(self.levels)
        if any(isinstance(level, bool) or not isinstance(level, int) or level < 0 for level in self.levels) or \
                len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels must be distinct encoder levels >= 0, got {list(self.levels)}")
        if self.hidden_channels < 1:
            raise ValueError(f"hidden_channels must be >= 1, got {self.hidden_channels}")
        negative = [f"{name}={getattr(self, name)}" for name in ("weight_edge", "weight_reg", "weight_con")
                    if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {', '.join(negative)}")
        if self.mask_window < 1 or self.mask_window % 2 == 0:
            raise ValueError(f"mask_window must be a positive odd number, got {self.mask_window}")
        if not 0.0 < self.hint_p <= 1.0:
            raise ValueError(f"hint_p must be in (0, 1], got {self.hint_p}")
        self.betas = tuple(self.betas)

    @property
    def train_widths(self) -> tuple[int, int]:
        """Scribble widths in training, px (inclusive)."""
        return TRAIN_WIDTHS if self.width_augmentation else (1, 1)


# ----------------------------------------------------------------------------- the backbone


def _weights_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def load_backbone(config: Config) -> tuple[PointHints, Config]:
    """The frozen point-hint colorizer ``config`` names, and ``config`` with what was read from
    it filled in (base_channels, depth, levels, backbone_sha256). Raises ValueError for a model
    that is not a point-hint one, sizes that contradict it, or weights other than recorded."""
    from tinct.methods.pretrained import find_model, load_model

    if config.backbone == INLINE:
        base, depth = config.base_channels or 64, config.depth or 4
        backbone, digest = PointHints(PointHintsConfig(base_channels=base, depth=depth, hint_p=config.hint_p)), ""
    else:
        folder = find_model(config.backbone)
        backbone = load_model(folder)
        if not isinstance(backbone, PointHints):
            raise ValueError(f"edge enhancement needs a point-hint backbone; {config.backbone} is a "
                             f"{getattr(backbone, 'name', type(backbone).__name__)} model")
        digest = _weights_digest(folder)
        if config.backbone_sha256 and config.backbone_sha256 != digest:
            raise ValueError(f"the backbone {config.backbone} ({folder}) is not the one these add-ons were trained on: "
                             f"its weights have SHA-256 {digest[:12]}…, the checkpoint records "
                             f"{config.backbone_sha256[:12]}… (train the add-ons again on it)")
        base, depth = backbone.config.base_channels, backbone.config.depth
        given = {"base_channels": config.base_channels, "depth": config.depth}
        wrong = [f"{name}={value}" for name, value in given.items()
                 if value is not None and value != getattr(backbone.config, name)]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} contradicts the backbone {config.backbone} (base_channels="
                             f"{base}, depth={depth}); these settings shape only an {INLINE!r} backbone")
    levels = config.levels or tuple(range(depth))
    if max(levels) > depth:
        raise ValueError(f"levels {list(levels)}: the backbone's encoder has levels 0 ... {depth}")
    del backbone.discriminator  # only the colorization U-Net runs here
    backbone.requires_grad_(False)
    return backbone.eval(), dataclasses.replace(config, base_channels=base, depth=depth, levels=tuple(levels),
                                                backbone_sha256=digest)


# ----------------------------------------------------------------------------- the add-ons


class EdgeAddOn(nn.Module):
    """E_i: ``concat(S_i, A_i) (B, C + 1, h, w) -> correction (B, C, h, w)``: 3×3 conv, ReLU,
    3×3 conv; the last conv starts at zero (the add-on starts as no change)."""

    def __init__(self, *, channels: int, hidden_channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.inner = nn.Conv2d(channels + 1, hidden_channels, kernel_size=3, padding=1)
        self.outer = nn.Conv2d(hidden_channels, channels, kernel_size=3, padding=1)
        nn.init.zeros_(self.outer.weight)
        nn.init.zeros_(self.outer.bias)

    def forward(self, scribble: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([scribble.to(features.dtype), features], dim=1)  # (B, C + 1, h, w)
        return self.outer(F.relu(self.inner(inputs)))


def scribble_pyramid(scribbles: torch.Tensor, level: int, size: tuple[int, int]) -> torch.Tensor:
    """The scribble at an encoder level: (B, 1, H, W) padded with zeros at the bottom/right to
    ``size * 2**level`` (the U-Net's padded input), then max-pooled by ``2**level`` -> (B, 1, *size)."""
    scale = 2**level
    bottom, right = size[0] * scale - scribbles.shape[-2], size[1] * scale - scribbles.shape[-1]
    if bottom < 0 or right < 0:
        raise ValueError(f"a level-{level} map of {size} cannot hold a scribble of {tuple(scribbles.shape[-2:])}")
    padded = F.pad(scribbles, (0, right, 0, bottom))
    return padded if scale == 1 else F.max_pool2d(padded, scale)


# ----------------------------------------------------------------------------- the method


class EdgeEnhance(Method):
    """Add-on networks over the encoder of a frozen point-hint colorizer (module docstring).

    Inference methods do not switch modes: call ``.eval()`` first (``from_pretrained`` returns
    the model in eval mode). The backbone stays in eval mode in either.
    """

    name = "edge_enhance"
    config_class = Config
    guidance = Guidance(points=True, scribbles=True)
    protocol = "scribbles"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        backbone, self.config = load_backbone(config if config is not None else Config())
        self.backbone = backbone
        widths = backbone.colorizer.widths
        self.levels = self.config.levels
        self.addons = nn.ModuleList(
            EdgeAddOn(channels=widths[level], hidden_channels=min(widths[level], self.config.hidden_channels))
            for level in self.levels
        )
        self._slot = {level: index for index, level in enumerate(self.levels)}
        self._saves_backbone = self.config.backbone == INLINE
        self._backbone_keys = {f"backbone.{key}" for key in backbone.state_dict()}
        self.register_load_state_dict_post_hook(EdgeEnhance._backbone_not_missing)

    # -- the frozen backbone

    def train(self, mode: bool = True) -> EdgeEnhance:
        super().train(mode)
        self.backbone.eval()  # its BatchNorm statistics never change
        return self

    def addon_parameters(self) -> list[nn.Parameter]:
        """What training optimises: the add-ons' parameters (never the backbone's)."""
        return list(self.addons.parameters())

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """The add-ons' state; the backbone's too only when it is ``inline`` (a named backbone
        is loaded from its own folder)."""
        state = super().state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        if not self._saves_backbone:
            for key in [key for key in state if key.startswith(prefix + "backbone.")]:
                del state[key]
        return state

    @staticmethod
    def _backbone_not_missing(module: EdgeEnhance, incompatible) -> None:
        """A named backbone's weights are not expected in a state dict (they come from its folder)."""
        if module._saves_backbone:
            return
        missing = incompatible.missing_keys
        for key in list(missing):
            start = key.find("backbone.")
            if start >= 0 and (start == 0 or key[start - 1] == ".") and key[start:] in module._backbone_keys:
                missing.remove(key)

    # -- forward

    def enhance(self, sketch: torch.Tensor, hint_colors: torch.Tensor, hint_mask: torch.Tensor,
                scribbles: torch.Tensor, *, bypass_empty: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The backbone with the add-ons: ``(output, corrections)``.

        sketch (B, 1, H, W) in [0, 1]; hint_colors (B, 3, H, W), hint_mask (B, 1, H, W) as for
        :class:`~tinct.methods.point_hints.PointHints`; scribbles (B, 1, H, W) in {0, 1}.
        bypass_empty: images without a scribble keep the backbone's activation maps (and a batch
        without any scribble runs the backbone alone); off in training (the paper's E([0, A])).
        Returns the RGB output (B, 3, H, W) in [0, 1] and E_i's outputs, one per level with an
        add-on (empty when bypassed).
        """
        check_hints(sketch, hint_colors, hint_mask)
        if scribbles.shape != hint_mask.shape:
            raise ValueError(f"scribbles must be (B, 1, H, W) = {tuple(hint_mask.shape)}, got {tuple(scribbles.shape)}")
        active = scribbles.flatten(1).amax(dim=1) > 0  # (B,)
        if bypass_empty and not bool(active.any()):
            return self.backbone(sketch, hint_colors, hint_mask), []
        keep = active[:, None, None, None]
        corrections: list[torch.Tensor] = []

        def hook(level: int, features: torch.Tensor) -> torch.Tensor:
            if level not in self._slot:
                return features
            scribble = scribble_pyramid(scribbles, level, tuple(features.shape[-2:]))
            correction = self.addons[self._slot[level]](scribble, features)
            corrections.append(correction)
            refined = features + correction  # eq. 1
            return torch.where(keep, refined, features) if bypass_empty else refined

        return self.backbone(sketch, hint_colors, hint_mask, encoder_hook=hook), corrections

    def forward(self, sketch: torch.Tensor, hint_colors: torch.Tensor, hint_mask: torch.Tensor,
                scribbles: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) in [0, 1]: :meth:`enhance`'s output (images without a scribble: the
        backbone's)."""
        return self.enhance(sketch, hint_colors, hint_mask, scribbles)[0]

    # -- training

    def losses(self, batch: dict, *, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, dict[str, float], dict[str, torch.Tensor]]:
        """Eq. 6 on one batch with fresh point hints and pseudo-scribbles.

        batch: ``"sketch"`` (B, 1, H, W) and ``"color"`` (B, 3, H, W) in [0, 1]. Returns
        ``(loss, logs, out)``: logs the total and the unweighted ``edge``, ``reg`` (summed over
        the layers), ``con``, and ``scribbled`` (the share of images with a bleeding edge);
        out: ``"output"``, ``"initial"`` (the backbone's) and ``"scribbles"``.
        """
        sketch, target = check_batch(batch)
        config = self.config
        draws = cpu_generator(generator)
        hint_colors, hint_mask = sample_point_hints(target, p=config.hint_p, generator=draws)
        with torch.no_grad():
            initial = self.backbone(sketch, hint_colors, hint_mask).float()
        scribbles = pseudo_scribble(target.float(), initial, width_range=config.train_widths, generator=draws)
        output, corrections = self.enhance(sketch, hint_colors, hint_mask, scribbles, bypass_empty=False)
        near = (F.max_pool2d(scribbles, config.mask_window, stride=1, padding=config.mask_window // 2) > 0).float()
        gradient = ab_sobel(output)
        edge = masked_squared_error(gradient, ab_sobel(target), near)  # eq. 3
        con = masked_squared_error(gradient, ab_sobel(initial), 1.0 - near)  # eq. 5
        reg = sum(correction.float().pow(2).mean() for correction in corrections)  # eq. 4, summed over i
        loss = config.weight_edge * edge + config.weight_reg * reg + config.weight_con * con
        logs = {"loss": float(loss.detach()), "edge": float(edge.detach()), "reg": float(reg.detach()),
                "con": float(con.detach()), "scribbled": float((scribbles.flatten(1).amax(1) > 0).float().mean())}
        return loss, logs, {"output": output, "initial": initial, "scribbles": scribbles}

    def training_steps(self) -> list[Step]:
        """One step: the add-ons' optimiser; the backbone is frozen."""

        def run(batch, carry, *, progress, generator):
            loss, logs, _ = self.losses(batch, generator=generator)
            return loss, logs, {}

        return [Step("addons", self.addon_parameters(), run, lr=self.config.lr, betas=tuple(self.config.betas))]

    # -- inference

    @torch.no_grad()
    def paint(self, inputs: Inputs) -> torch.Tensor:
        """The sketch painted from its point hints and scribbles (none: the backbone's output)."""
        hint_colors, hint_mask = inputs.hints_or_none()
        scribbles = inputs.scribbles if inputs.scribbles is not None else torch.zeros_like(hint_mask)
        return self(inputs.sketch, hint_colors, hint_mask, scribbles.to(hint_mask))

    def hint_policy(self, batch: dict, prepared: dict, *, max_hints: int,
                    generator: torch.Generator | None = None):
        """The backbone's: random points (:func:`tinct.data.hints.random_points`)."""
        _, target = check_batch(batch)
        return random_points(target, max_hints=max_hints, generator=cpu_generator(generator))
