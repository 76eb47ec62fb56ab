"""Region-segmentation fusion, "CWR" (Cao, Mo and Gao, Pacific Graphics 2021): Tag2pix with
explicit region segmentation, fed to the generator by direct concatenation or a dual-branch
decoder.

The paper (§3): a GAN colours a line art x from colour tags t. Its generator is Tag2pix's
(Kim et al. 2019, ICCV): a sketch encoder, the tag vector turned into a spatial map and
concatenated at the bottleneck, a U-Net colour decoder and a guide decoder with its own L1
term. Region segmentation enters in one of two ways (Fig. 2):

- direct concatenation (§3.2.1): the generator's input is concat(x, ŝ), ŝ the skeleton map
  (region boundaries) that DanbooRegion's trained network predicts from x; nothing else
  changes;
- dual-branch (§3.2.2): one shared encoder, two decoders, colour and skeleton (1 channel);
  every colour-decoder block takes concat(previous colour features, mirrored encoder
  features, the same-level skeleton-decoder features), and the skeleton branch is trained
  with L_seg = L1(s, G_s(x)) (eq. 1).

Losses (eqs. 2-8): L_rec = L1(y, G_c) + β L1(y, G_g) (β = 0.9, G_g the guide decoder);
L_adv the log GAN loss; L_cls the discriminator's multi-label tag classification (ACGAN) on
real and fake images. Two-step training (Tag2pix's "changing loss"): a segmentation step
(L_D = −L_adv, L_G = L_adv + λ_rec L_rec + λ_seg L_seg) for 5 epochs, then a colorization
step that adds λ_cls L_cls to both, for 35 epochs. λ_rec = 1000, λ_seg = 0.9, λ_cls = 40,
Adam lr 2e-4 for G and D (§4.2); Tag2pix's β = (0.5, 0.999).

What tinct does differently, and why:

- the skeleton is the 1-px boundary map of tinct's trapped-ball regions
  (:func:`tinct.regions.region_skeleton`), not DanbooRegion's network, whose weights cannot be
  had here. Concat mode computes it from the input sketch (in :meth:`CWR.prepare` at
  inference, in the generator step in training, as SCFT's skeleton variant does), drawn as
  ink (boundary −1, elsewhere +1). The dual branch's target is ``batch["skeleton_target"]``
  (the data side computes it from the sketch before gap augmentation, so the branch learns
  to close gaps), else the skeleton of the batch's sketch; the branch's tanh output is
  compared with it in [−1, 1] (boundary +1). The released code takes L_seg between a tanh
  output and a [0, 1] target;
- **L_seg is on** (λ_seg = 0.9). The released dual-branch code comments the term out, so
  its skeleton branch gets no supervision at all and is only extra colour-decoder capacity —
  a bug; the paper's eqs. 5 and 8 have it. tinct follows the equations: λ_seg L_seg beside
  λ_rec L_rec (the commented-out line had put it inside the λ_rec bracket, weight 900);
- tags are tinct's colour tags (:data:`tinct.data.tags.TAGS`, named colours of our data),
  not Danbooru's; ``Config.tags`` is the model's vocabulary, a subset of TAGS (training
  batches carry a multi-hot over all of TAGS and the model takes its own columns). There are
  no colour-invariant tags, so Tag2pix's CIT branch (a pretrained SE-ResNeXt sketch feature
  network, ``--no_cit``) is left out; the discriminator has one tag head;
- sizes scaled for a CPU and for checkpoints under 25 MB: ``base_channels`` 12 (encoder
  widths 12 ... 192; Tag2pix: 16 ... 256, where the dual-branch generator alone holds 8.6 M
  parameters), every colour-decoder level has ``decoder_blocks`` = 1 SE-Cat bottleneck
  block (Tag2pix: 12, 8, 5, 5), and the discriminator is a plain conv stack
  (``disc_channels`` 16, ``disc_layers`` 5) instead of Tag2pix's SE-ResNeXt with 512
  channels. The decoders keep Tag2pix's layout and width ratios;
- fully convolutional: Tag2pix maps the tags with a linear layer to a map of the bottleneck's
  fixed size (input/16); here it maps to a ``tag_grid`` × ``tag_grid`` map (8 = 128/16, the
  same at the training size) resized bilinearly to the bottleneck at other sizes, and inputs
  whose sides are not multiples of ``2**depth`` are padded (replicate) and cropped back;
- one optimiser step order for all tinct GANs: G, then D on the detached fake (Tag2pix: D
  first, then G, with two generator passes). The tag-classification term is computed in
  both steps and weighted 0 in the segmentation step, so the same parameters are optimised
  throughout (Adam's state of an unused head stays zero) and the logs show it;
- the learning rate follows tinct's trainer schedule (constant, then linear decay from
  ``decay_start``); Tag2pix keeps it constant. Tag2pix's late sketch-brightness jitter is
  not used.

Choices the papers leave open, taken from the official code (Ricardo-L-C/
ColorizationWithRegion over blandocs/Tag2Pix): encoder levels of two 3×3 convs with
LeakyReLU(0.2), no normalisation, the first at full resolution, the others starting with a
stride-2 conv; the tag map is ``tag_channels`` = 32 channels through three 3×3 convs to
``tag_features`` = 64 (LeakyReLU, LeakyReLU, tanh); colour-decoder levels are SE-Cat
bottleneck blocks (ResNeXt, cardinality 16, BatchNorm; the squeeze-excitation gate also sees
a linear embedding of the tags — Tag2pix's colorFC, four linear layers without activation,
here the one linear map they compose to) then a PixelShuffle ×2; skeleton-decoder levels
are 3×3 conv, LeakyReLU, PixelShuffle ×2; the output heads are 3×3 conv, LeakyReLU, 3×3
conv, tanh; the guide decoder reads the first colour block's output through transposed
convs; the discriminator sees the image alone (not the sketch), pools globally and has an
adversarial and a tag head; Kaiming initialisation of convs and linears. L1 is computed in
[−1, 1], where λ_rec = 1000 was set: with it the adversarial and tag terms are a fraction of
a percent of the generator's loss, as in the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from tinct.color import from_signed, to_signed
from tinct.data.tags import TAG_INDEX, TAGS
from tinct.losses import l1_loss
from tinct.methods.base import GANMethod, Guidance, Inputs, Step
from tinct.methods.checks import check_batch, check_sketch
from tinct.nn.unet import pad_replicate, upsample_bilinear
from tinct.regions import region_skeleton

FUSIONS = ("none", "concat", "dual")

# ----------------------------------------------------------------------------- functional parts


def adversarial_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """The log GAN loss of eq. 3 on raw scores (B, 1): ``-log D`` for real targets,
    ``-log(1 - D)`` for fake ones (D = sigmoid). The generator's non-saturating form is
    ``adversarial_loss(D(fake), real=True)``. Returns a scalar."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def tag_classification_loss(logits: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
    """Eq. 6, one image set: ``-log D_cls(t | y)`` as binary cross-entropy per tag, averaged over
    the batch and the tags (Tag2pix's ``BCELoss`` on sigmoid outputs).

    logits: (B, T) raw tag scores; tags: (B, T) multi-hot in {0, 1}. Returns a scalar.
    """
    if logits.ndim != 2 or logits.shape != tags.shape:
        raise ValueError(f"logits and tags must both be (B, T), got {tuple(logits.shape)} and {tuple(tags.shape)}")
    return F.binary_cross_entropy_with_logits(logits, tags.to(logits.dtype))


def vocabulary_columns(vocabulary: tuple[str, ...]) -> list[int]:
    """Indices into :data:`tinct.data.tags.TAGS` of the vocabulary's tags, in its order."""
    unknown = [tag for tag in vocabulary if tag not in TAG_INDEX]
    if unknown:
        raise ValueError(f"unknown tags {unknown}; the vocabulary must be taken from tinct.data.tags.TAGS")
    return [TAG_INDEX[tag] for tag in vocabulary]


# ----------------------------------------------------------------------------- config


@dataclass
class Config:
    """CWR hyper-parameters; defaults are the paper's values (Tag2pix's code where it is silent),
    sizes scaled for a CPU (see the module docstring)."""

    method: str = "cwr"
    fusion: str = "none"  # "none": plain Tag2pix; "concat": input = concat(sketch, skeleton); "dual": skeleton branch
    tags: tuple[str, ...] = tuple(TAGS)  # the model's vocabulary, a subset of tinct.data.tags.TAGS
    base_channels: int = 12  # encoder level l has base * 2**l channels (Tag2pix: 16; see the module docstring)
    depth: int = 4  # stride-2 encoder levels (Tag2pix: 4; bottleneck at input / 16)
    tag_channels: int = 32  # channels of the linear tag map (Tag2pix: 32)
    tag_features: int = 64  # channels of the tag map after its convs, and of the SE-Cat tag embedding (Tag2pix: 64)
    tag_grid: int = 8  # side of the linear tag map (Tag2pix: input / 16 = 8 at 128 px)
    decoder_blocks: int = 1  # SE-Cat blocks per colour-decoder level (Tag2pix: 12, 8, 5, 5)
    cardinality: int = 16  # groups of the ResNeXt 3×3 convs (at most; a divisor of the width)
    weight_adv: float = 1.0
    weight_rec: float = 1000.0  # λ_rec, on L1 in [-1, 1]
    guide_beta: float = 0.9  # β of eq. 2
    weight_cls: float = 40.0  # λ_cls, in D's and G's losses (colorization step only)
    weight_seg: float = 0.9  # λ_seg (dual only)
    segmentation_until: float = 0.125  # fraction of training in the segmentation step (paper: 5 of 40 epochs)
    lr: float = 2e-4  # G and D
    betas: tuple[float, float] = (0.5, 0.999)
    disc_channels: int = 16  # first width of the discriminator (doubling per level, at most 8×)
    disc_layers: int = 5  # stride-2 levels of the discriminator

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if isinstance(self.tags, str):
            raise ValueError(f"tags must be a list of tags, got the string {self.tags!r}")
        self.tags = tuple(self.tags)
        if not self.tags:
            raise ValueError("tags (the model's vocabulary) must name at least one tag of tinct.data.tags.TAGS")
        if len(set(self.tags)) != len(self.tags):
            raise ValueError(f"tags must not repeat, got {list(self.tags)}")
        vocabulary_columns(self.tags)
        sizes = ("base_channels", "depth", "tag_channels", "tag_features", "tag_grid", "decoder_blocks",
                 "cardinality", "disc_channels", "disc_layers")
        small = [f"{name}={getattr(self, name)}" for name in sizes if getattr(self, name) < 1]
        if small:
            raise ValueError(f"sizes must be at least 1, got {', '.join(small)}")
        if not 0.0 <= self.segmentation_until <= 1.0:
            raise ValueError(f"segmentation_until is a fraction of training in [0, 1], got {self.segmentation_until}")
        weights = ("weight_adv", "weight_rec", "guide_beta", "weight_cls", "weight_seg")
        negative = [f"{name}={getattr(self, name)}" for name in weights if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {', '.join(negative)}")
        self.betas = tuple(self.betas)

    @property
    def widths(self) -> list[int]:
        """Encoder widths per level, full resolution first: ``base * 2**l`` for l = 0..depth."""
        return [self.base_channels * 2**level for level in range(self.depth + 1)]


# ----------------------------------------------------------------------------- networks


def _leaky() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class EncoderLevel(nn.Sequential):
    """Two 3×3 convs with LeakyReLU(0.2), the first with ``stride``; no normalisation (Tag2pix)."""

    def __init__(self, *, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1), _leaky(),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1), _leaky(),
        )


class SketchEncoder(nn.Module):
    """``(B, in_channels, H, W) -> [f_0, ..., f_depth]``, f_l of (B, widths[l], H / 2^l, W / 2^l);
    H and W multiples of ``2**depth``."""

    def __init__(self, *, in_channels: int, widths: list[int]) -> None:
        super().__init__()
        self.in_channels = in_channels
        inputs = [in_channels, *widths[:-1]]
        self.levels = nn.ModuleList(
            EncoderLevel(in_channels=i, out_channels=o, stride=2 if level else 1)
            for level, (i, o) in enumerate(zip(inputs, widths))
        )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"encoder expects (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        features = []
        for level in self.levels:
            image = level(image)
            features.append(image)
        return features


class TagEncoder(nn.Module):
    """Colour tags -> the bottleneck's tag map and the SE-Cat tag embedding.

    ``forward(tags (B, T), size=(h, w))`` returns ``(map (B, tag_features, h, w), embedding
    (B, tag_features))``: a linear layer gives a (tag_channels, grid, grid) map, resized
    bilinearly to (h, w) when it differs, then three 3×3 convs (LeakyReLU, LeakyReLU, tanh);
    the embedding is a linear map of the tags.
    """

    def __init__(self, *, num_tags: int, tag_channels: int, tag_features: int, grid: int) -> None:
        super().__init__()
        self.num_tags, self.tag_channels, self.grid = num_tags, tag_channels, grid
        self.to_map = nn.Linear(num_tags, tag_channels * grid * grid)
        self.convs = nn.Sequential(
            nn.Conv2d(tag_channels, tag_features, kernel_size=3, padding=1), _leaky(),
            nn.Conv2d(tag_features, tag_features, kernel_size=3, padding=1), _leaky(),
            nn.Conv2d(tag_features, tag_features, kernel_size=3, padding=1), nn.Tanh(),
        )
        self.embedding = nn.Linear(num_tags, tag_features)

    def forward(self, tags: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        if tags.ndim != 2 or tags.shape[1] != self.num_tags:
            raise ValueError(f"tags must be (B, {self.num_tags}), got {tuple(tags.shape)}")
        grid = self.to_map(tags).reshape(-1, self.tag_channels, self.grid, self.grid)  # (B, tag_channels, g, g)
        if tuple(size) != (self.grid, self.grid):
            grid = upsample_bilinear(grid, tuple(size))  # (B, tag_channels, h, w)
        return self.convs(grid), self.embedding(tags)


class SECat(nn.Module):
    """Tag2pix's SE-Cat gate: ``x * sigmoid(fc(concat(avgpool(x), embedding)))`` per channel.

    x: (B, C, H, W); embedding: (B, E). Reduction 16 (at least one hidden unit).
    """

    def __init__(self, *, channels: int, embedding: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels + embedding, hidden, bias=False), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))  # (B, C)
        gate = self.fc(torch.cat([pooled, embedding.to(pooled.dtype)], dim=1))  # (B, C)
        return x * gate[:, :, None, None]


class SECatBottleneck(nn.Module):
    """ResNeXt bottleneck with an SE-Cat gate: 1×1 conv to ``planes``, grouped 3×3, 1×1 to
    ``4 planes`` (BatchNorm after each, ReLU between), the gate, plus the shortcut (a 1×1 conv +
    BatchNorm when the width changes), ReLU. ``(B, in, H, W) -> (B, 4 planes, H, W)``."""

    def __init__(self, *, in_channels: int, planes: int, embedding: int, cardinality: int) -> None:
        super().__init__()
        out_channels = 4 * planes
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, planes, kernel_size=1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, planes, kernel_size=3, padding=1, groups=math.gcd(cardinality, planes), bias=False),
            nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, out_channels, kernel_size=1, bias=False), nn.BatchNorm2d(out_channels),
        )
        self.gate = SECat(channels=out_channels, embedding=embedding)
        self.shortcut = (nn.Identity() if in_channels == out_channels else nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), nn.BatchNorm2d(out_channels)))

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return F.relu(self.gate(self.body(x), embedding) + self.shortcut(x))


class ColorBlock(nn.Module):
    """One colour-decoder level: ``blocks`` :class:`SECatBottleneck` then PixelShuffle ×2.
    ``(B, in, H, W), embedding (B, E) -> (B, out, 2H, 2W)``."""

    def __init__(self, *, in_channels: int, out_channels: int, embedding: int, blocks: int, cardinality: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.blocks = nn.ModuleList(
            SECatBottleneck(in_channels=in_channels if i == 0 else 4 * out_channels, planes=out_channels,
                            embedding=embedding, cardinality=cardinality)
            for i in range(blocks)
        )
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.in_channels:
            raise ValueError(f"colour block expects {self.in_channels} channels, got {tuple(x.shape)}")
        for block in self.blocks:
            x = block(x, embedding)
        return self.shuffle(x)


class SkeletonBlock(nn.Sequential):
    """One skeleton-decoder level: 3×3 conv to ``4 out``, LeakyReLU(0.2), PixelShuffle ×2.
    ``(B, in, H, W) -> (B, out, 2H, 2W)``."""

    def __init__(self, *, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.Conv2d(in_channels, 4 * out_channels, kernel_size=3, padding=1), _leaky(),
                         nn.PixelShuffle(2))


class OutputHead(nn.Sequential):
    """3×3 conv, LeakyReLU(0.2), 3×3 conv to ``out_channels``, tanh: values in [-1, 1]."""

    def __init__(self, *, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1), _leaky(),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1), nn.Tanh(),
        )


class GuideDecoder(nn.Sequential):
    """Tag2pix's guide decoder: stride-2 transposed 3×3 convs (LeakyReLU) from ``widths[-1]``
    down the widths to ``widths[0]``, then a stride-1 one to RGB, tanh. With ``n = len(widths) - 1``
    ``(B, widths[-1], h, w) -> (B, 3, h 2^n, w 2^n)`` in [-1, 1]."""

    def __init__(self, *, widths: list[int]) -> None:
        layers: list[nn.Module] = []
        for wide, narrow in zip(widths[::-1], widths[::-1][1:]):
            layers += [nn.ConvTranspose2d(wide, narrow, kernel_size=3, stride=2, padding=1, output_padding=1),
                       _leaky()]
        layers += [nn.ConvTranspose2d(widths[0], 3, kernel_size=3, stride=1, padding=1), nn.Tanh()]
        super().__init__(*layers)


class TagDiscriminator(nn.Module):
    """ACGAN discriminator on the image alone: ``(B, 3, H, W) in [-1, 1] -> (adv (B, 1), tags (B, T))``
    raw scores.

    A 3×3 conv (LeakyReLU), then ``num_layers`` levels of a stride-2 3×3 conv and a 3×3 conv
    (BatchNorm from the second level on, LeakyReLU(0.2)), widths ``base * 2**(l+1)`` up to 8×
    base; global average pooling; one linear head for real/fake and one for the tags.
    """

    def __init__(self, *, in_channels: int, base_channels: int, num_layers: int, num_tags: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, kernel_size=3, padding=1), _leaky()]
        width = base_channels
        for level in range(num_layers):
            out = base_channels * min(2 ** (level + 1), 8)
            for conv in (nn.Conv2d(width, out, kernel_size=3, stride=2, padding=1, bias=level == 0),
                         nn.Conv2d(out, out, kernel_size=3, padding=1, bias=level == 0)):
                layers += [conv, nn.Identity() if level == 0 else nn.BatchNorm2d(out), _leaky()]
            width = out
        self.features = nn.Sequential(*layers)
        self.adversarial = nn.Linear(width, 1)
        self.classifier = nn.Linear(width, num_tags)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"discriminator expects (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        pooled = self.features(image).mean(dim=(2, 3))  # (B, width)
        return self.adversarial(pooled), self.classifier(pooled)


def kaiming_init_(module: nn.Module) -> nn.Module:
    """Tag2pix's initialisation, in place: convs Kaiming-normal (fan_out, ReLU gain), linears
    Kaiming-normal, their biases 0; BatchNorm weight 1, bias 0 (transposed convs keep PyTorch's)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)) and layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return module


class Generated(NamedTuple):
    """One generator pass, images in [0, 1] at the sketch's size."""

    fake: torch.Tensor  # (B, 3, H, W): the colour decoder's output, G_c
    guide: torch.Tensor  # (B, 3, H, W): the guide decoder's output, G_g
    skeleton: torch.Tensor | None  # (B, 1, H, W): the skeleton branch's output, G_s (1 = boundary); dual only


# ----------------------------------------------------------------------------- the model


class CWR(GANMethod):
    """Tag2pix generator (sketch encoder, tag map at the bottleneck, SE-Cat colour decoder,
    guide decoder), optionally with region segmentation fused in (``Config.fusion``), and the
    ACGAN discriminator (training only).

    Public tensors: sketch (B, 1, H, W) in [0, 1] (1 = paper); tags (B, T) multi-hot over
    ``config.tags`` (T = its length), zeros = no tags; outputs RGB (B, 3, H, W) in [0, 1].
    Inference methods do not switch modes: call ``.eval()`` first (``from_pretrained`` returns
    the model in eval mode).
    """

    name = "cwr"
    config_class = Config
    protocol = "tags"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config if config is not None else Config()
        widths, depth, dual = config.widths, config.depth, config.fusion == "dual"
        self._columns = vocabulary_columns(config.tags)
        num_tags = len(config.tags)
        self.encoder = SketchEncoder(in_channels=2 if config.fusion == "concat" else 1, widths=widths)
        self.tag_encoder = TagEncoder(num_tags=num_tags, tag_channels=config.tag_channels,
                                      tag_features=config.tag_features, grid=config.tag_grid)
        bottleneck = widths[depth] + config.tag_features
        # colour block k (k = 0..depth-1) gives widths[depth - k] channels at level depth - 1 - k; from k = 1
        # on it reads concat(colour, encoder skip, skeleton features) of its level l = depth - k: widths[l + 1],
        # widths[l] and fused[l] channels (the skeleton block k - 1 gives widths[l + 1]; none without the branch)
        fused = widths[1:] if dual else [0] * depth
        self.color_blocks = nn.ModuleList(
            ColorBlock(in_channels=(bottleneck if k == 0
                                    else widths[depth - k + 1] + widths[depth - k] + fused[depth - k]),
                       out_channels=widths[depth - k], embedding=config.tag_features,
                       blocks=config.decoder_blocks, cardinality=config.cardinality)
            for k in range(depth)
        )
        self.color_head = OutputHead(in_channels=widths[1] + widths[0] + fused[0], mid_channels=widths[1],
                                     out_channels=3)
        self.guide_decoder = GuideDecoder(widths=widths[1:])
        if dual:
            self.skeleton_blocks = nn.ModuleList(
                SkeletonBlock(in_channels=bottleneck if k == 0 else widths[depth - k + 1] + widths[depth - k],
                              out_channels=widths[depth - k])
                for k in range(depth)
            )
            self.skeleton_head = OutputHead(in_channels=widths[1] + widths[0], mid_channels=widths[1], out_channels=1)
        self.discriminator = TagDiscriminator(in_channels=3, base_channels=config.disc_channels,
                                              num_layers=config.disc_layers, num_tags=num_tags)
        kaiming_init_(self)

    # -- declarations

    @property
    def guidance(self) -> Guidance:
        """Colour tags from ``config.tags``."""
        return Guidance(tags=tuple(self.config.tags))

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """Sketch, colour and the multi-hot ``"tags"`` over :data:`~tinct.data.tags.TAGS`; the dual
        branch also ``"skeleton_target"`` (B, 1, H, W) in {0, 1}, the skeleton of the sketch
        before gap augmentation."""
        return ("sketch", "color", "tags") + (("skeleton_target",) if self.config.fusion == "dual" else ())

    @property
    def display_name(self) -> str:
        """``cwr``, ``cwr+concat`` or ``cwr+dual``."""
        return self.name if self.config.fusion == "none" else f"{self.name}+{self.config.fusion}"

    @property
    def cell_size(self) -> int:
        """Input sides are padded to a multiple of this: ``2**depth``."""
        return 2**self.config.depth

    # -- tags

    def select_tags(self, all_tags: torch.Tensor) -> torch.Tensor:
        """The model's columns of a multi-hot over all of TAGS: (B, len(TAGS)) -> (B, len(config.tags))."""
        if all_tags.ndim != 2 or all_tags.shape[1] != len(TAGS):
            raise ValueError(f"tags over tinct.data.tags.TAGS must be (B, {len(TAGS)}), got {tuple(all_tags.shape)}")
        return all_tags[:, self._columns].float()

    def batch_tags(self, batch: dict) -> torch.Tensor:
        """The model's tags of a training batch: its columns of ``batch["tags"]`` (B, len(TAGS)),
        or zeros (no tags) when the batch has none. Returns (B, len(config.tags)) float."""
        sketch = batch["sketch"]
        if "tags" not in batch:
            return sketch.new_zeros(sketch.shape[0], len(self.config.tags))
        tags = self.select_tags(batch["tags"])
        if tags.shape[0] != sketch.shape[0]:
            raise ValueError(f"batch['tags'] must have one row per sketch ({sketch.shape[0]}), got {tags.shape[0]}")
        return tags.to(sketch.device)

    # -- networks

    def _input(self, sketch: torch.Tensor, skeleton: torch.Tensor | None) -> torch.Tensor:
        """The encoder's input in [-1, 1]: the sketch, and for concat the skeleton drawn as ink."""
        check_sketch(sketch)
        if self.config.fusion != "concat":
            if skeleton is not None:
                raise ValueError(f"only fusion 'concat' takes a skeleton input; this model has {self.config.fusion!r}")
            return to_signed(sketch)
        if skeleton is None:
            skeleton = region_skeleton(sketch)
        if skeleton.shape != sketch.shape:
            raise ValueError(f"skeleton must be (B, 1, H, W) = {tuple(sketch.shape)}, got {tuple(skeleton.shape)}")
        return torch.cat([to_signed(sketch), to_signed(1.0 - skeleton.to(sketch))], dim=1)  # (B, 2, H, W)

    def generate(self, sketch: torch.Tensor, tags: torch.Tensor | None = None,
                 skeleton: torch.Tensor | None = None) -> Generated:
        """The generator: see :class:`Generated`.

        sketch: (B, 1, H, W) in [0, 1]; tags: (B, len(config.tags)) multi-hot, None = no tags;
        skeleton: (B, 1, H, W) in {0, 1}, the input skeleton of fusion "concat" (default:
        :func:`region_skeleton` of the sketch).
        """
        inputs = self._input(sketch, skeleton)
        batch, _, height, width = sketch.shape
        if tags is None:
            tags = sketch.new_zeros(batch, len(self.config.tags))
        if tags.shape != (batch, len(self.config.tags)):
            raise ValueError(f"tags must be (B, T) = {(batch, len(self.config.tags))} over the model's vocabulary, "
                             f"got {tuple(tags.shape)}")
        multiple = self.cell_size
        inputs = pad_replicate(inputs, bottom=-height % multiple, right=-width % multiple)
        skips = self.encoder(inputs)  # f_l: (B, widths[l], H / 2^l, W / 2^l)
        tag_map, embedding = self.tag_encoder(tags.to(inputs.dtype), tuple(skips[-1].shape[-2:]))
        bottleneck = torch.cat([skips[-1], tag_map], dim=1)  # (B, widths[depth] + tag_features, h, w)
        depth, dual = self.config.depth, self.config.fusion == "dual"
        color = self.color_blocks[0](bottleneck, embedding)  # (B, widths[depth], H / 2^(depth-1), W / 2^(depth-1))
        guide = self.guide_decoder(color)
        shape = self.skeleton_blocks[0](bottleneck) if dual else None  # the skeleton branch's features
        for k in range(1, depth):
            skip = skips[depth - k]
            fused = [color, skip] + ([shape] if dual else [])  # colour, encoder skip, same-level skeleton features
            color = self.color_blocks[k](torch.cat(fused, dim=1), embedding)
            if dual:
                shape = self.skeleton_blocks[k](torch.cat([shape, skip], dim=1))
        fake = self.color_head(torch.cat([color, skips[0]] + ([shape] if dual else []), dim=1))  # (B, 3, H', W')
        skeleton_out = None
        if dual:
            skeleton_out = from_signed(self.skeleton_head(torch.cat([shape, skips[0]], dim=1)))[..., :height, :width]
        return Generated(from_signed(fake)[..., :height, :width], from_signed(guide)[..., :height, :width],
                         skeleton_out)

    def forward(self, sketch: torch.Tensor, tags: torch.Tensor | None = None,
                skeleton: torch.Tensor | None = None) -> torch.Tensor:
        """Colour the sketch (B, 1, H, W) from its tags (B, T): (B, 3, H, W) in [0, 1]."""
        return self.generate(sketch, tags, skeleton).fake

    # -- training

    def skeleton_target(self, batch: dict) -> torch.Tensor:
        """The dual branch's target: ``batch["skeleton_target"]`` (B, 1, H, W) in {0, 1}, else the
        region skeleton of ``batch["sketch"]``."""
        sketch = batch["sketch"]
        target = batch.get("skeleton_target")
        if target is None:
            return region_skeleton(sketch)
        if target.shape != sketch.shape:
            raise ValueError(f"batch['skeleton_target'] must be (B, 1, H, W) = {tuple(sketch.shape)}, "
                             f"got {tuple(target.shape)}")
        return target.to(sketch)

    def colorization_step(self, progress: float) -> bool:
        """Whether ``progress`` (fraction of training done) is in the colorization step (with
        L_cls) rather than the segmentation step."""
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be in [0, 1], got {progress}")
        return progress >= self.config.segmentation_until

    def generator_step(
        self, batch: dict, *, progress: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float], dict[str, torch.Tensor]]:
        """Eq. 5 (segmentation step) or eq. 8 (colorization step) for G.

        batch: ``"sketch"`` (B, 1, H, W), ``"color"`` (B, 3, H, W) in [0, 1], ``"tags"`` (B,
        len(TAGS)) multi-hot (missing: no tags), for dual ``"skeleton_target"`` (see
        :meth:`skeleton_target`), for concat optionally a precomputed input ``"skeleton"``.
        progress picks the step; generator is unused (no random draws).

        Returns ``(loss, logs, carry)``: logs ``loss_g`` and the unweighted ``adv``, ``rec``
        (= ``rec_color`` + β ``rec_guide``, L1 in [-1, 1]), ``cls`` (weighted 0 in the
        segmentation step) and, for dual, ``seg``; carry ``{"fake": (B, 3, H, W) in [0, 1], not
        detached, "real": the target, "tags": (B, T)}``.
        """
        sketch, target = check_batch(batch)
        config = self.config
        weight_cls = config.weight_cls if self.colorization_step(progress) else 0.0
        tags = self.batch_tags(batch)
        out = self.generate(sketch, tags, batch.get("skeleton") if config.fusion == "concat" else None)
        signed_target = to_signed(target)
        rec_color = l1_loss(to_signed(out.fake), signed_target)
        rec_guide = l1_loss(to_signed(out.guide), signed_target)
        rec = rec_color + config.guide_beta * rec_guide
        logits_adv, logits_tags = self.discriminator(to_signed(out.fake))
        adv = adversarial_loss(logits_adv, real=True)  # non-saturating
        cls = tag_classification_loss(logits_tags, tags)
        loss = config.weight_adv * adv + weight_cls * cls + config.weight_rec * rec
        logs = {"adv": float(adv.detach()), "cls": float(cls.detach()), "rec": float(rec.detach()),
                "rec_color": float(rec_color.detach()), "rec_guide": float(rec_guide.detach())}
        if config.fusion == "dual":
            seg = l1_loss(to_signed(out.skeleton), to_signed(self.skeleton_target(batch)))
            loss = loss + config.weight_seg * seg
            logs["seg"] = float(seg.detach())
        logs["loss_g"] = float(loss.detach())
        return loss, logs, {"fake": out.fake, "real": target, "tags": tags}

    def discriminator_step(self, batch: dict, carry: dict, *, progress: float = 1.0
                           ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 4 (segmentation step) or eq. 7 (colorization step) for D: the log loss on
        ``carry["real"]`` vs ``carry["fake"].detach()`` times ``weight_adv``, plus λ_cls times
        the tag loss on both (the fakes labelled with the tags they were made from,
        ``carry["tags"]``). Logs ``loss_d``, ``adv_d`` and ``cls_d`` (unweighted)."""
        sketch, _ = check_batch(batch)
        real, fake = carry["real"], carry["fake"]
        if fake.shape != real.shape:
            raise ValueError(f"fake must be (B, 3, H, W) = {tuple(real.shape)}, got {tuple(fake.shape)}")
        tags = carry["tags"] if "tags" in carry else self.batch_tags(batch)
        weight_cls = self.config.weight_cls if self.colorization_step(progress) else 0.0
        adv_real, tags_real = self.discriminator(to_signed(real))
        adv_fake, tags_fake = self.discriminator(to_signed(fake.detach()))
        adv = adversarial_loss(adv_real, real=True) + adversarial_loss(adv_fake, real=False)
        cls = tag_classification_loss(tags_real, tags) + tag_classification_loss(tags_fake, tags)
        loss = self.config.weight_adv * adv + weight_cls * cls
        return loss, {"loss_d": float(loss.detach()), "adv_d": float(adv.detach()), "cls_d": float(cls.detach())}

    def training_steps(self) -> list[Step]:
        """G then D on every batch, all through training; each switches from the segmentation
        step to the colorization step at ``segmentation_until`` (Adam, lr 2e-4, β (0.5, 0.999))."""
        config = self.config

        def generator(batch, carry, *, progress, generator):
            loss, logs, out = self.generator_step(batch, progress=progress, generator=generator)
            return loss, logs, {"fake": out["fake"].detach(), "real": out["real"], "tags": out["tags"]}

        def discriminator(batch, carry, *, progress, generator):
            loss, logs = self.discriminator_step(batch, carry, progress=progress)
            return loss, logs, {}

        betas = tuple(config.betas)
        return [Step("generator", self.generator_parameters(), generator, lr=config.lr, betas=betas),
                Step("discriminator", self.discriminator_parameters(), discriminator, lr=config.lr, betas=betas)]

    # -- inference

    @torch.no_grad()
    def prepare(self, sketch: torch.Tensor) -> dict:
        """The input skeleton of fusion "concat" (:func:`region_skeleton`), ``{}`` otherwise."""
        return {"skeleton": region_skeleton(sketch)} if self.config.fusion == "concat" else {}

    @torch.no_grad()
    def paint(self, inputs: Inputs) -> torch.Tensor:
        """The sketch painted from ``inputs.tags`` (B, len(config.tags)); None = no tags."""
        return self.paint_details(inputs)[0]

    @torch.no_grad()
    def paint_details(self, inputs: Inputs) -> tuple[torch.Tensor, dict]:
        """The output, and for the dual branch its predicted skeleton ``{"skeleton": (B, 1, S,
        S) in [0, 1]}`` (1 = boundary), in one pass."""
        out = self.generate(inputs.sketch, inputs.tags, inputs.prepared.get("skeleton"))
        return out.fake, ({"skeleton": out.skeleton} if out.skeleton is not None else {})

    @torch.no_grad()
    def colorize(self, sketch: torch.Tensor, tags: torch.Tensor | None = None, *,
                 skeleton: torch.Tensor | None = None) -> torch.Tensor:
        """Paint the sketch (B, 1, H, W) from tags (B, len(config.tags)); None = no tags.
        Returns (B, 3, H, W) in [0, 1]."""
        return self(sketch, tags, skeleton)
