"""Input validation shared by the methods: shapes named in every error."""

from __future__ import annotations

import torch


def check_sketch(sketch: torch.Tensor) -> None:
    """sketch: (B, 1, H, W)."""
    if sketch.ndim != 4 or sketch.shape[1] != 1:
        raise ValueError(f"sketch must be (B, 1, H, W), got {tuple(sketch.shape)}")


def check_hints(sketch: torch.Tensor, hint_colors: torch.Tensor, hint_mask: torch.Tensor) -> None:
    """hint_colors (B, 3, H, W) and hint_mask (B, 1, H, W) matching the sketch (B, 1, H, W)."""
    check_sketch(sketch)
    batch, _, height, width = sketch.shape
    if hint_colors.shape != (batch, 3, height, width):
        raise ValueError(
            f"hint_colors must be (B, 3, H, W) = {(batch, 3, height, width)}, got {tuple(hint_colors.shape)}"
        )
    if hint_mask.shape != (batch, 1, height, width):
        raise ValueError(f"hint_mask must be (B, 1, H, W) = {(batch, 1, height, width)}, got {tuple(hint_mask.shape)}")


def check_batch(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """A training/evaluation batch: returns ``(batch["sketch"], batch["color"])`` after checks."""
    sketch, target = batch["sketch"], batch["color"]
    check_sketch(sketch)
    if target.shape != (sketch.shape[0], 3, *sketch.shape[-2:]):
        raise ValueError(f"batch['color'] must be (B, 3, H, W) matching the sketch, got {tuple(target.shape)}")
    return sketch, target
