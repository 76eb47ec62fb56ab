"""Number of required interactions (NRI), GuidingPainter §4.2.

Hints are added one at a time, following the method's own policy (GuidingPainter: its
ranked segments in order; point-hint models: random points); NRI is the number of hints
after which the output's PSNR first reaches a benchmark. An image that never reaches it
with ``max_hints`` hints counts ``max_hints + 1``. Zero hints are tried first, so an image
already good enough without help scores 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from tinct.metrics.psnr import psnr


def nri_from_curve(psnr_curve: torch.Tensor, benchmark: float) -> torch.Tensor:
    """psnr_curve: (B, N + 1) PSNR with 0..N hints -> (B,) NRI (N + 1 where never reached)."""
    if psnr_curve.ndim != 2:
        raise ValueError(f"expected a PSNR curve (B, N + 1), got {tuple(psnr_curve.shape)}")
    reached = psnr_curve >= benchmark
    first = reached.float().argmax(dim=1)  # index of the first True (0 when none)
    never = torch.full_like(first, psnr_curve.shape[1])
    return torch.where(reached.any(dim=1), first, never)


def psnr_curve(
    colorize: Callable[[int], torch.Tensor],
    target: torch.Tensor,
    *,
    max_hints: int,
    benchmark: float | None = None,
) -> torch.Tensor:
    """PSNR of ``colorize(k)`` against ``target`` for k = 0..max_hints hints: (B, max_hints + 1).

    ``colorize(k)`` returns the (B, 3, H, W) output given the first k hints of the policy.
    With a ``benchmark``, the loop stops once every image has reached it (later entries are
    then filled with the last measured value — they cannot change the NRI).
    """
    curve: list[torch.Tensor] = []
    for count in range(max_hints + 1):
        curve.append(psnr(colorize(count), target))
        if benchmark is not None and bool((torch.stack(curve, 1) >= benchmark).any(1).all()):
            break
    while len(curve) < max_hints + 1:
        curve.append(curve[-1])
    return torch.stack(curve, dim=1)


def nri(
    colorize: Callable[[int], torch.Tensor],
    target: torch.Tensor,
    *,
    benchmark: float,
    max_hints: int,
) -> torch.Tensor:
    """Per-image NRI (B,) for a hint policy wrapped in ``colorize(k)``; see the module doc."""
    return nri_from_curve(psnr_curve(colorize, target, max_hints=max_hints, benchmark=benchmark), benchmark)
