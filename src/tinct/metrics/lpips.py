"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features"), version 0.1.

``d(x, y) = Σ_l mean_hw( w_l · (f̂_l(x) - f̂_l(y))² )`` where ``f̂_l`` are backbone
activations at five ReLUs, normalised to unit length along channels, and ``w_l`` are
the published non-negative linear heads (1×1 convolutions without bias). Before the
backbone, the input in [-1, 1] goes through LPIPS's scaling layer
``(x - shift) / scale`` (shift ``[-.030, -.088, -.188]``, scale ``[.458, .448, .450]``).

Two files are needed per backbone, both by their standard names:

===========  ===========================  ===================================
``net``      backbone (torchvision)       linear heads (LPIPS v0.1)
===========  ===========================  ===================================
``"alex"``   ``alexnet-owt-7be5be79.pth``  ``alex.pth`` (``lin0..4.model.1.weight``)
``"vgg"``    ``vgg16-397923af.pth``        ``vgg.pth``
===========  ===========================  ===================================

The backbones keep torchvision's ``features`` layout (keys ``features.N.weight``) so the
torchvision files load as they are; their ``classifier.*`` keys are ignored. The heads
keep LPIPS's key names; LPIPS puts a dropout before each head's convolution (index 0 of
``model``), which only matters when training the heads, so here it is an identity and
the metric stays deterministic in ``train()`` mode.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from tinct.color import to_signed
from tinct.metrics.weights import (
    MetricResult,
    WeightsFile,
    WeightsUnavailable,
    find_weights,
    load_into,
    read_state_dict,
)

_TORCHVISION = "https://download.pytorch.org/models/"
_LPIPS_HEADS = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/"

BACKBONE_WEIGHTS = {
    "alex": WeightsFile(
        name="alexnet-owt-7be5be79.pth",
        description="AlexNet ImageNet weights (torchvision) for LPIPS",
        source=_TORCHVISION + "alexnet-owt-7be5be79.pth",
    ),
    "vgg": WeightsFile(
        name="vgg16-397923af.pth",
        description="VGG16 ImageNet weights (torchvision) for LPIPS",
        source=_TORCHVISION + "vgg16-397923af.pth",
    ),
}
HEAD_WEIGHTS = {
    "alex": WeightsFile(
        name="alex.pth",
        description="LPIPS v0.1 linear heads for AlexNet",
        source=_LPIPS_HEADS + "alex.pth (also in the `lpips` pip package, lpips/weights/v0.1/)",
    ),
    "vgg": WeightsFile(
        name="vgg.pth",
        description="LPIPS v0.1 linear heads for VGG16",
        source=_LPIPS_HEADS + "vgg.pth (also in the `lpips` pip package, lpips/weights/v0.1/)",
    ),
}
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


# --------------------------------------------------------------------------- backbones


class AlexNetFeatures(nn.Module):
    """torchvision AlexNet's ``features``; returns relu1 … relu5 (64, 192, 384, 256, 256 ch)."""

    channels = (64, 192, 384, 256, 256)
    taps = (1, 4, 7, 9, 11)  # indices of the ReLUs whose outputs LPIPS compares
    min_size = 31  # smallest input side for which relu5 is not empty

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return _tapped(self.features, x, self.taps)


def _vgg16_layers() -> list[nn.Module]:
    layers: list[nn.Module] = []
    in_channels = 3
    for out_channels in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if out_channels == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = out_channels
    return layers


class VGG16Features(nn.Module):
    """torchvision VGG16's ``features``; returns relu1_2, relu2_2, relu3_3, relu4_3, relu5_3."""

    channels = (64, 128, 256, 512, 512)
    taps = (3, 8, 15, 22, 29)
    min_size = 16

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*_vgg16_layers())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return _tapped(self.features, x, self.taps)


def _tapped(layers: nn.Sequential, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
    outputs = []
    for index, layer in enumerate(layers):
        x = layer(x)
        if index in taps:
            outputs.append(x)
            if index == taps[-1]:
                break
    return outputs


class LinearHead(nn.Module):
    """LPIPS's per-layer weights: a 1×1 convolution to one channel, no bias (key ``model.1.weight``)."""

    def __init__(self, in_channels: int):
        super().__init__()
        # index 0 is LPIPS's training-time dropout; an identity keeps the published keys
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(in_channels, 1, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# --------------------------------------------------------------------------- metric


def normalize_channels(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """``(B, C, H, W)`` → each pixel's feature vector divided by its length (+ eps)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """Learned perceptual distance between two image batches.

    ``net``: ``"alex"`` (the LPIPS default) or ``"vgg"``. ``pretrained=True`` (the
    default) loads the two published files: each from its explicit path (``backbone``,
    ``head``: a file or a folder) if given, else from ``weights`` (a folder holding
    both), else from the search folders of :mod:`tinct.metrics.weights`. A missing file
    raises :class:`~tinct.metrics.weights.WeightsUnavailable` (``.reason`` names it and
    the places searched); a file that does not fit raises
    :class:`~tinct.metrics.weights.WeightsError`. ``pretrained=False`` builds random
    weights explicitly, to fill with :meth:`load_weights`; until then ``forward``
    refuses to score.
    """

    def __init__(
        self,
        *,
        net: str = "alex",
        pretrained: bool = True,
        weights: str | os.PathLike | None = None,
        backbone: str | os.PathLike | None = None,
        head: str | os.PathLike | None = None,
    ):
        super().__init__()
        if net == "alex":
            self.backbone: nn.Module = AlexNetFeatures()
        elif net == "vgg":
            self.backbone = VGG16Features()
        else:
            raise ValueError(f"net must be 'alex' or 'vgg', got {net!r}")
        self.net = net
        # a ModuleDict so that its own state dict has the published keys lin0.model.1.weight ...
        self.heads = nn.ModuleDict({f"lin{i}": LinearHead(c) for i, c in enumerate(self.backbone.channels)})
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.eval()
        self.requires_grad_(False)
        self.weights_paths: tuple[str, str] | None = None
        if pretrained:
            self.load_weights(weights=weights, backbone=backbone, head=head)

    def load_weights(
        self,
        *,
        weights: str | os.PathLike | None = None,
        backbone: str | os.PathLike | None = None,
        head: str | os.PathLike | None = None,
    ) -> None:
        """Load the backbone and head files (see the class docstring for the lookup)."""
        backbone_path = find_weights(BACKBONE_WEIGHTS[self.net], weights if backbone is None else backbone)
        head_path = find_weights(HEAD_WEIGHTS[self.net], weights if head is None else head)
        backbone_state = read_state_dict(backbone_path)
        # torchvision files also hold the classifier, which LPIPS does not use
        load_into(self.backbone, backbone_state, source=str(backbone_path), ignore_prefixes=("classifier.",))
        load_into(self.heads, read_state_dict(head_path), source=str(head_path))
        self.weights_paths = (str(backbone_path), str(head_path))

    def forward(self, image_a: torch.Tensor, image_b: torch.Tensor) -> torch.Tensor:
        """``image_a, image_b: (B, 3, H, W)`` RGB in [0, 1] → distances ``(B,)`` (0 when equal)."""
        if self.weights_paths is None:
            raise RuntimeError("LPIPS has random weights (pretrained=False); load the published ones first")
        if image_a.ndim != 4 or image_a.shape[1] != 3 or image_a.shape != image_b.shape:
            raise ValueError(
                "expected two images of equal shape (B, 3, H, W), "
                f"got {tuple(image_a.shape)} and {tuple(image_b.shape)}"
            )
        if min(image_a.shape[-2:]) < self.backbone.min_size:
            raise ValueError(
                f"LPIPS-{self.net} needs images of at least {self.backbone.min_size} px, "
                f"got {tuple(image_a.shape[-2:])}"
            )
        batch = image_a.shape[0]
        both = torch.cat([image_a, image_b]).float()  # (2B, 3, H, W): one backbone pass
        features = self.backbone((to_signed(both) - self.shift) / self.scale)
        distance = both.new_zeros(batch)
        for feature, head in zip(features, self.heads.values()):
            normalized = normalize_channels(feature)
            squared = (normalized[:batch] - normalized[batch:]).pow(2)  # (B, C, h, w)
            distance = distance + head(squared).mean(dim=(1, 2, 3))
        return distance


def lpips_score(
    image_a: torch.Tensor,
    image_b: torch.Tensor,
    *,
    net: str = "alex",
    weights: str | os.PathLike | None = None,
    batch_size: int = 32,
) -> MetricResult:
    """Mean LPIPS over image pairs, or "unavailable" with the reason when a file is missing.

    ``image_a, image_b: (N, 3, H, W)`` RGB in [0, 1]; ``weights``: a folder holding the
    backbone and head files (default: the search folders).
    """
    if image_a.shape != image_b.shape:
        raise ValueError(f"expected images of equal shape, got {tuple(image_a.shape)} and {tuple(image_b.shape)}")
    name = f"lpips_{net}"
    try:
        metric = LPIPS(net=net, weights=weights)
    except WeightsUnavailable as missing:
        return MetricResult.unavailable(name, missing.reason)
    with torch.no_grad():
        distances = [metric(a, b) for a, b in zip(image_a.split(batch_size), image_b.split(batch_size))]
    return MetricResult(name, float(torch.cat(distances).mean()))
