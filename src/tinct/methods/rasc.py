"""RASC (Region-Assisted Sketch Colorization; IEEE TIP 2023): a sketch encoder, a latent
style code w and a decoder of Region-based Modulation blocks that read the sketch's
trapped-ball regions; many colour styles per sketch, with regions that stay consistent.

The paper (§III): the encoder Enc (M blocks) gives multi-level sketch features X^e_1 ... X^e_M
and an MLP on them gives "a sketch related latent code w ~ N(0, 1)". The decoder has N = M
Region-based Modulation (RM) blocks, coarse to fine. RM block n upsamples the previous
block's output, puts it through a convolution modulated by w (StyleGAN2's modulated
convolution, "inspired by [37]"), and multiplies the concatenation of the same-level encoder
feature and that convolution's output by the Region Formulation of the encoder feature
(eq. 1): ``X^d_n = X^f_n ⊙ concat(X^e_n, Conv(Up(X^d_{n-1})))``. Region Formulation
(Fig. 3): the region map (trapped-ball regions of the sketch, resized to the level by nearest
neighbour) masks X^e_n; (1) aggregation, per region the channel-wise **max** over its pixels
(eq. 2) -> a K × C matrix; (2) correlation, self-attention across the K regions with linear
Q, K, V (eqs. 3-4, ``softmax(Q K^T / sqrt(C)) V``); (3) broadcast, every pixel takes its
region's row (eq. 5). Losses (§III-C): the non-saturating logistic GAN loss (eq. 6) and a
perceptual loss on relu1_1 ... relu5_1 of an ImageNet VGG19 (eq. 7). Adam, lr 0.002, β =
(0, 0.99), no weight decay, batch 8 (§IV-B). At inference (§IV-E) w ~ N(0, I) drawn afresh
gives a new colour style for the same sketch; linear interpolation between two codes morphs
between their styles.

Table II's ablation is ``Config.variant``: ``"full"`` (region map and Region Formulation),
``"no_formulation"`` ("the input is the concatenation of line art and the region map in the
encoder, and the encoder output X^e is concatenated in the decoder": X^d_n = concat(X^e_n,
Conv(Up(X^d_{n-1}))), no X^f) and ``"no_regions"`` (the same without the region map at all).

Where w comes from. Training follows the paper: w is the MLP's code of the sketch's own
deepest features (no ground-truth colour is encoded, and no code is sampled); at inference
the code comes from a style seed (:func:`tinct.methods.base.style_from_seed`; seed 0 when none
is given). ``Config.random_style`` (0 = the paper) is a documented deviation for training the
decoder on the codes it meets at inference: the share of training samples whose code is drawn
from N(0, I) instead; those samples get the GAN loss only (a random style has no ground truth
to be compared with). Every code, seeded or predicted, is normalised to unit root-mean-square
before it modulates (StyleGAN's normalisation of z), so the MLP's codes and N(0, I) draws live
on the same sphere — the paper writes both as "w ~ N(0, 1)" and says nothing more.

Choices the paper leaves open (no public code exists), with the reason for each:

- M = N = ``depth + 1`` levels: encoder block 0 at full resolution, blocks 1..depth start with
  a stride-2 conv (two 3×3 convs with LeakyReLU(0.2) each, no normalisation, as StyleGAN2's
  networks). ``depth`` = 3 by default: §IV-F says 8 × 8 patches at 256 px are single pixels
  "following three downsampling instances". Widths ``base_channels * 2**l`` up to
  ``max_channels``. The first RM block works at the deepest level on the deepest encoder
  feature (no upsampling there); the others upsample by 2 (bilinear);
- the MLP reads the deepest feature averaged over space (global pooling keeps the network
  fully convolutional), ``mlp_layers`` equalised linear layers with LeakyReLU between;
- modulation as StyleGAN2: per block a learned affine map of w gives the per-input-channel
  scales (bias 1), the weights are demodulated (each output channel's modulated weights
  have unit norm), then a bias and LeakyReLU(0.2) × √2; the last block's output goes to RGB
  through a modulated 1×1 conv without demodulation, then tanh. Equalised learning rate
  (weights N(0, 1) scaled at run time by 1/√fan-in) everywhere, as StyleGAN2 does for the
  lr 0.002 and β = (0, 0.99) the paper takes from it; no noise inputs (the paper has none);
- aggregation is the max over each region's own pixels. Eq. 2 writes ``max(X^r_k ⊙ X^e)``
  over the whole map, which also sees the zeros the mask leaves outside the region (a floor
  at 0 for features that can be negative, as after LeakyReLU); the text means the region's
  pixels. Regions that vanish at a coarse level (smaller than a cell) are masked like padding;
- Q, K, V are bias-free linear maps C -> C (eq. 3), one head, scale 1/√C (eq. 4); regions of
  a batch are padded to the largest label count and padded keys are masked before the
  softmax (a padded region gets no attention; its own row is zero and never broadcast);
- **widths in eq. 1**: X^f has X^e's C channels, the concatenation C + C_d; the paper leaves
  them unmatched. A 1×1 conv projects X^f to C + C_d (DESIGN.md). Its bias starts at 1 and
  its weights small (N(0, 0.2²) before the run-time scale), so X^f starts as a gentle
  modulation around 1, as a StyleGAN2 style does;
- the region map of the "no_formulation" input is drawn as its 1-px boundaries (the region
  skeleton, ink -1 on +1, as tinct's CWR concat does): a label map's numbers are arbitrary,
  its partition is what the boundaries carry;
- region maps are tinct's trapped-ball regions of the network-size sketch, lines assigned
  (:func:`tinct.regions.trapped_ball`, radii "auto"), computed in :meth:`RASC.prepare` at
  inference and in the generator step in training (~1 ms per image at 128 px) — never the
  data's ground-truth regions, so training and inference see the same kind of map;
- discriminator: D(X_rgb) scores the colour image alone (eq. 6); ``Config.conditional``
  (off = the paper) makes it score concat(sketch, image) instead. Equalised convs, LeakyReLU,
  ``disc_layers`` stride-2 levels, global average pooling, one logit. ``Config.r1_gamma``
  (0 = the paper) adds StyleGAN2's R1 penalty on real images to D's loss;
- loss weights: the paper gives none; adversarial 1 and perceptual 1 (the perceptual loss
  sums the per-layer mean absolute differences, as :mod:`tinct.methods.scft` does).

``Config.weight_l1`` (0 = the paper) is a documented deviation for when VGG19's weights cannot
be had (they cannot here): eq. 7's job, tying the sketch's own code to the ground truth, is
then done by a pixel L1 (mean absolute difference of the [0, 1] images) on the samples with the
sketch's own code, weighted ``weight_l1``; random-code samples still get the GAN loss only.
Without either term the generator is tied to the data by D alone.

Scaled for a CPU: ``base_channels`` 32 (32 ... 256 channels), ``style_dim`` 128 (StyleGAN2:
512), a small discriminator (``disc_channels`` 16): 3.2 M parameters in G (2.7 M without Region Formulation), 1.2 M in D,
17 MB of weights; about 1 s per batch of 8 at 128 px (G and D steps) on one core under bf16
autocast (2 s in float32), 0.7 s without Region Formulation. The perceptual loss needs ImageNet VGG19 weights
(:mod:`tinct.nn.vgg`); without a local file it is off and the reason is logged once, as in
SCFT (then, unless ``weight_l1`` is set, the GAN loss is the only loss; the shipped model and
its ablations train with ``weight_l1`` 10, ``random_style`` 0.5 and ``conditional``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from tinct.color import from_signed, to_signed
from tinct.methods.base import DEFAULT_STYLE_SEED, GANMethod, Guidance, Inputs, cpu_generator, style_from_seed
from tinct.methods.checks import check_batch, check_sketch
from tinct.nn.unet import pad_replicate, upsample_bilinear

log = logging.getLogger(__name__)

VARIANTS = ("full", "no_formulation", "no_regions")
_LEAK = 0.2
_ACT_GAIN = math.sqrt(2.0)  # StyleGAN's gain after LeakyReLU: keeps unit variance

# ----------------------------------------------------------------------------- functional parts


def leaky(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU(0.2) times √2 (StyleGAN's bias-act)."""
    return F.leaky_relu(x, _LEAK) * _ACT_GAIN


def normalize_style(code: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(B, D) codes scaled to unit root-mean-square per row (StyleGAN's pixel norm of z)."""
    if code.ndim != 2:
        raise ValueError(f"style codes must be (B, style_dim), got {tuple(code.shape)}")
    return code * torch.rsqrt(code.float().pow(2).mean(dim=1, keepdim=True) + eps).to(code.dtype)


def demodulation(weight: torch.Tensor, styles: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """StyleGAN2's demodulation factors: ``1 / sqrt(sum_{i,k} (W_oik s_bi)^2 + eps)``.

    weight: (O, I, k, k); styles: (B, I). Returns (B, O) float32.
    """
    energy = weight.float().pow(2).sum(dim=(2, 3))  # (O, I)
    return torch.rsqrt(styles.float().pow(2) @ energy.transpose(0, 1) + eps)  # (B, O)


def modulated_weight(weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True,
                     eps: float = 1e-8) -> torch.Tensor:
    """The per-sample weights of a modulated convolution: ``W'_boik = W_oik s_bi`` and, with
    ``demodulate``, divided by the norm of each output channel's weights (StyleGAN2 eqs. 1-3).

    weight: (O, I, k, k); styles: (B, I). Returns (B, O, I, k, k).
    """
    modulated = weight[None] * styles[:, None, :, None, None]  # (B, O, I, k, k)
    if demodulate:
        modulated = modulated * demodulation(weight, styles, eps).to(modulated.dtype)[:, :, None, None, None]
    return modulated


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True,
                     padding: int = 0, eps: float = 1e-8) -> torch.Tensor:
    """Convolution of each sample with its own modulated weights (:func:`modulated_weight`).

    Computed without per-sample weights, as StyleGAN2's non-fused path: scale the input
    channels by the styles, convolve with the shared weight, scale the output channels by the
    demodulation factors (the same values; one ordinary convolution for the batch).

    x: (B, I, H, W); weight: (O, I, k, k); styles: (B, I). Returns (B, O, H', W').
    """
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"x (B, I, H, W) and weight (O, I, k, k) must match, got {tuple(x.shape)} and "
                         f"{tuple(weight.shape)}")
    if styles.shape != (x.shape[0], x.shape[1]):
        raise ValueError(f"styles must be (B, I) = {(x.shape[0], x.shape[1])}, got {tuple(styles.shape)}")
    out = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=padding)
    if demodulate:
        out = out * demodulation(weight, styles, eps)[:, :, None, None].to(out.dtype)
    return out


def resize_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A label map (B, H, W) resized to ``size`` by nearest neighbour (the paper's resizing of
    the region maps to each level). Returns (B, h, w) int64."""
    if labels.ndim != 3 or labels.is_floating_point():
        raise ValueError(f"labels must be an integer (B, H, W) map, got {labels.dtype} {tuple(labels.shape)}")
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels.long()
    # float64 holds every label exactly; "nearest" takes pixel floor(i * H / h)
    return F.interpolate(labels[:, None].double(), size=tuple(size), mode="nearest")[:, 0].long()


def region_max_pool(features: torch.Tensor, labels: torch.Tensor, num_regions: int | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Region feature aggregation (eq. 2): per region, the channel-wise max over its pixels.

    features: (B, C, h, w); labels: (B, h, w) integer regions in [0, K). num_regions: K
    (default: the batch's largest label + 1; images with fewer regions are padded). One
    vectorised ``scatter_reduce`` over a flat index (deterministic on CUDA too), no loop over
    regions. Returns ``pooled`` (B, K, C) (0 for absent regions) and ``present`` (B, K) bool:
    the regions that have at least one pixel in the image; the others are padding.
    """
    if features.ndim != 4 or labels.shape != (features.shape[0], *features.shape[-2:]):
        raise ValueError(f"features (B, C, h, w) and labels (B, h, w) must match, got {tuple(features.shape)} "
                         f"and {tuple(labels.shape)}")
    batch, channels = features.shape[:2]
    labels = labels.long().flatten(1)  # (B, hw)
    count = int(labels.max()) + 1 if num_regions is None else int(num_regions)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= count):
        raise ValueError(f"labels must lie in [0, {count}), got [{int(labels.min())}, {int(labels.max())}]")
    # flat slot of (b, region, c) in a (B, K, C) result, for every (b, c, pixel)
    base = torch.arange(batch, device=labels.device)[:, None, None] * (count * channels)  # (B, 1, 1)
    slot = base + labels[:, None, :] * channels + torch.arange(channels, device=labels.device)[None, :, None]
    values = features.flatten(2)  # (B, C, hw)
    pooled = values.new_zeros(batch * count * channels).scatter_reduce(
        0, slot.reshape(-1), values.reshape(-1), reduce="amax", include_self=False)
    present = torch.zeros(batch * count, dtype=torch.bool, device=labels.device)
    present[(torch.arange(batch, device=labels.device)[:, None] * count + labels).reshape(-1)] = True
    return pooled.reshape(batch, count, channels), present.reshape(batch, count)


def masked_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, present: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Region correlation (eq. 4) with a key-padding mask: ``softmax(Q K^T / sqrt(d)) V`` where
    absent (padded) regions get no weight; their own output rows are 0.

    query, key: (B, K, d); value: (B, K, d_v); present: (B, K) bool, at least one per image.
    Returns ``out`` (B, K, d_v) and ``weights`` (B, K, K) (rows of present regions sum to 1;
    columns of absent ones are 0). The softmax is taken in float32.
    """
    if query.shape != key.shape or query.ndim != 3 or value.shape[:2] != query.shape[:2]:
        raise ValueError(f"query, key (B, K, d) and value (B, K, d_v) must match, got {tuple(query.shape)}, "
                         f"{tuple(key.shape)}, {tuple(value.shape)}")
    if present.shape != query.shape[:2]:
        raise ValueError(f"present must be (B, K) = {tuple(query.shape[:2])}, got {tuple(present.shape)}")
    if not bool(present.any(dim=1).all()):
        raise ValueError("every image needs at least one present region")
    scores = (query.float() @ key.float().transpose(1, 2)) / math.sqrt(query.shape[-1])  # (B, K, K)
    scores = scores.masked_fill(~present[:, None, :], float("-inf"))
    weights = scores.softmax(dim=-1).masked_fill(~present[:, :, None], 0.0)  # padded queries: no row
    return (weights.to(value.dtype) @ value), weights


def broadcast_regions(region_features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Region feature broadcast (eq. 5): every pixel takes its region's row.

    region_features: (B, K, C); labels: (B, h, w) integer in [0, K). Returns (B, C, h, w).
    One flat ``gather`` (deterministic backward on CUDA).
    """
    batch, count, channels = region_features.shape
    if labels.ndim != 3 or labels.shape[0] != batch:
        raise ValueError(f"labels must be (B, h, w) with B = {batch}, got {tuple(labels.shape)}")
    height, width = labels.shape[-2:]
    rows = (torch.arange(batch, device=labels.device)[:, None] * count + labels.long().flatten(1))  # (B, hw)
    index = rows[:, None, :] * channels + torch.arange(channels, device=labels.device)[None, :, None]  # (B, C, hw)
    gathered = region_features.reshape(-1).gather(0, index.reshape(-1))
    return gathered.reshape(batch, channels, height, width)


def region_boundaries(labels: torch.Tensor) -> torch.Tensor:
    """1-px region boundaries of a label map (B, H, W): True where a pixel differs from its
    right or lower neighbour (:func:`tinct.regions.skeleton`, in torch). Returns (B, H, W) bool."""
    edges = torch.zeros(labels.shape, dtype=torch.bool, device=labels.device)
    edges[:, :, :-1] |= labels[:, :, :-1] != labels[:, :, 1:]
    edges[:, :-1, :] |= labels[:, :-1, :] != labels[:, 1:, :]
    return edges


def region_map(sketch: torch.Tensor) -> torch.Tensor:
    """Trapped-ball regions of the sketch (B, 1, H, W) in [0, 1], lines assigned
    (:func:`tinct.regions.trapped_ball`): (B, H, W) int64 labels >= 1, on the sketch's device.
    Not differentiable (numpy/OpenCV on the CPU)."""
    from tinct.regions import trapped_ball

    check_sketch(sketch)
    labels = trapped_ball(sketch.detach().float().cpu().numpy())  # (B, H, W) int32
    return torch.from_numpy(labels.astype("int64")).to(sketch.device)


def logistic_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating logistic loss for G: ``mean(softplus(-D(fake)))`` (eq. 6). Returns a scalar."""
    return F.softplus(-logits_fake.float()).mean()


def logistic_discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 6 for D: ``mean(softplus(D(fake))) + mean(softplus(-D(real)))``. Returns a scalar."""
    return F.softplus(logits_fake.float()).mean() + F.softplus(-logits_real.float()).mean()


def perceptual_distance(features_fake: list[torch.Tensor], features_real: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 7 per image: the sum over layers of the mean absolute difference of the feature
    maps (B, C_l, H_l, W_l). Returns (B,)."""
    if len(features_fake) != len(features_real) or not features_fake:
        raise ValueError(f"need equally many feature maps, got {len(features_fake)} and {len(features_real)}")
    return sum((a.float() - b.float()).abs().flatten(1).mean(dim=1) for a, b in zip(features_fake, features_real))


# ----------------------------------------------------------------------------- config


@dataclass
class Config:
    """RASC hyper-parameters; defaults are the paper's values where it gives them, sizes scaled
    for a CPU (see the module docstring for every choice the paper leaves open)."""

    method: str = "rasc"
    variant: str = "full"  # Table II: "full", "no_formulation" (region map at the input only), "no_regions"
    base_channels: int = 32  # encoder level l has min(base * 2**l, max_channels) channels
    max_channels: int = 256
    depth: int = 3  # stride-2 levels; M = N = depth + 1 encoder and RM blocks (the paper: three downsamplings)
    style_dim: int = 128  # size of w (StyleGAN2: 512; the paper gives none)
    mlp_layers: int = 2  # layers of the MLP from the pooled deepest feature to w
    weight_adv: float = 1.0  # the paper gives no weights
    weight_perceptual: float = 1.0
    weight_l1: float = 0.0  # deviation: pixel L1 to the ground truth (the code of the sketch only); paper 0
    random_style: float = 0.0  # deviation: share of training samples with w ~ N(0, I) (GAN loss only); paper 0
    conditional: bool = False  # deviation: D scores concat(sketch, image); the paper's D sees the image alone
    r1_gamma: float = 0.0  # deviation: StyleGAN2's R1 penalty on D (gamma / 2 * |grad D(real)|^2); paper 0
    lr: float = 0.002  # G and D
    betas: tuple[float, float] = (0.0, 0.99)
    disc_channels: int = 16  # first width of the discriminator (doubling per level, at most max_channels)
    disc_layers: int = 4  # stride-2 levels of the discriminator
    vgg_weights: str | None = None  # VGG19 file or folder; None: $TINCT_WEIGHTS_DIR, then the cache

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        sizes = ("base_channels", "max_channels", "depth", "style_dim", "mlp_layers", "disc_channels", "disc_layers")
        small = [f"{name}={getattr(self, name)}" for name in sizes if getattr(self, name) < 1]
        if small:
            raise ValueError(f"sizes must be at least 1, got {', '.join(small)}")
        weights = ("weight_adv", "weight_perceptual", "weight_l1", "r1_gamma")
        negative = [f"{name}={getattr(self, name)}" for name in weights if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {', '.join(negative)}")
        if not 0.0 <= self.random_style <= 1.0:
            raise ValueError(f"random_style is a probability in [0, 1], got {self.random_style}")
        self.betas = tuple(self.betas)

    @property
    def widths(self) -> list[int]:
        """Encoder (and RM block) widths per level, full resolution first."""
        return [min(self.base_channels * 2**level, self.max_channels) for level in range(self.depth + 1)]


# ----------------------------------------------------------------------------- networks


class EqualConv2d(nn.Module):
    """Conv with an equalised learning rate: weights N(0, init_std²) scaled at run time by
    1/√(in · k²); bias starting at ``bias_init``. ``(B, in, H, W) -> (B, out, H', W')``."""

    def __init__(self, *, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True, bias_init: float = 0.0, init_std: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) * init_std)
        self.bias = nn.Parameter(torch.full((out_channels,), float(bias_init))) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride, self.padding = stride, kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear map with an equalised learning rate (as :class:`EqualConv2d`). ``(..., in) -> (..., out)``."""

    def __init__(self, *, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.scale = 1.0 / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated convolution driven by w: ``(x (B, in, H, W), w (B, style_dim)) ->
    (B, out, H, W)``; styles = affine(w) (bias 1), demodulated unless told otherwise; no bias
    or activation (the caller adds them)."""

    def __init__(self, *, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.affine = EqualLinear(in_features=style_dim, out_features=in_channels, bias_init=1.0)
        self.demodulate, self.padding = demodulate, kernel_size // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"modulated conv expects (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return modulated_conv2d(x, self.weight * self.scale, self.affine(w), demodulate=self.demodulate,
                                padding=self.padding)


class EncoderBlock(nn.Module):
    """Two 3×3 equalised convs with LeakyReLU, the first with ``stride``: ``(B, in, H, W) ->
    (B, out, H / stride, W / stride)``."""

    def __init__(self, *, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.first = EqualConv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=3, stride=stride)
        self.second = EqualConv2d(in_channels=out_channels, out_channels=out_channels, kernel_size=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return leaky(self.second(leaky(self.first(x))))


class StyleMLP(nn.Module):
    """The MLP that gives the sketch's code: the deepest feature (B, C, h, w) averaged over space,
    then ``layers`` equalised linear layers (LeakyReLU between) -> (B, style_dim)."""

    def __init__(self, *, in_features: int, style_dim: int, layers: int) -> None:
        super().__init__()
        sizes = [in_features] + [style_dim] * layers
        self.layers = nn.ModuleList(EqualLinear(in_features=a, out_features=b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, deepest: torch.Tensor) -> torch.Tensor:
        x = deepest.mean(dim=(2, 3))  # (B, C)
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = leaky(x)
        return x


class RegionFormulation(nn.Module):
    """Fig. 3 on an encoder feature X^e (B, C, h, w) and its level's region map (B, h, w):
    aggregation (:func:`region_max_pool`), correlation (Q, K, V bias-free linear C -> C,
    :func:`masked_attention`), broadcast (:func:`broadcast_regions`).

    ``forward(features, labels)`` returns ``X^f`` (B, C, h, w) and the attention weights
    (B, K, K) over the batch's padded regions.
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.query = EqualLinear(in_features=channels, out_features=channels, bias=False)  # W_Q
        self.key = EqualLinear(in_features=channels, out_features=channels, bias=False)  # W_K
        self.value = EqualLinear(in_features=channels, out_features=channels, bias=False)  # W_V

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if features.ndim != 4 or features.shape[1] != self.channels:
            raise ValueError(f"region formulation expects (B, {self.channels}, h, w), got {tuple(features.shape)}")
        pooled, present = region_max_pool(features, labels)  # (B, K, C), (B, K)
        regions, weights = masked_attention(self.query(pooled), self.key(pooled), self.value(pooled), present)
        return broadcast_regions(regions, labels), weights  # (B, C, h, w), (B, K, K)


class RMBlock(nn.Module):
    """One Region-based Modulation block (Fig. 2b, eq. 1) at one level.

    ``forward(previous (B, in, h', w'), skip X^e (B, skip, h, w), w (B, style_dim), labels
    (B, h, w) or None)``: previous upsampled to (h, w) (when ``upsample``), a 3×3 conv modulated
    by w, bias, LeakyReLU -> (B, out, h, w); concatenated after X^e -> (B, skip + out, h, w);
    with ``formulation`` multiplied by X^f projected to that width by a 1×1 conv (the paper
    leaves the widths unmatched). Returns (X^d (B, skip + out, h, w), attention weights or None).
    """

    def __init__(self, *, in_channels: int, skip_channels: int, out_channels: int, style_dim: int,
                 upsample: bool, formulation: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.out_channels = skip_channels + out_channels
        self.conv = ModulatedConv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=3,
                                    style_dim=style_dim)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.formulation = RegionFormulation(channels=skip_channels) if formulation else None
        # X^f has the skip's width, the concatenation skip + out: a 1×1 conv matches them (DESIGN.md)
        self.project = (EqualConv2d(in_channels=skip_channels, out_channels=self.out_channels, kernel_size=1,
                                    bias_init=1.0, init_std=0.2) if formulation else None)

    def forward(self, previous: torch.Tensor, skip: torch.Tensor, w: torch.Tensor,
                labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.upsample:
            previous = upsample_bilinear(previous, tuple(skip.shape[-2:]))
        painted = leaky(self.conv(previous, w) + self.bias[None, :, None, None].to(previous.dtype))
        fused = torch.cat([skip, painted], dim=1)  # (B, skip + out, h, w)
        if self.formulation is None:
            return fused, None
        if labels is None:
            raise ValueError("a block with region formulation needs the region map")
        regions, weights = self.formulation(skip, labels)  # X^f: (B, skip, h, w)
        return self.project(regions) * fused, weights  # eq. 1


class Discriminator(nn.Module):
    """D of eq. 6: ``(B, in_channels, H, W)`` in [-1, 1] -> (B, 1) logits. A 3×3 conv, then
    ``layers`` levels of a 3×3 conv and a stride-2 3×3 conv (equalised, LeakyReLU), global
    average pooling, one equalised linear layer."""

    def __init__(self, *, in_channels: int, base_channels: int, layers: int, max_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.first = EqualConv2d(in_channels=in_channels, out_channels=base_channels, kernel_size=3)
        widths = [min(base_channels * 2**level, max_channels) for level in range(layers + 1)]
        self.levels = nn.ModuleList(
            EncoderBlock(in_channels=a, out_channels=b, stride=2) for a, b in zip(widths, widths[1:]))
        self.head = EqualLinear(in_features=widths[-1], out_features=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"discriminator expects (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        x = leaky(self.first(image))
        for level in self.levels:
            x = level(x)
        return self.head(x.mean(dim=(2, 3)))  # (B, 1)


class Generated(NamedTuple):
    """One generator pass."""

    fake: torch.Tensor  # (B, 3, H, W) in [0, 1]
    code: torch.Tensor  # (B, style_dim): the code that modulated (before normalisation)
    attention: list  # per RM block, coarse to fine: (B, K, K) weights, or None without formulation


# ----------------------------------------------------------------------------- the model


class RASC(GANMethod):
    """Sketch encoder, style MLP, decoder of RM blocks, and the discriminator (training only).

    Public tensors: sketch (B, 1, H, W) in [0, 1] (1 = paper); style codes (B, style_dim) or
    (1, style_dim) (broadcast), any scale (normalised inside); region maps (B, H, W) integer
    labels; outputs RGB (B, 3, H, W) in [0, 1]. Inference methods do not switch modes: call
    ``.eval()`` first (``from_pretrained`` returns the model in eval mode).
    """

    name = "rasc"
    config_class = Config
    protocol = "styles"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config if config is not None else Config()
        widths, depth = config.widths, config.depth
        inputs = 2 if config.variant == "no_formulation" else 1
        self.encoder = nn.ModuleList(
            EncoderBlock(in_channels=inputs if level == 0 else widths[level - 1], out_channels=widths[level],
                         stride=1 if level == 0 else 2)
            for level in range(depth + 1)
        )
        self.mlp = StyleMLP(in_features=widths[depth], style_dim=config.style_dim, layers=config.mlp_layers)
        formulation = config.variant == "full"
        # block k works at level depth - k: it reads the previous block's output (the deepest encoder
        # feature for k = 0) and that level's encoder feature; its output has 2 widths[level] channels
        self.blocks = nn.ModuleList(
            RMBlock(in_channels=widths[depth] if k == 0 else 2 * widths[depth - k + 1], skip_channels=widths[depth - k],
                    out_channels=widths[depth - k], style_dim=config.style_dim, upsample=k > 0,
                    formulation=formulation)
            for k in range(depth + 1)
        )
        self.to_rgb = ModulatedConv2d(in_channels=2 * widths[0], out_channels=3, kernel_size=1,
                                      style_dim=config.style_dim, demodulate=False)
        self.rgb_bias = nn.Parameter(torch.zeros(3))
        self.discriminator = Discriminator(in_channels=3 + (1 if config.conditional else 0),
                                           base_channels=config.disc_channels, layers=config.disc_layers,
                                           max_channels=config.max_channels)
        self._perceptual: list = []  # [VGG19Features or None], resolved on first use; not a submodule

    # -- declarations

    @property
    def guidance(self) -> Guidance:
        """A style code of ``config.style_dim`` numbers."""
        return Guidance(style_dim=self.config.style_dim)

    @property
    def display_name(self) -> str:
        """``rasc``; the ablations ``rasc-formulation`` (without region formulation) and
        ``rasc-regions`` (without region maps), as ``scft-triplet`` names SCFT without its triplet."""
        return {"full": "rasc", "no_formulation": "rasc-formulation", "no_regions": "rasc-regions"}[self.config.variant]

    @property
    def uses_regions(self) -> bool:
        """Whether the network reads a region map (all variants but ``no_regions``)."""
        return self.config.variant != "no_regions"

    @property
    def cell_size(self) -> int:
        """Input sides are padded to a multiple of this: ``2**depth``."""
        return 2**self.config.depth

    # -- networks

    def default_code(self, batch: int = 1) -> torch.Tensor:
        """The code of the default style seed (:data:`~tinct.methods.base.DEFAULT_STYLE_SEED`):
        (batch, style_dim) on the model's device."""
        device = next(self.parameters()).device
        return style_from_seed(DEFAULT_STYLE_SEED, self.config.style_dim).to(device).expand(batch, -1)

    def _regions(self, sketch: torch.Tensor, regions: torch.Tensor | None) -> torch.Tensor | None:
        if not self.uses_regions:
            if regions is not None:
                raise ValueError("this model was built without region maps (variant 'no_regions')")
            return None
        if regions is None:
            return region_map(sketch)
        if regions.shape != (sketch.shape[0], *sketch.shape[-2:]) or regions.is_floating_point():
            raise ValueError(f"regions must be integer labels (B, H, W) = {(sketch.shape[0], *sketch.shape[-2:])}, "
                             f"got {regions.dtype} {tuple(regions.shape)}")
        return regions.to(sketch.device).long()

    def _style(self, style: torch.Tensor, batch: int) -> torch.Tensor:
        if style.ndim != 2 or style.shape[1] != self.config.style_dim or style.shape[0] not in (1, batch):
            raise ValueError(f"style must be (B, {self.config.style_dim}) or (1, {self.config.style_dim}) with "
                             f"B = {batch}, got {tuple(style.shape)}")
        return style.expand(batch, -1)

    def encode(self, sketch: torch.Tensor, regions: torch.Tensor | None = None
               ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor | None]:
        """The encoder on the padded sketch: ``(features, predicted code, padded regions)``.

        features: X^e per level, full resolution first, (B, widths[l], H' / 2^l, W' / 2^l)
        with H', W' the sides padded to a multiple of :attr:`cell_size`; predicted: the MLP's
        code (B, style_dim), un-normalised; regions (B, H', W') int64 or None.
        """
        check_sketch(sketch)
        height, width = sketch.shape[-2:]
        bottom, right = -height % self.cell_size, -width % self.cell_size
        regions = self._regions(sketch, regions)
        x = to_signed(sketch)
        if regions is not None and (bottom or right):
            regions = pad_replicate(regions[:, None].double(), bottom=bottom, right=right)[:, 0].long()
        if self.config.variant == "no_formulation":  # the region map at the input, drawn as its boundaries
            x = torch.cat([x, to_signed(1.0 - region_boundaries(regions[..., :height, :width])[:, None].to(x))], dim=1)
        x = pad_replicate(x, bottom=bottom, right=right)
        features = []
        for block in self.encoder:
            x = block(x)
            features.append(x)
        return features, self.mlp(features[-1]), regions

    def decode(self, features: list[torch.Tensor], code: torch.Tensor, regions: torch.Tensor | None
               ) -> tuple[torch.Tensor, list]:
        """The RM blocks and the RGB head: ``(image (B, 3, H', W') in [-1, 1], attention per block)``;
        code (B, style_dim) is normalised here."""
        w = normalize_style(code.to(features[0].dtype))
        depth = self.config.depth
        x, attention = features[depth], []
        for k, block in enumerate(self.blocks):
            skip = features[depth - k]
            labels = None if regions is None or block.formulation is None else resize_labels(regions, skip.shape[-2:])
            x, weights = block(x, skip, w, labels)
            attention.append(weights)
        return torch.tanh(self.to_rgb(x, w) + self.rgb_bias[None, :, None, None].to(x.dtype)), attention

    def generate(self, sketch: torch.Tensor, style: torch.Tensor | None = None,
                 regions: torch.Tensor | None = None) -> Generated:
        """The generator: see :class:`Generated`.

        sketch: (B, 1, H, W) in [0, 1]; style: (B or 1, style_dim) code, or None for the MLP's
        code of the sketch (the paper's training path); regions: (B, H, W) labels (default:
        :func:`region_map` of the sketch; none for ``no_regions``).
        """
        height, width = sketch.shape[-2:]
        features, predicted, padded = self.encode(sketch, regions)
        code = predicted if style is None else self._style(style.to(predicted), sketch.shape[0])
        image, attention = self.decode(features, code, padded)
        return Generated(from_signed(image.float())[..., :height, :width], code, attention)

    def forward(self, sketch: torch.Tensor, style: torch.Tensor | None = None,
                regions: torch.Tensor | None = None) -> torch.Tensor:
        """Colour the sketch (B, 1, H, W) with a style code (None: the MLP's code of the sketch):
        (B, 3, H, W) in [0, 1]."""
        return self.generate(sketch, style, regions).fake

    # -- training

    def perceptual_network(self) -> nn.Module | None:
        """The frozen ImageNet VGG19 of the perceptual loss, or None (logged once, with the
        reason) when its weights are not available locally."""
        if not self._perceptual:
            from tinct.metrics.weights import WeightsError, WeightsUnavailable
            from tinct.nn.vgg import load_vgg19

            try:
                network = load_vgg19(self.config.vgg_weights)
            except WeightsUnavailable as error:
                log.warning("RASC: perceptual loss disabled: %s", error.reason)
                network = None
            except WeightsError as error:
                log.warning("RASC: perceptual loss disabled: %s", error)
                network = None
            self._perceptual.append(network)
        return self._perceptual[0]

    def _logits(self, sketch: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        signed = to_signed(image)
        if self.config.conditional:
            signed = torch.cat([to_signed(sketch).to(signed), signed], dim=1)
        return self.discriminator(signed)

    def generator_step(
        self, batch: dict, *, progress: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float], dict[str, torch.Tensor]]:
        """One generator loss: eq. 6 (non-saturating) + eq. 7 when VGG19 is available (+ the
        ``weight_l1`` deviation's pixel L1 when it is set).

        batch: ``"sketch"`` (B, 1, H, W) and ``"color"`` (B, 3, H, W) in [0, 1]; the region
        map is the sketch's trapped-ball regions, computed here. progress is unused (no
        schedule); generator draws the random codes of ``random_style`` (it may live on another
        device). The code is the MLP's code of the sketch (the paper), or for a
        ``random_style`` share of the samples N(0, I) (GAN loss only for those).

        Returns ``(loss, logs, carry)``: logs ``loss_g``, the unweighted ``adv`` and, with
        VGG19, ``perceptual`` (mean over the samples it applies to), ``l1`` likewise, and ``random`` (the share
        of random codes); carry ``{"fake": (B, 3, H, W) in [0, 1], not detached, "real": the
        ground truth}``.
        """
        sketch, target = check_batch(batch)
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be in [0, 1], got {progress}")
        config = self.config
        height, width = sketch.shape[-2:]
        features, code, padded = self.encode(sketch)
        random = torch.zeros(sketch.shape[0], dtype=torch.bool, device=sketch.device)
        if config.random_style > 0:
            draws = cpu_generator(generator)
            random = (torch.rand(sketch.shape[0], generator=draws) < config.random_style).to(sketch.device)
            noise = torch.randn(code.shape, generator=draws).to(code)
            code = torch.where(random[:, None], noise, code)
        image, _ = self.decode(features, code, padded)
        fake = from_signed(image.float())[..., :height, :width]
        adv = logistic_generator_loss(self._logits(sketch, fake))
        loss = config.weight_adv * adv
        logs = {"adv": float(adv.detach()), "random": float(random.float().mean())}
        keep = (~random).float()
        if config.weight_l1:
            pixel = ((fake - target).abs().flatten(1).mean(dim=1) * keep).sum() / keep.sum().clamp_min(1.0)
            loss = loss + config.weight_l1 * pixel
            logs["l1"] = float(pixel.detach())
        vgg = self.perceptual_network() if config.weight_perceptual else None
        if vgg is not None:
            vgg = vgg.to(sketch.device)
            distance = perceptual_distance(vgg(fake), vgg(target))  # (B,)
            perceptual = (distance * keep).sum() / keep.sum().clamp_min(1.0)
            loss = loss + config.weight_perceptual * perceptual
            logs["perceptual"] = float(perceptual.detach())
        logs["loss_g"] = float(loss.detach())
        return loss, logs, {"fake": fake, "real": target}

    def discriminator_step(self, batch: dict, carry: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 6 for D on ``carry["real"]`` vs ``carry["fake"].detach()``, times ``weight_adv``;
        plus ``r1_gamma / 2 * mean |∇ D(real)|²`` when ``r1_gamma`` > 0. Logs ``loss_d`` (and ``r1``)."""
        sketch, _ = check_batch(batch)
        real, fake = carry["real"], carry["fake"]
        if fake.shape != real.shape:
            raise ValueError(f"fake must be (B, 3, H, W) = {tuple(real.shape)}, got {tuple(fake.shape)}")
        r1 = self.config.r1_gamma > 0
        if r1:
            real = real.detach().requires_grad_(True)
        logits_real = self._logits(sketch, real)
        loss = self.config.weight_adv * logistic_discriminator_loss(logits_real, self._logits(sketch, fake.detach()))
        logs = {}
        if r1:
            (gradient,) = torch.autograd.grad(logits_real.float().sum(), real, create_graph=True)
            penalty = gradient.float().pow(2).flatten(1).sum(dim=1).mean()
            loss = loss + 0.5 * self.config.r1_gamma * penalty
            logs["r1"] = float(penalty.detach())
        return loss, {"loss_d": float(loss.detach()), **logs}

    # -- inference

    @torch.no_grad()
    def prepare(self, sketch: torch.Tensor) -> dict:
        """The sketch's region map ``{"regions": (B, S, S) int64}`` (:func:`region_map`); ``{}``
        for the ``no_regions`` variant."""
        return {"regions": region_map(sketch)} if self.uses_regions else {}

    @torch.no_grad()
    def paint(self, inputs: Inputs) -> torch.Tensor:
        """The sketch painted in the style ``inputs.style`` (B or 1, style_dim); None = the
        default seed's code (:meth:`default_code`)."""
        return self.paint_details(inputs)[0]

    @torch.no_grad()
    def paint_details(self, inputs: Inputs) -> tuple[torch.Tensor, dict]:
        """The output and ``{"code": (B, style_dim)}``, the code it was painted with."""
        style = inputs.style if inputs.style is not None else self.default_code()
        out = self.generate(inputs.sketch, style, inputs.prepared.get("regions"))
        return out.fake, {"code": out.code}

    @torch.no_grad()
    def colorize(self, sketch: torch.Tensor, style: torch.Tensor | None = None, *,
                 regions: torch.Tensor | None = None) -> torch.Tensor:
        """Paint the sketch (B, 1, H, W) in a style (B or 1, style_dim); None = the default
        seed's code. Returns (B, 3, H, W) in [0, 1]."""
        return self(sketch, self.default_code() if style is None else style, regions)
