"""Joint geometric augmentation: the same random flip and crop for every map of a sample.

A sample is a dict of tensors that share one pixel grid: colour images and sketches
``(C, H, W)`` float, label maps ``(H, W)`` integer (regions) or bool. One random
horizontal flip and one random crop (then a resize to ``size``) are drawn per sample and
applied to all of them, so pixels keep their correspondence across keys.

- float ``(C, H, W)`` tensors are resized bilinearly with anti-aliasing (area-like when
  shrinking); keys listed in ``nearest_keys`` (e.g. a binary hint mask) use nearest;
- integer and bool tensors ``(H, W)`` or ``(C, H, W)`` are resized by nearest neighbour
  (pixel-centre sampling) and keep their dtype and values exactly;
- values that are not tensors, and tensors with fewer than two dimensions (a tag
  vector), pass through untouched.

The crop keeps the aspect ratio of ``size`` (never stretches): its side is a random
fraction (``scale``) of the largest such crop that fits, at a uniformly random position.

Batches: pass ``batched=True`` and ``(B, C, H, W)`` / ``(B, H, W)`` tensors; every sample
of the batch gets its own draw. Apply this before :func:`tinct.data.reference.make_reference`
and hint sampling (their correspondences and masks are computed on the augmented images).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch
import torch.nn.functional as F


def _is_spatial(value: Any, batched: bool) -> bool:
    return isinstance(value, torch.Tensor) and value.ndim >= (3 if batched else 2)


def _draw_box(
    height: int,
    width: int,
    out_height: int,
    out_width: int,
    *,
    flip_p: float,
    scale: tuple[float, float],
    generator: torch.Generator | None,
) -> tuple[int, int, int, int, bool]:
    """(top, left, crop_height, crop_width, flip) with the aspect ratio of the output."""
    draws = torch.rand(4, generator=generator, dtype=torch.float64).tolist()  # always four draws
    aspect = out_height / out_width
    full_height, full_width = (height, height / aspect) if height / aspect <= width else (width * aspect, width)
    fraction = scale[0] + (scale[1] - scale[0]) * draws[0]
    crop_height = max(1, min(height, round(full_height * fraction)))
    crop_width = max(1, min(width, round(full_width * fraction)))
    top = int(draws[1] * (height - crop_height + 1))
    left = int(draws[2] * (width - crop_width + 1))
    return top, left, crop_height, crop_width, draws[3] < flip_p


def _nearest(value: torch.Tensor, top: int, left: int, crop_height: int, crop_width: int,
             out_height: int, out_width: int) -> torch.Tensor:
    """Crop and nearest-resize by indexing (exact for any dtype); value (..., H, W)."""
    rows = top + ((torch.arange(out_height, dtype=torch.float64) + 0.5) * crop_height / out_height).floor().long()
    cols = left + ((torch.arange(out_width, dtype=torch.float64) + 0.5) * crop_width / out_width).floor().long()
    rows, cols = rows.to(value.device), cols.to(value.device)
    return value.index_select(-2, rows).index_select(-1, cols)


def _bilinear(value: torch.Tensor, top: int, left: int, crop_height: int, crop_width: int,
              out_height: int, out_width: int) -> torch.Tensor:
    """Crop and bilinear-resize (anti-aliased) a float (C, H, W) tensor."""
    crop = value[..., top : top + crop_height, left : left + crop_width]
    if (crop_height, crop_width) == (out_height, out_width):
        return crop.clone()
    return F.interpolate(crop[None], size=(out_height, out_width), mode="bilinear", align_corners=False,
                         antialias=True)[0]


def joint_flip_crop(
    sample: dict[str, Any],
    *,
    size: int | tuple[int, int],
    generator: torch.Generator | None = None,
    flip_p: float = 0.5,
    scale: tuple[float, float] = (0.7, 1.0),
    nearest_keys: Collection[str] = (),
    batched: bool = False,
) -> dict[str, Any]:
    """Apply one random horizontal flip and crop + resize to every map of a sample.

    Args:
        sample: dict of ``(C, H, W)`` float / ``(H, W)`` or ``(C, H, W)`` integer-or-bool
            tensors sharing ``H, W`` (with ``batched=True``: a leading batch dimension);
            other values pass through.
        size: output ``(height, width)``, or ``s`` for ``(s, s)``.
        generator: makes the draw deterministic (four draws per sample).
        flip_p: probability of the horizontal flip.
        scale: range of the crop side as a fraction of the largest crop with the output's
            aspect ratio, ``0 < low <= high <= 1``; ``(1, 1)`` only flips and resizes.
        nearest_keys: float keys to resize by nearest neighbour (binary masks).
        batched: tensors carry a batch dimension; each sample gets its own draw.

    Returns:
        a new dict with the same keys; maps have spatial size ``size``, dtypes unchanged.
    """
    out_height, out_width = (size, size) if isinstance(size, int) else tuple(size)
    if out_height < 1 or out_width < 1:
        raise ValueError(f"size must be positive, got {size}")
    if not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
    if not 0.0 <= flip_p <= 1.0:
        raise ValueError(f"flip_p must be in [0, 1], got {flip_p}")
    spatial = {key: value for key, value in sample.items() if _is_spatial(value, batched)}
    if not spatial:
        return dict(sample)
    shapes = {key: tuple(value.shape[-2:]) for key, value in spatial.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"all maps must share one spatial size, got {shapes}")
    for key, value in spatial.items():
        if value.ndim > (4 if batched else 3):
            raise ValueError(f"{key!r} must be (C, H, W) or (H, W){' with a batch dimension' if batched else ''}, "
                             f"got {tuple(value.shape)}")
    if batched:
        sizes = {value.shape[0] for value in spatial.values()}
        if len(sizes) != 1:
            batch_sizes = {key: value.shape[0] for key, value in spatial.items()}
            raise ValueError(f"all maps must share one batch size, got {batch_sizes}")
        batch = sizes.pop()
        per_sample = [
            joint_flip_crop({key: value[b] for key, value in spatial.items()}, size=(out_height, out_width),
                            generator=generator, flip_p=flip_p, scale=scale, nearest_keys=nearest_keys)
            for b in range(batch)
        ]
        result = dict(sample)
        result.update({key: torch.stack([item[key] for item in per_sample]) for key in spatial})
        return result

    height, width = next(iter(shapes.values()))
    top, left, crop_height, crop_width, flip = _draw_box(
        height, width, out_height, out_width, flip_p=flip_p, scale=scale, generator=generator
    )
    result = dict(sample)
    for key, value in spatial.items():
        if flip:
            value = value.flip(-1)
        box = (top, left, crop_height, crop_width, out_height, out_width)
        if value.is_floating_point() and key not in nearest_keys:
            result[key] = _bilinear(value if value.ndim == 3 else value[None], *box).reshape(
                *value.shape[:-2], out_height, out_width)
        else:
            result[key] = _nearest(value, *box)
    return result
