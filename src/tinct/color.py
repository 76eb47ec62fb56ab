"""The one place for colour-space and value-range conversions (kornia underneath).

Public tensors are RGB in ``[0, 1]``; networks may work in ``[-1, 1]`` or Lab. Lab is
kornia's: L in ``[0, 100]``, a and b roughly in ``[-110, 110]``.
"""

from __future__ import annotations

import torch
from kornia.color import lab_to_rgb as _lab_to_rgb
from kornia.color import rgb_to_grayscale as _rgb_to_grayscale
from kornia.color import rgb_to_lab as _rgb_to_lab

AB_SCALE = 110.0


def _check_rgb(image: torch.Tensor) -> None:
    if image.ndim < 3 or image.shape[-3] != 3:
        raise ValueError(f"expected RGB of shape (..., 3, H, W), got {tuple(image.shape)}")


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` RGB in [0, 1] -> Lab (L in [0, 100], ab in ~[-110, 110])."""
    _check_rgb(image)
    return _rgb_to_lab(image.clamp(0, 1))


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab -> ``(..., 3, H, W)`` RGB in [0, 1] (out-of-gamut colours clipped)."""
    _check_rgb(lab)
    return _lab_to_rgb(lab, clip=True)


def rgb_to_gray(image: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` RGB in [0, 1] -> ``(..., 1, H, W)`` luminance in [0, 1]."""
    _check_rgb(image)
    return _rgb_to_grayscale(image)


def to_signed(image: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return image * 2.0 - 1.0


def from_signed(image: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (clamped)."""
    return ((image + 1.0) * 0.5).clamp(0, 1)


def lab_to_unit(lab: torch.Tensor) -> torch.Tensor:
    """Lab -> network range: L/100 in [0, 1], ab/110 in ~[-1, 1]."""
    return torch.cat([lab[..., :1, :, :] / 100.0, lab[..., 1:, :, :] / AB_SCALE], dim=-3)


def unit_to_lab(normalized: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`lab_to_unit`."""
    return torch.cat([normalized[..., :1, :, :] * 100.0, normalized[..., 1:, :, :] * AB_SCALE], dim=-3)
