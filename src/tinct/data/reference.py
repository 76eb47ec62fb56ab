"""Augmented-self references (SCFT, Lee et al. 2020) with their exact correspondence.

``make_reference`` turns a ground-truth colour image into a training pair:

1. appearance transform: a random offset per image and RGB channel is added (then clipped
   to [0, 1]); the shifted image is the *training target* as well, so the model must take
   its colours from the reference rather than memorise them;
2. spatial transform: a random thin-plate-spline warp (kornia) of the shifted image gives
   the *reference*.

The warp is returned as a sampling grid: ``reference == F.grid_sample(target, grid,
mode="bilinear", padding_mode="border", align_corners=False)``. ``grid[b, y, x]`` is the
``(x, y)`` position in the target (source) that reference pixel ``(y, x)`` was sampled
from, in grid_sample's normalised frame with ``align_corners=False``: -1 and +1 are the
outer *edges* of the image, pixel ``i`` has centre ``(2 i + 1) / W - 1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.geometry import create_meshgrid
from kornia.geometry.transform import get_tps_transform, warp_points_tps


def _check_image(image: torch.Tensor, name: str = "image") -> None:
    if image.ndim != 4:
        raise ValueError(f"{name} must be (B, C, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {image.dtype}")


def appearance_shift(
    image: torch.Tensor,
    *,
    strength: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SCFT's appearance transform: a random constant offset per image and channel.

    ``out[b, c] = clip(image[b, c] + offset[b, c], 0, 1)`` with
    ``offset ~ U(-strength, strength)``.

    Args:
        image: ``(B, C, H, W)`` in [0, 1] (RGB in practice).
        strength: largest absolute offset, in [0, 1].
        generator: makes the draw deterministic.

    Returns:
        ``(B, C, H, W)`` in [0, 1].
    """
    _check_image(image)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    batch, channels = image.shape[:2]
    offset = (torch.rand((batch, channels, 1, 1), generator=generator) * 2 - 1) * strength
    return (image + offset.to(image.device, image.dtype)).clamp(0, 1)


def tps_grid(
    batch: int,
    height: int,
    width: int,
    *,
    n_control: int = 5,
    scale: float = 0.1,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A random thin-plate-spline sampling grid ``(B, H, W, 2)`` (normalised ``(x, y)``).

    Control points form an ``n_control x n_control`` lattice over ``[-1, 1]^2`` in the output
    (reference) frame; each is mapped to the lattice point plus ``U(-scale, scale)`` per
    coordinate in the source frame, and the TPS through these pairs (kornia
    ``get_tps_transform`` / ``warp_points_tps``, solved in float64) maps every output
    pixel centre (``align_corners=False``) to where it samples the source. ``scale = 0``
    gives the identity grid.
    """
    if n_control < 2:
        raise ValueError(f"n_control must be >= 2, got {n_control}")
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    lattice = create_meshgrid(n_control, n_control, normalized_coordinates=True, align_corners=True,
                              dtype=torch.float64)  # (1, n, n, 2) in [-1, 1]
    lattice = lattice.reshape(1, -1, 2).expand(batch, -1, -1)  # (B, n*n, 2)
    jitter = (torch.rand((batch, n_control * n_control, 2), generator=generator, dtype=torch.float64) * 2 - 1) * scale
    source_points = lattice + jitter
    # kornia's TPS maps its first argument onto its second and centres the kernels on the
    # second: here reference lattice -> source points, kernel centres = source points.
    kernel_weights, affine_weights = get_tps_transform(lattice, source_points)
    pixels = create_meshgrid(height, width, normalized_coordinates=True, align_corners=False,
                             dtype=torch.float64).reshape(1, -1, 2).expand(batch, -1, -1)  # (B, HW, 2)
    grid = warp_points_tps(pixels, source_points, kernel_weights, affine_weights)  # (B, HW, 2)
    return grid.reshape(batch, height, width, 2).to(device=device, dtype=dtype)


def tps_warp(
    image: torch.Tensor,
    *,
    n_control: int = 5,
    scale: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random thin-plate-spline warp with its exact correspondence.

    Args:
        image: ``(B, C, H, W)`` float (any range).
        n_control: control points per side (``n_control**2`` in all).
        scale: largest displacement of a control point, in normalised units (2 = image width).
        generator: makes the warp deterministic.

    Returns:
        ``warped (B, C, H, W)``; ``grid (B, H, W, 2)`` with
        ``warped == F.grid_sample(image, grid, mode="bilinear", padding_mode="border",
        align_corners=False)`` (the same as kornia ``warp_image_tps`` with border padding);
        ``valid (B, 1, H, W)`` float in {0, 1}: 1 where the sample point lies inside the
        source image (``|x| <= 1`` and ``|y| <= 1``), 0 where the border was replicated.
    """
    _check_image(image)
    batch, _, height, width = image.shape
    grid = tps_grid(batch, height, width, n_control=n_control, scale=scale, generator=generator,
                    device=image.device, dtype=image.dtype)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    valid = (grid.abs() <= 1).all(dim=-1)[:, None].to(image.dtype)  # (B, 1, H, W)
    return warped, grid, valid


def make_reference(
    target: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    shift_strength: float = 0.2,
    n_control: int = 5,
    warp_scale: float = 0.1,
) -> dict[str, torch.Tensor]:
    """Augmented-self reference for SCFT training: appearance shift, then TPS warp.

    Args:
        target: ground truth ``(B, 3, H, W)`` RGB in [0, 1].

    Returns:
        dict with ``reference (B, 3, H, W)`` (shifted and warped), ``target (B, 3, H, W)``
        (shifted only: the training target), ``grid (B, H, W, 2)`` and ``valid (B, 1, H, W)``
        as in :func:`tps_warp` (``reference == grid_sample(target, grid)``).
    """
    if target.ndim != 4 or target.shape[1] != 3:
        raise ValueError(f"target must be RGB of shape (B, 3, H, W), got {tuple(target.shape)}")
    shifted = appearance_shift(target, strength=shift_strength, generator=generator)
    reference, grid, valid = tps_warp(shifted, n_control=n_control, scale=warp_scale, generator=generator)
    return {"reference": reference, "target": shifted, "grid": grid, "valid": valid}


def correspondence_indices(
    grid: torch.Tensor,
    valid: torch.Tensor,
    feature_size: tuple[int, int] | int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map each reference cell of a coarse ``h x w`` feature grid to its source cell.

    The grid is read at the centre of every reference cell (bilinear interpolation of
    ``grid``; with ``align_corners=False`` a cell centre has the same normalised coordinate
    at every resolution) and the source cell containing that point is its partner: the
    positive of SCFT's triplet loss pairs the sketch (source) query at ``index[b, j]`` with
    the reference key at ``j``.

    Args:
        grid: ``(B, H, W, 2)`` normalised ``(x, y)`` source positions (as from :func:`tps_warp`).
        valid: ``(B, 1, H, W)`` in {0, 1}.
        feature_size: ``(h, w)`` or ``s`` for ``(s, s)``.

    Returns:
        ``index (B, h*w)`` long: row-major source cell ``y * w + x`` for every reference cell
        (also row-major); ``valid (B, h*w)`` bool: the cell centre samples inside the source
        and at least half of the cell's pixels are valid.
    """
    if grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(f"grid must be (B, H, W, 2), got {tuple(grid.shape)}")
    batch, height, width, _ = grid.shape
    if valid.shape != (batch, 1, height, width):
        raise ValueError(f"valid must be (B, 1, H, W) = {(batch, 1, height, width)}, got {tuple(valid.shape)}")
    rows, cols = (feature_size, feature_size) if isinstance(feature_size, int) else tuple(feature_size)
    if rows < 1 or cols < 1:
        raise ValueError(f"feature_size must be positive, got {feature_size}")
    centres = create_meshgrid(rows, cols, normalized_coordinates=True, align_corners=False,
                              device=grid.device, dtype=grid.dtype).expand(batch, -1, -1, -1)  # (B, h, w, 2)
    coarse = F.grid_sample(grid.permute(0, 3, 1, 2), centres, mode="bilinear", padding_mode="border",
                           align_corners=False).permute(0, 2, 3, 1)  # (B, h, w, 2)
    col = ((coarse[..., 0] + 1) / 2 * cols).floor().long().clamp(0, cols - 1)
    row = ((coarse[..., 1] + 1) / 2 * rows).floor().long().clamp(0, rows - 1)
    index = (row * cols + col).reshape(batch, rows * cols)
    inside = (coarse.abs() <= 1).all(dim=-1)
    share = F.adaptive_avg_pool2d(valid.to(grid.dtype), (rows, cols))[:, 0]  # (B, h, w)
    return index, (inside & (share >= 0.5)).reshape(batch, rows * cols)
