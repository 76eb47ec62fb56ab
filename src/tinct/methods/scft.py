"""SCFT (Lee et al., CVPR 2020): reference-based sketch colorization with augmented-self
references and a spatially corresponding feature transfer module.

Training (§3.2): the ground truth I gets a random colour shift per channel, a(I) = I_gt
(the target), and a thin-plate-spline warp of it is the reference I_r
(:func:`tinct.data.reference.make_reference`), whose exact correspondence supervises the
attention. The sketch encoder E_s and the reference encoder E_r (L conv layers each) give
activation maps that are pooled to the last layer's grid and concatenated, V (eq. 1). The
SCFT module attends from every sketch position to every reference position,
``A = softmax((W_q v_s)(W_k v_r)^T / sqrt(d_v))`` (eq. 2, scaled **before** the softmax)
and adds ``A (W_v v_r)`` to v_s (eqs. 3-4); residual blocks and a U-Net decoder with skips
from the sketch encoder give the colours (tanh). Losses (eq. 10): adversarial (D
conditioned on the sketch, cross-entropy, eq. 7) ×1, L1 ×30, similarity-based triplet
(eq. 5, margin 12) ×1, perceptual (relu{l}_1 of VGG19) ×0.01, style (Gram) ×50. Adam
β = (0.5, 0.999), lr G 1e-4, D 2e-4.

Region-skeleton variant (CWR "direct concatenation", ``Config.skeleton = True``): the
sketch encoder takes concat(sketch, skeleton), 2 channels instead of 1; nothing else
changes (the discriminator stays conditioned on the sketch alone). The skeleton is the
1-px boundary map of tinct's trapped-ball regions of the sketch
(:func:`tinct.regions.trapped_ball` + :func:`tinct.regions.skeleton`, ~1 ms per image at
128 px), computed inside the method from the sketch so that the training data, ``tinct
evaluate`` and inference need nothing extra; a batch may carry a precomputed
``"skeleton"`` (B, 1, H, W) to skip it. It is drawn as ink (boundary -1, elsewhere +1).

Choices the paper leaves open (its supplementary architecture table is not available;
DESIGN.md where it speaks):

- encoders: ``depth + 1`` levels of two 3×3 conv + BatchNorm + LeakyReLU(0.2) layers
  (L = 2 (depth + 1)); level l has ``base_channels * 2**l`` channels and starts with a
  stride-2 conv (l >= 1). The defaults (base 16, depth 4) give V on a 16×16 grid at
  256 px with d_v = 992 channels. BatchNorm, not InstanceNorm: an instance norm in E_r
  would erase the reference's mean colour, the very thing to transfer;
- φ (eq. 1) is average pooling by the exact factor; inputs whose sides are not multiples
  of ``2**depth`` are padded (replicate) and the output is cropped back. Training needs
  sides that are multiples (the triplet positives live on the unpadded grid);
- W_q, W_k, W_v are bias-free d_v × d_v linear maps, as written in eqs. 2-3;
- the context c (d_v channels) is projected by a 1×1 conv to the bottleneck width
  ``base_channels * 2**depth`` before the residual blocks (4 by default): residual blocks
  at d_v = 992 channels would hold ~70 M parameters. The decoder upsamples bilinearly
  (deterministic matrix form, :func:`tinct.nn.unet.upsample_bilinear`), concatenates the
  sketch encoder's level output and applies a double conv, level by level;
- triplet loss (eq. 5): every reference cell j whose centre samples inside the source
  (:func:`tinct.data.reference.correspondence_indices`) gives one triplet: anchor = the
  sketch query at the cell the TPS maps j to, positive = key j, negative = a key at
  another position of the same reference, drawn uniformly; S is the same scaled dot
  product as in the attention; the mean over triplets;
- L1 is computed in [-1, 1] (the networks' range, as the other methods do); the
  perceptual loss is the mean absolute difference per layer, summed over the five layers;
  the style loss compares Gram matrices normalised by C·H·W (mean absolute difference per
  layer, summed) — EdgeConnect's forms, which the paper cites for both;
- the discriminator is pix2pix's PatchGAN on concat(sketch, image) in [-1, 1] with the
  cross-entropy loss of eq. 7 (sum of the real and fake terms, no 1/2); the generator uses
  the non-saturating form; the real image shown to D is the appearance-shifted target;
- pix2pix normal initialisation (N(0, 0.02)) of every network;
- augmentation strength: colour offsets U(-0.2, 0.2), TPS on a 5×5 lattice with
  control-point jitter U(-0.1, 0.1) (tinct's reference defaults; the paper gives none).

Perceptual and style losses need ImageNet VGG19 weights (:mod:`tinct.nn.vgg`). When no
local file is found they are switched off and the reason is logged once; random weights
are never substituted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from tinct.color import from_signed, to_signed
from tinct.data.reference import correspondence_indices, make_reference
from tinct.losses import l1_loss
from tinct.methods.base import GANMethod, Guidance, Inputs, cpu_generator
from tinct.methods.checks import check_batch, check_sketch
from tinct.nn import NLayerDiscriminator, pix2pix_init_
from tinct.nn.unet import DoubleConv, pad_replicate, upsample_bilinear
from tinct.regions import region_skeleton

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- functional parts


def pool_to_last(features: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 1: V = [φ(f^1); ...; f^L], every map average-pooled to the last map's grid.

    features: (B, c_l, h_l, w_l), each side a multiple of the last map's side.
    Returns (B, sum_l c_l, h_L, w_L).
    """
    height, width = features[-1].shape[-2:]
    pooled = []
    for feature in features:
        if feature.shape[-2] % height or feature.shape[-1] % width:
            raise ValueError(f"feature map {tuple(feature.shape)} is not a multiple of the last grid {(height, width)}")
        factor = (feature.shape[-2] // height, feature.shape[-1] // width)
        pooled.append(feature if factor == (1, 1) else F.avg_pool2d(feature, factor))
    return torch.cat(pooled, dim=1)


def scaled_scores(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """S(q_i, k_j) = q_i · k_j / sqrt(d): query (B, N, d), key (B, M, d) -> (B, N, M)."""
    if query.ndim != 3 or key.ndim != 3 or query.shape[0] != key.shape[0] or query.shape[2] != key.shape[2]:
        raise ValueError(f"query (B, N, d) and key (B, M, d) must match, got {tuple(query.shape)}, {tuple(key.shape)}")
    return query @ key.transpose(1, 2) / query.shape[-1] ** 0.5


def spatial_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eqs. 2-3: ``A = softmax_j(S(q_i, k_j))`` (scaled before the softmax), ``v*_i = sum_j A_ij v_j``.

    query (B, N, d), key (B, M, d), value (B, M, d_v). Returns ``context (B, N, d_v)``,
    ``attention (B, N, M)`` (rows sum to 1) and ``scores (B, N, M)`` (before the softmax).
    """
    scores = scaled_scores(query, key)
    attention = scores.softmax(dim=-1)
    return attention @ value, attention, scores


def similarity_triplet_loss(
    scores: torch.Tensor,
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    margin: float = 12.0,
) -> torch.Tensor:
    """Eq. 5: mean over triplets t of ``max(0, -S[a_t, p_t] + S[a_t, n_t] + margin)``.

    scores: (B, N, M) scaled dot products, rows = sketch queries, columns = reference keys;
    anchor: (B, T) query indices in [0, N); positive, negative: (B, T) key indices in
    [0, M); valid: (B, T) bool (None: all). Returns a scalar (0 when no triplet is valid).
    """
    if scores.ndim != 3:
        raise ValueError(f"scores must be (B, N, M), got {tuple(scores.shape)}")
    batch, _, keys = scores.shape
    for name, index in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        if index.ndim != 2 or index.shape[0] != batch or index.shape != anchor.shape or index.is_floating_point():
            raise ValueError(f"{name} must be (B, T) integer indices with B = {batch}, got {tuple(index.shape)}")
    if valid is None:
        valid = torch.ones(anchor.shape, dtype=torch.bool, device=scores.device)
    elif valid.shape != anchor.shape:
        raise ValueError(f"valid must be (B, T) = {tuple(anchor.shape)}, got {tuple(valid.shape)}")
    # one 1-D gather over all (b, i, j): its backward is deterministic on CUDA (a 2-D one is not)
    flat = scores.reshape(-1)  # (B*N*M,)
    base = torch.arange(batch, device=scores.device)[:, None] * scores.shape[1] * keys + anchor * keys  # (B, T)
    s_positive = flat.gather(0, (base + positive).reshape(-1)).reshape(anchor.shape)  # (B, T)
    s_negative = flat.gather(0, (base + negative).reshape(-1)).reshape(anchor.shape)
    hinge = (s_negative - s_positive + margin).clamp_min(0) * valid.to(scores.dtype)
    return hinge.sum() / valid.sum().clamp_min(1)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) Gram matrix normalised by C·H·W."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


def perceptual_and_style_losses(
    features_fake: list[torch.Tensor], features_real: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eqs. 8-9 on lists of feature maps (e.g. VGG19 relu{l}_1): the perceptual loss sums the
    per-layer mean absolute differences, the style loss the per-layer mean absolute
    differences of the Gram matrices (:func:`gram_matrix`). Returns two scalars."""
    if len(features_fake) != len(features_real) or not features_fake:
        raise ValueError(f"need equally many feature maps, got {len(features_fake)} and {len(features_real)}")
    perceptual = sum((a - b).abs().mean() for a, b in zip(features_fake, features_real))
    style = sum((gram_matrix(a) - gram_matrix(b)).abs().mean() for a, b in zip(features_fake, features_real))
    return perceptual, style


# ----------------------------------------------------------------------------- config


@dataclass
class Config:
    """SCFT hyper-parameters; defaults are the paper's values, or DESIGN.md's where it is silent."""

    method: str = "scft"
    base_channels: int = 16  # encoder width at full resolution; level l has base * 2**l
    depth: int = 4  # stride-2 levels: V on an H / 2**depth grid; d_v = 2 base (2**(depth+1) - 1) = 992
    res_blocks: int = 4
    skeleton: bool = False  # CWR direct concatenation: the sketch encoder also sees the region skeleton
    margin: float = 12.0  # γ of the triplet loss
    weight_adv: float = 1.0
    weight_rec: float = 30.0
    weight_triplet: float = 1.0
    weight_perceptual: float = 0.01
    weight_style: float = 50.0
    lr: float = 1e-4  # generator
    lr_d: float = 2e-4  # discriminator
    betas: tuple[float, float] = (0.5, 0.999)
    disc_channels: int = 64
    disc_layers: int = 3
    shift_strength: float = 0.2  # appearance transform: per-channel offset in U(-s, s)
    tps_control: int = 5  # TPS control lattice per side
    tps_scale: float = 0.1  # largest control-point displacement (normalised; 2 = image width)
    vgg_weights: str | None = None  # VGG19 file or folder; None: $TINCT_WEIGHTS_DIR, then the cache

    def __post_init__(self) -> None:
        if self.base_channels < 1 or self.depth < 1 or self.res_blocks < 0:
            raise ValueError(f"need base_channels >= 1, depth >= 1, res_blocks >= 0; got "
                             f"{self.base_channels}, {self.depth}, {self.res_blocks}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        self.betas = tuple(self.betas)

    @property
    def feature_channels(self) -> int:
        """d_v: channels of V (all encoder layers concatenated)."""
        return 2 * self.base_channels * (2 ** (self.depth + 1) - 1)


# ----------------------------------------------------------------------------- networks


class ConvLayer(nn.Sequential):
    """3×3 conv (stride 1 or 2) → BatchNorm → LeakyReLU(0.2)."""

    def __init__(self, *, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.2, inplace=True),
        )


class Encoder(nn.Module):
    """E_s or E_r: ``(B, in_channels, H, W) -> [f^1, ..., f^L]``, L = 2 (depth + 1).

    Level l (0..depth) is two :class:`ConvLayer` of width ``base_channels * 2**l``, the
    first with stride 2 for l >= 1: f^{2l+1} and f^{2l+2} are (B, base 2^l, H / 2^l, W / 2^l).
    H and W must be multiples of ``2**depth``.
    """

    def __init__(self, *, in_channels: int, base_channels: int, depth: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers = []
        width = in_channels
        for level in range(depth + 1):
            out = base_channels * 2**level
            layers += [ConvLayer(in_channels=width, out_channels=out, stride=2 if level else 1),
                       ConvLayer(in_channels=out, out_channels=out)]
            width = out
        self.layers = nn.ModuleList(layers)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"encoder expects (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        features = []
        for layer in self.layers:
            image = layer(image)
            features.append(image)
        return features


class FeatureTransfer(nn.Module):
    """The SCFT module (eqs. 2-4) on pooled features V_s, V_r of d_v channels.

    ``forward(v_sketch (B, d_v, h, w), v_reference (B, d_v, h', w'))`` returns
    ``c = v_s + A W_v v_r`` (B, d_v, h, w), ``attention`` (B, hw, h'w') and the
    pre-softmax ``scores`` (B, hw, h'w'), positions in row-major order.
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.query = nn.Linear(channels, channels, bias=False)  # W_q
        self.key = nn.Linear(channels, channels, bias=False)  # W_k
        self.value = nn.Linear(channels, channels, bias=False)  # W_v

    def forward(
        self, v_sketch: torch.Tensor, v_reference: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for name, v in (("v_sketch", v_sketch), ("v_reference", v_reference)):
            if v.ndim != 4 or v.shape[1] != self.channels:
                raise ValueError(f"{name} must be (B, {self.channels}, h, w), got {tuple(v.shape)}")
        batch, channels, height, width = v_sketch.shape
        sketch_rows = v_sketch.flatten(2).transpose(1, 2)  # (B, hw, d_v)
        reference_rows = v_reference.flatten(2).transpose(1, 2)  # (B, h'w', d_v)
        context, attention, scores = spatial_attention(
            self.query(sketch_rows), self.key(reference_rows), self.value(reference_rows)
        )  # (B, hw, d_v), (B, hw, h'w') x 2
        c = v_sketch + context.transpose(1, 2).reshape(batch, channels, height, width)
        return c, attention, scores


class ResidualBlock(nn.Module):
    """x + (3×3 conv → BN → ReLU → 3×3 conv → BN)(x)."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generated(NamedTuple):
    """What one generator pass gives: the image and the attention it used."""

    fake: torch.Tensor  # (B, 3, H, W) in [0, 1]
    attention: torch.Tensor  # (B, hw, h'w'), rows sum to 1
    scores: torch.Tensor  # (B, hw, h'w') scaled dot products before the softmax
    sketch_grid: tuple[int, int]  # (h, w) of V_s (of the padded sketch)
    reference_grid: tuple[int, int]  # (h', w') of V_r


# ----------------------------------------------------------------------------- the model


class SCFT(GANMethod):
    """Sketch encoder, reference encoder, SCFT module, residual blocks, U-Net decoder, and the
    sketch-conditioned discriminator (training only).

    Public tensors: sketch (B, 1, H, W) in [0, 1] (1 = paper), reference and outputs RGB
    (B, 3, H', W') / (B, 3, H, W) in [0, 1]; the reference may have another size. Inference
    methods do not switch modes: call ``.eval()`` first (``from_pretrained`` returns the
    model in eval mode).
    """

    name = "scft"
    config_class = Config
    guidance = Guidance(reference=True, required=("reference",))
    protocol = "reference"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config if config is not None else Config()
        base, depth = config.base_channels, config.depth
        widths = [base * 2**level for level in range(depth + 1)]
        self.sketch_encoder = Encoder(in_channels=2 if config.skeleton else 1, base_channels=base, depth=depth)
        self.reference_encoder = Encoder(in_channels=3, base_channels=base, depth=depth)
        self.transfer = FeatureTransfer(channels=config.feature_channels)
        self.project = nn.Conv2d(config.feature_channels, widths[-1], kernel_size=1)
        self.res_blocks = nn.Sequential(*(ResidualBlock(channels=widths[-1]) for _ in range(config.res_blocks)))
        self.decoder = nn.ModuleList(
            DoubleConv(in_channels=widths[level + 1] + widths[level], out_channels=widths[level])
            for level in reversed(range(depth))
        )
        self.to_rgb = nn.Conv2d(widths[0], 3, kernel_size=1)
        self.discriminator = NLayerDiscriminator(
            in_channels=1 + 3, base_channels=config.disc_channels, num_layers=config.disc_layers
        )
        pix2pix_init_(self)
        self._perceptual: list = []  # [VGG19Features or None], resolved on first use; not a submodule

    @property
    def display_name(self) -> str:
        """``scft``, with ``+skeleton`` for the region-skeleton variant and ``-triplet`` when the
        triplet loss is off (the ablation), for reports."""
        return (self.name + ("+skeleton" if self.config.skeleton else "")
                + ("-triplet" if self.config.weight_triplet == 0 else ""))

    @property
    def cell_size(self) -> int:
        """Side in pixels of one attention cell: ``2**depth``."""
        return 2**self.config.depth

    # -- networks

    def _padded(self, image: torch.Tensor) -> torch.Tensor:
        multiple = self.cell_size
        return pad_replicate(image, bottom=-image.shape[-2] % multiple, right=-image.shape[-1] % multiple)

    def _sketch_input(self, sketch: torch.Tensor, skeleton: torch.Tensor | None) -> torch.Tensor:
        check_sketch(sketch)
        if not self.config.skeleton:
            if skeleton is not None:
                raise ValueError("this model was built without the skeleton input (Config.skeleton = False)")
            return to_signed(sketch)
        if skeleton is None:
            skeleton = region_skeleton(sketch)
        if skeleton.shape != sketch.shape:
            raise ValueError(f"skeleton must be (B, 1, H, W) = {tuple(sketch.shape)}, got {tuple(skeleton.shape)}")
        return torch.cat([to_signed(sketch), to_signed(1.0 - skeleton.to(sketch))], dim=1)  # (B, 2, H, W)

    def generate(
        self, sketch: torch.Tensor, reference: torch.Tensor, skeleton: torch.Tensor | None = None
    ) -> Generated:
        """The generator with its attention: see :class:`Generated`.

        sketch: (B, 1, H, W) in [0, 1]; reference: (B, 3, H', W') in [0, 1]; skeleton: (B, 1,
        H, W) in {0, 1} for the skeleton variant (default: :func:`region_skeleton`).
        """
        inputs = self._sketch_input(sketch, skeleton)
        if reference.ndim != 4 or reference.shape[1] != 3 or reference.shape[0] != sketch.shape[0]:
            raise ValueError(f"reference must be RGB (B, 3, H', W') with B = {sketch.shape[0]}, "
                             f"got {tuple(reference.shape)}")
        height, width = sketch.shape[-2:]
        sketch_features = self.sketch_encoder(self._padded(inputs))
        reference_features = self.reference_encoder(self._padded(to_signed(reference)))
        v_sketch, v_reference = pool_to_last(sketch_features), pool_to_last(reference_features)
        context, attention, scores = self.transfer(v_sketch, v_reference)
        features = self.res_blocks(self.project(context))  # (B, base 2^depth, h, w)
        for block, level in zip(self.decoder, reversed(range(self.config.depth))):
            skip = sketch_features[2 * level + 1]  # the last layer of encoder level `level`
            features = block(torch.cat([skip, upsample_bilinear(features, tuple(skip.shape[-2:]))], dim=1))
        fake = from_signed(torch.tanh(self.to_rgb(features)))[..., :height, :width]
        return Generated(fake, attention, scores, tuple(v_sketch.shape[-2:]), tuple(v_reference.shape[-2:]))

    def forward(
        self, sketch: torch.Tensor, reference: torch.Tensor, skeleton: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Colour the sketch from the reference: (B, 1, H, W), (B, 3, H', W') -> (B, 3, H, W) in [0, 1]."""
        return self.generate(sketch, reference, skeleton).fake

    @property
    def discriminator_lr(self) -> float:
        return self.config.lr_d

    # -- training

    def perceptual_network(self) -> nn.Module | None:
        """The frozen ImageNet VGG19 of the perceptual and style losses, or None (logged once,
        with the reason) when its weights are not available locally."""
        if not self._perceptual:
            from tinct.metrics.weights import WeightsError, WeightsUnavailable
            from tinct.nn.vgg import load_vgg19

            try:
                network = load_vgg19(self.config.vgg_weights)
            except WeightsUnavailable as error:
                log.warning("SCFT: perceptual and style losses disabled: %s", error.reason)
                network = None
            except WeightsError as error:
                log.warning("SCFT: perceptual and style losses disabled: %s", error)
                network = None
            self._perceptual.append(network)
        return self._perceptual[0]

    def _adversarial_logits(self, sketch: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.discriminator(torch.cat([to_signed(sketch), to_signed(image)], dim=1))

    def generator_step(
        self, batch: dict, *, progress: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float], dict[str, torch.Tensor]]:
        """One generator loss on augmented-self references.

        batch: ``"sketch"`` (B, 1, H, W) and ``"color"`` (B, 3, H, W) in [0, 1], H and W
        multiples of ``2**depth`` (optionally ``"skeleton"`` (B, 1, H, W)). progress is
        unused (no schedule); generator seeds the colour shift, the warp and the negatives
        (it may live on another device).

        Returns ``(loss, logs, carry)``: logs ``loss_g`` and the unweighted ``adv``, ``rec``
        (L1 in [-1, 1]), ``triplet`` and, when VGG19 is available, ``perceptual`` and
        ``style``; carry ``{"fake": (B, 3, H, W) in [0, 1], not detached, "real": the
        appearance-shifted target}`` (D's real image) for :meth:`discriminator_step`.
        """
        sketch, color = check_batch(batch)
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be in [0, 1], got {progress}")
        height, width = sketch.shape[-2:]
        if height % self.cell_size or width % self.cell_size:
            raise ValueError(f"training images must have sides that are multiples of {self.cell_size}, "
                             f"got {height}×{width}")
        config = self.config
        draws = cpu_generator(generator)
        pair = make_reference(color, generator=draws, shift_strength=config.shift_strength,
                              n_control=config.tps_control, warp_scale=config.tps_scale)
        target = pair["target"]
        out = self.generate(sketch, pair["reference"], batch.get("skeleton"))

        # triplets: reference cell j (positive key) <-> the sketch cell the TPS maps it to (anchor)
        anchor, valid = correspondence_indices(pair["grid"], pair["valid"], out.reference_grid)
        cells = out.reference_grid[0] * out.reference_grid[1]
        positive = torch.arange(cells, device=sketch.device).expand(sketch.shape[0], -1)
        offset = torch.randint(1, max(cells, 2), positive.shape, generator=draws).to(sketch.device)
        negative = (positive + offset) % cells  # uniform over the other cells
        if cells < 2:  # one cell: no negative exists
            valid = torch.zeros_like(valid)
        triplet = similarity_triplet_loss(out.scores, anchor, positive, negative, valid, margin=config.margin)

        rec = l1_loss(to_signed(out.fake), to_signed(target))
        logits_fake = self._adversarial_logits(sketch, out.fake)
        adv = F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))
        loss = config.weight_adv * adv + config.weight_rec * rec + config.weight_triplet * triplet
        logs = {"adv": float(adv.detach()), "rec": float(rec.detach()), "triplet": float(triplet.detach())}
        vgg = self.perceptual_network() if config.weight_perceptual or config.weight_style else None
        if vgg is not None:
            vgg = vgg.to(sketch.device)
            perceptual, style = perceptual_and_style_losses(vgg(out.fake), vgg(target))
            loss = loss + config.weight_perceptual * perceptual + config.weight_style * style
            logs.update(perceptual=float(perceptual.detach()), style=float(style.detach()))
        logs["loss_g"] = float(loss.detach())
        return loss, logs, {"fake": out.fake, "real": target}

    def discriminator_step(self, batch: dict, carry: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 7 for D: cross-entropy on concat(sketch, real) vs concat(sketch, fake.detach()),
        times ``weight_adv``. ``carry["real"]`` is the appearance-shifted target of the
        generator step, ``carry["fake"]`` its output."""
        sketch, _ = check_batch(batch)
        real, fake = carry["real"], carry["fake"]
        if fake.shape != real.shape:
            raise ValueError(f"fake must be (B, 3, H, W) = {tuple(real.shape)}, got {tuple(fake.shape)}")
        logits_real = self._adversarial_logits(sketch, real)
        logits_fake = self._adversarial_logits(sketch, fake.detach())
        loss = self.config.weight_adv * (
            F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
            + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        )
        return loss, {"loss_d": float(loss.detach())}

    # -- inference

    @torch.no_grad()
    def prepare(self, sketch: torch.Tensor) -> dict:
        """The region skeleton of the sketch for the skeleton variant (``{}`` otherwise)."""
        return {"skeleton": region_skeleton(sketch)} if self.config.skeleton else {}

    @torch.no_grad()
    def paint(self, inputs: Inputs) -> torch.Tensor:
        """The sketch painted with the colours of ``inputs.reference`` (B, 3, S', S')."""
        return self.paint_details(inputs)[0]

    @torch.no_grad()
    def paint_details(self, inputs: Inputs) -> tuple[torch.Tensor, dict]:
        """The output and its attention, one pass: ``{"attention": (B, h w, h' w')`` (rows sum
        to 1), ``"sketch_grid": (h, w)``, ``"reference_grid": (h', w')``, ``"cell": px}``."""
        if inputs.reference is None:
            raise ValueError("SCFT needs a reference image")
        out = self.generate(inputs.sketch, inputs.reference, inputs.prepared.get("skeleton"))
        return out.fake, {"attention": out.attention, "sketch_grid": out.sketch_grid,
                          "reference_grid": out.reference_grid, "cell": self.cell_size}

    @torch.no_grad()
    def colorize(
        self, sketch: torch.Tensor, reference: torch.Tensor, *, skeleton: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Paint the sketch (B, 1, H, W) with the colours of the reference (B, 3, H', W').
        Returns (B, 3, H, W) in [0, 1]."""
        return self(sketch, reference, skeleton)

    @torch.no_grad()
    def attention_map(self, sketch: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """The SCFT attention A as a map: (B, h, w, h', w'), where ``[b, i, j]`` (over the last
        two axes) is how much sketch cell (i, j) takes from each reference cell; each cell
        covers ``cell_size`` pixels per side and every (i, j) sums to 1."""
        out = self.generate(sketch, reference)
        return out.attention.reshape(sketch.shape[0], *out.sketch_grid, *out.reference_grid)

    @torch.no_grad()
    def top_reference_locations(
        self, sketch: torch.Tensor, reference: torch.Tensor, query_yx, k: int = 3
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The k reference locations the sketch point ``query_yx`` attends to most (paper Fig. 7):
        see :func:`tinct.visual.top_attended`."""
        from tinct.visual import top_attended

        batch, _, height, width = sketch.shape
        query = torch.as_tensor(query_yx, dtype=torch.float32).reshape(-1, 2).expand(batch, -1)
        if ((query[:, 0] < 0) | (query[:, 0] > height - 1) | (query[:, 1] < 0) | (query[:, 1] > width - 1)).any():
            raise ValueError(f"query_yx must lie inside the {height}×{width} sketch, got {query.tolist()}")
        out = self.generate(sketch, reference)
        locations, weights = top_attended(out.attention, out.sketch_grid, out.reference_grid, query,
                                          cell=self.cell_size, reference_size=tuple(reference.shape[-2:]), k=k)
        return locations.to(sketch.device), weights.to(sketch.device)
