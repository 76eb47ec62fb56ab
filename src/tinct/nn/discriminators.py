"""Discriminators and the pix2pix weight initialisation.

``NLayerDiscriminator`` is pix2pix's PatchGAN (Isola et al. 2017), the discriminator of the
GuidingPainter official code: 4×4 convolutions, stride 2 for the first ``num_layers``, then
two stride-1 layers; BatchNorm and LeakyReLU(0.2) between; one raw score per patch (no
sigmoid: the LSGAN loss takes raw scores). A conditional discriminator gets the condition
concatenated to the image on the channel axis, e.g. ``concat(sketch, image)``.
"""

from __future__ import annotations

import torch
from torch import nn


class NLayerDiscriminator(nn.Module):
    """PatchGAN: ``(B, in_channels, H, W) -> (B, 1, h, w)`` patch scores (logits).

    With ``num_layers = 3`` one score sees a 70×70 receptive field; the output side is
    ``floor(side / 2**num_layers) - 2``, so H and W must be at least ``3 * 2**num_layers``
    (24 px for 3 layers).

    Args:
        in_channels: channels of the (conditioned) input, e.g. 1 + 3 for sketch + RGB.
        base_channels: width of the first layer (64 in pix2pix); widths double per layer up
            to 8× the base.
        num_layers: number of stride-2 layers (3 in pix2pix and GuidingPainter).
    """

    def __init__(self, *, in_channels: int, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        if in_channels < 1 or base_channels < 1 or num_layers < 1:
            raise ValueError(
                f"NLayerDiscriminator needs positive in_channels, base_channels, num_layers; got "
                f"{in_channels}, {base_channels}, {num_layers}"
            )
        self.in_channels = in_channels
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_channels, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width = base_channels
        for layer in range(1, num_layers + 1):
            stride = 2 if layer < num_layers else 1
            next_width = base_channels * min(2**layer, 8)
            layers += [
                nn.Conv2d(width, next_width, kernel_size=4, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(next_width),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width = next_width
        layers.append(nn.Conv2d(width, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"discriminator expects (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        return self.model(image)


def pix2pix_init_(module: nn.Module, *, std: float = 0.02) -> nn.Module:
    """pix2pix "normal" initialisation, in place (the GuidingPainter code's default for G and D).

    Conv/Linear weights ~ N(0, std), their biases 0; BatchNorm weights ~ N(1, std), biases 0.
    Returns ``module``.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)
    return module
