"""The U-Net shared by GuidingPainter's segmentation and colorization networks and by the
point-hint colorizer.

Layout of the GuidingPainter official code (after milesial/Pytorch-UNet, bilinear variant):
``depth`` max-pool levels; every level is a double 3×3 conv + BatchNorm + ReLU block; the
decoder upsamples bilinearly, concatenates the encoder skip, and halves the channels in
its double conv. Channels with ``base_channels = b``: encoder ``b, 2b, ..., 2^(depth-1) b``,
bottleneck ``2^(depth-1) b``. No output activation: the caller applies its own (tanh for
colours, none for segment logits).

Differences from the official module, both harmless:

- convolutions followed by BatchNorm have no bias (BatchNorm's shift makes it redundant,
  and a redundant bias would get an exactly-zero gradient);
- inputs whose sides are not multiples of ``2^depth`` are padded (replicate, at the
  bottom/right) and the output is cropped back, so the network runs at any size; the
  official code pads every skip mismatch on the fly instead.

Padding and upsampling are written with ``cat``/``expand`` and two matrix products rather
than ``F.pad(mode="replicate")`` and ``F.interpolate(mode="bilinear")``: same values, but
their backward passes are deterministic on CUDA, where the built-in ones raise under
``torch.use_deterministic_algorithms(True)`` (Lightning's ``deterministic=True``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: ``(level, features) -> features``: replaces an encoder activation map (:meth:`UNet.forward`)
EncoderHook = Callable[[int, torch.Tensor], torch.Tensor]


def pad_replicate(image: torch.Tensor, *, bottom: int, right: int) -> torch.Tensor:
    """Repeat the last row ``bottom`` times and the last column ``right`` times.

    ``(B, C, H, W) -> (B, C, H + bottom, W + right)``; equals ``F.pad(image, (0, right, 0,
    bottom), mode="replicate")`` with a deterministic backward.
    """
    if bottom:
        image = torch.cat([image, image[..., -1:, :].expand(*image.shape[:-2], bottom, image.shape[-1])], dim=-2)
    if right:
        image = torch.cat([image, image[..., :, -1:].expand(*image.shape[:-1], right)], dim=-1)
    return image


def _interpolation_matrix(out_size: int, in_size: int, like: torch.Tensor) -> torch.Tensor:
    """(out_size, in_size) weights of 1-D linear interpolation with aligned corners,
    built in float64 on the CPU, returned with ``like``'s dtype and device."""
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    if in_size == 1 or out_size == 1:
        matrix[:, 0] = 1.0
        return matrix.to(like)
    position = torch.arange(out_size, dtype=torch.float64) * ((in_size - 1) / (out_size - 1))
    low = position.floor().long().clamp(max=in_size - 2)
    high_weight = position - low
    rows = torch.arange(out_size)
    matrix[rows, low] = 1.0 - high_weight
    matrix[rows, low + 1] = high_weight
    return matrix.to(like)


def upsample_bilinear(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with aligned corners: ``(B, C, h, w) -> (B, C, *size)``.

    Equals ``F.interpolate(image, size, mode="bilinear", align_corners=True)`` (up to
    rounding), computed as ``A_h @ image @ A_w^T`` so that the backward is deterministic.
    """
    rows = _interpolation_matrix(size[0], image.shape[-2], image)  # (H, h)
    cols = _interpolation_matrix(size[1], image.shape[-1], image)  # (W, w)
    return rows @ image @ cols.transpose(0, 1)  # (B, C, H, w) then (B, C, H, W)


class DoubleConv(nn.Sequential):
    """(3×3 conv → BatchNorm → ReLU) × 2; ``(B, in, H, W) -> (B, out, H, W)``."""

    def __init__(self, *, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        mid_channels = mid_channels or out_channels
        super().__init__(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    """2×2 max-pool then :class:`DoubleConv`; halves H and W."""

    def __init__(self, *, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels=in_channels, out_channels=out_channels))


class Up(nn.Module):
    """Bilinear ×2 upsampling, concatenation with the skip, :class:`DoubleConv`.

    ``in_channels`` counts the concatenation (skip + upsampled); the double conv's middle
    width is half of it, as in the official code.
    """

    def __init__(self, *, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = DoubleConv(in_channels=in_channels, out_channels=out_channels, mid_channels=in_channels // 2)

    def forward(self, features: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        upsampled = upsample_bilinear(features, tuple(skip.shape[-2:]))
        return self.conv(torch.cat([skip, upsampled], dim=1))  # (B, in_channels, H, W) -> (B, out, H, W)


class UNet(nn.Module):
    """Fully convolutional U-Net: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    Args:
        in_channels: input channels.
        out_channels: output channels (raw, no activation).
        base_channels: width of the first level (64 in the paper's code).
        depth: number of 2× poolings (4 in the paper's code). Any H, W >= 1 work: the input
            is padded internally to a multiple of ``2**depth`` and the output cropped back.
    """

    def __init__(self, *, in_channels: int, out_channels: int, base_channels: int = 64, depth: int = 4) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1 or base_channels < 2 or depth < 1:
            raise ValueError(
                f"UNet needs in_channels, out_channels >= 1, base_channels >= 2, depth >= 1; got "
                f"{in_channels}, {out_channels}, {base_channels}, {depth}"
            )
        self.in_channels = in_channels
        self.depth = depth
        widths = [base_channels * 2**level for level in range(depth)]  # encoder widths, shallow to deep
        self.inc = DoubleConv(in_channels=in_channels, out_channels=widths[0])
        # the deepest Down keeps the width (bilinear variant), so each Up sees skip + equal-width input
        self.downs = nn.ModuleList(
            Down(in_channels=widths[level], out_channels=widths[min(level + 1, depth - 1)]) for level in range(depth)
        )
        self.ups = nn.ModuleList(
            Up(in_channels=2 * widths[level], out_channels=widths[max(level - 1, 0)])
            for level in reversed(range(depth))
        )
        self.outc = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    @property
    def widths(self) -> list[int]:
        """Channels of the encoder's activation maps per level: level 0 (full resolution,
        after ``inc``) ... level ``depth`` (the bottleneck)."""
        return [self.inc[0].out_channels] + [down[1][3].out_channels for down in self.downs]

    def forward(self, image: torch.Tensor, *, encoder_hook: EncoderHook | None = None) -> torch.Tensor:
        """``encoder_hook(level, features) -> features``, when given, may replace each encoder
        activation map (level 0 = full resolution ... ``depth`` = the bottleneck; features of
        the padded input, ``(B, widths[level], H' / 2**level, W' / 2**level)``) before the next
        level and the decoder's skip read it (edge enhancement's add-ons). Without it the
        output is the plain U-Net's."""
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"UNet expects (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        height, width = image.shape[-2:]
        multiple = 2**self.depth
        pad_bottom, pad_right = -height % multiple, -width % multiple
        if pad_bottom or pad_right:
            image = pad_replicate(image, bottom=pad_bottom, right=pad_right)
        skips = [self.inc(image)]
        if encoder_hook is not None:
            skips[0] = encoder_hook(0, skips[0])
        for level, down in enumerate(self.downs, start=1):
            features = down(skips[-1])
            skips.append(features if encoder_hook is None else encoder_hook(level, features))
        features = skips.pop()  # bottleneck: (B, 2^(depth-1) b, H / 2^depth, W / 2^depth)
        for up in self.ups:
            features = up(features, skips.pop())
        return self.outc(features)[..., :height, :width]
