"""Semantically-corresponding PSNR (SC-PSNR), SCFT §4.2.

PSNR computed only over square patches around corresponding points of the output and of
the reference: the MSE over all patch pairs of an image, then PSNR. Correspondences come
from keypoint annotations or, for TPS-warped self-references, from the known warp.
"""

from __future__ import annotations

import torch

from tinct.metrics.psnr import mse_to_psnr


def _patches(image: torch.Tensor, points: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W), (B, N, 2) pixel xy -> (B, N, C, size, size); patches clipped inside."""
    batch, channels, height, width = image.shape
    if size > min(height, width):
        raise ValueError(f"patch size {size} does not fit an image of {height}×{width}")
    half = size // 2
    x0 = (points[..., 0].round().long() - half).clamp(0, width - size)  # (B, N)
    y0 = (points[..., 1].round().long() - half).clamp(0, height - size)
    offsets = torch.arange(size, device=image.device)
    rows = (y0[..., None] + offsets)[..., :, None].expand(-1, -1, size, size)  # (B, N, s, s)
    cols = (x0[..., None] + offsets)[..., None, :].expand(-1, -1, size, size)
    flat = (rows * width + cols).flatten(2)  # (B, N, s²)
    gathered = image.flatten(2)[:, :, None, :].expand(-1, -1, flat.shape[1], -1)  # (B, C, N, HW)
    index = flat[:, None].expand(-1, channels, -1, -1)  # (B, C, N, s²)
    patches = torch.gather(gathered, 3, index)  # (B, C, N, s²)
    return patches.permute(0, 2, 1, 3).reshape(batch, -1, channels, size, size)


def sc_psnr(
    output: torch.Tensor,
    reference: torch.Tensor,
    output_points: torch.Tensor,
    reference_points: torch.Tensor,
    *,
    patch_size: int = 9,
) -> torch.Tensor:
    """Per-image SC-PSNR (dB).

    output, reference: (B, 3, H, W) / (B, 3, H', W') in [0, 1]; output_points,
    reference_points: (B, N, 2) corresponding pixel coordinates (x, y). Returns (B,).
    """
    if output.ndim != 4 or reference.ndim != 4 or output.shape[:2] != reference.shape[:2]:
        raise ValueError(f"expected (B, C, H, W) images, got {tuple(output.shape)} and {tuple(reference.shape)}")
    if output_points.shape != reference_points.shape or output_points.ndim != 3 or output_points.shape[-1] != 2:
        raise ValueError(f"expected matching points (B, N, 2), got {tuple(output_points.shape)} "
                         f"and {tuple(reference_points.shape)}")
    ours = _patches(output.float(), output_points, patch_size)
    theirs = _patches(reference.float(), reference_points, patch_size)
    return mse_to_psnr((ours - theirs).pow(2).flatten(1).mean(1))
