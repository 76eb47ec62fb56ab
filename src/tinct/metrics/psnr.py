"""PSNR, SSIM and local PSNR on RGB images in [0, 1], per image (batched)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# PSNR of two identical images is infinite; we cap the MSE so that averages stay finite.
MIN_MSE = 1e-10  # -> 100 dB


def _check_pair(output: torch.Tensor, target: torch.Tensor) -> None:
    if output.ndim != 4 or output.shape != target.shape:
        raise ValueError(f"expected two images of the same shape (B, C, H, W), got {tuple(output.shape)} "
                         f"and {tuple(target.shape)}")


def mse_to_psnr(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB for images in [0, 1] from a mean squared error (capped at 100 dB)."""
    return -10.0 * torch.log10(mse.clamp_min(MIN_MSE))


def psnr(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB): output, target (B, C, H, W) in [0, 1] -> (B,)."""
    _check_pair(output, target)
    return mse_to_psnr((output.float() - target.float()).pow(2).flatten(1).mean(1))


def ssim(output: torch.Tensor, target: torch.Tensor, *, window_size: int = 11) -> torch.Tensor:
    """Per-image SSIM (Gaussian window, kornia): (B, C, H, W) in [0, 1] -> (B,)."""
    from kornia.metrics import ssim as ssim_map

    _check_pair(output, target)
    return ssim_map(output.float(), target.float(), window_size, max_val=1.0).flatten(1).mean(1)


def window_mask(points: torch.Tensor, window: int) -> torch.Tensor:
    """Pixels within a ``window × window`` box of any marked pixel: (B, 1, H, W) bool."""
    if points.ndim != 4 or points.shape[1] != 1:
        raise ValueError(f"expected a mask (B, 1, H, W), got {tuple(points.shape)}")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    return F.max_pool2d(points.float(), window, stride=1, padding=window // 2) > 0


def local_psnr(output: torch.Tensor, target: torch.Tensor, points: torch.Tensor, *, window: int = 7) -> torch.Tensor:
    """PSNR over the pixels within a ``window × window`` box of the marked ``points``.

    output, target: (B, C, H, W) in [0, 1]; points: (B, 1, H, W) edge / scribble pixels.
    Returns (B,); NaN for an image without marked pixels (use ``nanmean`` to aggregate).
    """
    _check_pair(output, target)
    mask = window_mask(points, window).float()  # (B, 1, H, W)
    squared = (output.float() - target.float()).pow(2) * mask
    count = mask.flatten(1).sum(1) * output.shape[1]
    mse = squared.flatten(1).sum(1) / count.clamp_min(1)
    return torch.where(count > 0, mse_to_psnr(mse), torch.full_like(mse, float("nan")))
