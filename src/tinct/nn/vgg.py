"""VGG19 feature taps (Simonyan & Zisserman 2015) for perceptual and style losses.

SCFT compares ``relu1_1 ... relu5_1`` of an ImageNet VGG19 (and RASC's perceptual loss uses
the same layers). The network is written out here, in torchvision's ``features`` layout
(keys ``features.N.weight``) so that torchvision's ImageNet file ``vgg19-dcbb9e9d.pth``
loads as it is; only the layers up to ``relu5_1`` (index 29) are built, and the file's
deeper convolutions and classifier are ignored.

The weights can only come from a local file, found as the metric weights are
(:mod:`tinct.metrics.weights`): an explicit file or folder, else ``$TINCT_WEIGHTS_DIR``,
else ``$TINCT_CACHE_DIR/weights`` (``~/.cache/tinct/weights``), by the standard name or
the same stem with ``.safetensors``. :func:`load_vgg19` raises when the file is missing
or does not fit; there is no random-weight fallback.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from tinct.metrics.weights import WeightsFile, load_weights

VGG19_WEIGHTS = WeightsFile(
    name="vgg19-dcbb9e9d.pth",
    description="VGG19 ImageNet weights (torchvision) for the perceptual and style losses",
    source="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# conv widths of VGG19 up to conv5_1 ("M" = 2x2 max-pool)
_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
# what torchvision's file holds beyond conv5_1
_UNUSED_PREFIXES = ("features.30.", "features.32.", "features.34.", "classifier.")


class VGG19Features(nn.Module):
    """VGG19 up to ``relu5_1``: RGB ``(B, 3, H, W)`` in [0, 1] -> the five ``relu{l}_1`` maps.

    The input is normalised with the ImageNet mean and standard deviation first. Outputs
    have 64, 128, 256, 512, 512 channels at 1, 1/2, 1/4, 1/8, 1/16 of the input size.
    """

    channels = (64, 128, 256, 512, 512)
    taps = (1, 6, 11, 20, 29)  # indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for out_channels in _LAYOUT:
            if out_channels == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
                in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"VGG19Features expects RGB (B, 3, H, W) in [0, 1], got {tuple(image.shape)}")
        x = (image - self.mean) / self.std
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                outputs.append(x)
        return outputs


def load_vgg19(path: str | os.PathLike | None = None) -> VGG19Features:
    """The ImageNet VGG19 features from a local file, frozen and in eval mode.

    path: the weight file or a folder holding it; None searches the standard folders
    (see the module docstring). Raises :class:`tinct.metrics.weights.WeightsUnavailable`
    (with a ``reason`` naming every place searched) when there is no file, and
    :class:`tinct.metrics.weights.WeightsError` when the file does not fit.
    """
    network = VGG19Features()
    load_weights(network, VGG19_WEIGHTS, path, ignore_prefixes=_UNUSED_PREFIXES)
    network.requires_grad_(False)
    return network.eval()
