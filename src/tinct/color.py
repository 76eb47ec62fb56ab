"""The one place for colour-space and value-range conversions (kornia underneath).

Public tensors are RGB in ``[0, 1]``; networks may work in ``[-1, 1]`` or Lab. Lab is
kornia's: L in ``[0, 100]``, a and b roughly in ``[-110, 110]``.
"""

from __future__ import annotations

import colorsys
import math
import re

import numpy as np
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


# ----------------------------------------------------------------------------- colours as text

Color = tuple[float, float, float]

_HEX = re.compile(r"#?([0-9a-fA-F]{6})(?:[0-9a-fA-F]{2})?|#?([0-9a-fA-F]{3})")
_FUNCTION = re.compile(r"(rgba?|hsla?)\(\s*([^)]*)\)", re.IGNORECASE)


def _channel(text: str, scale: float) -> float:
    """'128' (of ``scale``) or '50%' -> [0, 1]; ValueError outside."""
    text = text.strip()
    value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text) / scale
    if not 0.0 <= value <= 1.0:
        raise ValueError(text)
    return value


def _is_unit_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0.0 <= value <= 1.0)


def parse_color(value) -> Color:
    """A colour as users, hint files, the CLI and Gradio's picker write it -> RGB in [0, 1].

    Accepts ``#rrggbb``, ``rrggbb``, ``#rgb``, ``#rrggbbaa`` (alpha dropped), ``rgb(r, g, b)`` /
    ``rgba(r, g, b, a)`` (0-255 or percentages), ``hsl(h, s%, l%)`` / ``hsla(...)`` and a
    sequence of three numbers in [0, 1]. Raises ValueError naming the value otherwise. This
    is the only colour parser: the API, the CLI, hint files and the app all read colours here.
    """
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(_is_unit_number(v) for v in value):
        return tuple(float(v) for v in value)
    if isinstance(value, str):
        text = value.strip()
        if match := _HEX.fullmatch(text):
            digits = match.group(1) or "".join(2 * c for c in match.group(2))
            return tuple(int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
        if match := _FUNCTION.fullmatch(text):
            kind = match.group(1).lower()
            parts = [p for p in re.split(r"[\s,/]+", match.group(2).strip()) if p]
            try:
                if len(parts) not in (3, 4):
                    raise ValueError(text)
                if kind.startswith("rgb"):
                    return tuple(_channel(p, 255.0) for p in parts[:3])
                hue = float(parts[0].removesuffix("deg")) % 360.0 / 360.0
                saturation, lightness = _channel(parts[1], 100.0), _channel(parts[2], 100.0)
                return colorsys.hls_to_rgb(hue, lightness, saturation)
            except ValueError:
                pass
    raise ValueError(f"not a colour: {value!r} (write it as #rrggbb, e.g. #f2c641, or #rgb)")


def format_color(color: Color) -> str:
    """RGB in [0, 1] -> ``"#rrggbb"`` (lower case)."""
    return "#" + "".join(f"{round(min(max(float(c), 0.0), 1.0) * 255):02x}" for c in color)


def normalize_color(value) -> str:
    """Any colour :func:`parse_color` reads -> ``"#rrggbb"``."""
    return format_color(parse_color(value))


# ----------------------------------------------------------------------------- alpha


def over_white(rgba: np.ndarray, *, dtype=np.float32) -> np.ndarray:
    """Alpha-composite RGBA over white paper: the one compositing rule for sketches,
    references, renders and uploads (straight, not premultiplied, alpha).

    rgba: ``(H, W, 4)``, uint8 or float in [0, 1]. Returns ``(H, W, 3)``: float32 in [0, 1]
    (default), or uint8 (rounded) with ``dtype=np.uint8``.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA array, got {rgba.shape}")
    scale = 255.0 if rgba.dtype == np.uint8 else 1.0
    if dtype == np.uint8:
        alpha = rgba[..., 3:4].astype(np.float32) / scale
        rgb = rgba[..., :3].astype(np.float32) * (255.0 / scale)
        return np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    pixels = rgba.astype(np.float32) / scale if scale != 1.0 else rgba.astype(np.float32)
    alpha = pixels[..., 3:4]
    return pixels[..., :3] * alpha + (1.0 - alpha)
