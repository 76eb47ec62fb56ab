"""Non-learned colorizers, so that every results table has a row that needs no training.

- ``baseline:flat-fill``: a bucket fill — each of the sketch's trapped-ball regions that a
  point hint falls into is filled with the mean colour of its hints; regions without a
  hint stay white paper. Hints are random points (RTUG's evaluation placement), the same
  policy as the point-hint model, so the two rows compare like with like.
- ``baseline:oracle-fill``: bucket-fills the k largest line-enclosed regions (trapped-ball
  on the sketch) with their true mean colours, the rest white. It reads the ground truth,
  so it is an upper reference for "k region hints", not a method.
- ``baseline:reference-in-place``: for reference-based evaluation. Each of the sketch's
  trapped-ball regions takes the mean colour of the reference over the same pixels (the
  reference resized to the sketch): correspondence by position, with no learning. It is
  exact when sketch and reference are aligned and fails when the reference shows the
  subject elsewhere, so it tells how much of a score the alignment of the test pairs gives.

All keep the sketch's lines: the output is the flat colours multiplied by the sketch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tinct.data.hints import point_hints_at, region_hints

HintPolicy = Callable[[int], tuple[torch.Tensor, torch.Tensor]]  # k -> (colors, mask) of the first k hints


def random_points(
    target: torch.Tensor, *, max_hints: int, generator: torch.Generator | None = None, patch_size: int = 3
) -> HintPolicy:
    """Point hints at random positions, drawn once so that k hints are the first k of k + 1.

    Positions follow RTUG's evaluation: centres ~ N(image centre, extent / 4), clipped to the
    image. target: (B, 3, H, W) in [0, 1]. Returns a policy ``k -> (colors, mask)``.
    """
    batch = target.shape[0]
    points = (0.5 + 0.25 * torch.randn(batch, max_hints, 2, generator=generator)).clamp(0, 1 - 1e-6)
    size = min(patch_size, *target.shape[-2:])

    def hints(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= count <= max_hints:
            raise ValueError(f"hint count must be in [0, {max_hints}], got {count}")
        return point_hints_at(target, points[:, :count], patch_size=size)

    return hints


def largest_regions(target: torch.Tensor, regions: torch.Tensor, *, max_hints: int) -> HintPolicy:
    """Whole-region hints with true mean colours, largest regions first.

    target: (B, 3, H, W); regions: (B, H, W) labels (0 = lines, never hinted).
    """
    batch = regions.shape[0]
    areas = torch.stack([torch.bincount(r.flatten().long(), minlength=int(regions.max()) + 1) for r in regions])
    areas[:, 0] = 0
    order = areas.argsort(dim=1, descending=True)[:, :max_hints]  # (B, max_hints)
    order = torch.where(areas.gather(1, order) > 0, order, torch.full_like(order, -1))

    def hints(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= count <= max_hints:
            raise ValueError(f"hint count must be in [0, {max_hints}], got {count}")
        ids = order[:, :count] if count else order.new_full((batch, 0), -1)
        return region_hints(target, regions.long(), ids)

    return hints


def fill_regions(hint_colors: torch.Tensor, hint_mask: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Bucket fill: each region with a hint takes the mean of the hint colours inside it;
    regions without a hint stay white. (B, 3, H, W), (B, 1, H, W), (B, H, W) -> (B, 3, H, W)."""
    batch, _, height, width = hint_colors.shape
    labels = regions.long().reshape(batch, 1, -1)  # (B, 1, HW)
    num = int(labels.max()) + 1
    weights = hint_mask.reshape(batch, 1, -1)
    sums = torch.zeros(batch, 3, num).scatter_add_(2, labels.expand(-1, 3, -1), hint_colors.reshape(batch, 3, -1) * weights)
    counts = torch.zeros(batch, 1, num).scatter_add_(2, labels, weights)
    means = torch.where(counts > 0, sums / counts.clamp_min(1e-8), torch.ones_like(sums))  # (B, 3, num)
    return means.gather(2, labels.expand(-1, 3, -1)).reshape(batch, 3, height, width)


@dataclass
class FlatFill:
    """``baseline:flat-fill`` (see the module docstring)."""

    name: str = "baseline:flat-fill"

    def policy(self, batch: dict, *, max_hints: int, generator: torch.Generator | None = None) -> HintPolicy:
        return random_points(batch["color"], max_hints=max_hints, generator=generator)

    def evaluate_colorize(self, batch: dict, hint_colors: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        flat = fill_regions(hint_colors, hint_mask, batch["sketch_regions"])
        return flat * batch["sketch"]


@dataclass
class OracleFill:
    """``baseline:oracle-fill`` (see the module docstring)."""

    name: str = "baseline:oracle-fill"

    def policy(self, batch: dict, *, max_hints: int, generator: torch.Generator | None = None) -> HintPolicy:
        return largest_regions(batch["color"], batch["sketch_regions"], max_hints=max_hints)

    def evaluate_colorize(self, batch: dict, hint_colors: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        flat = hint_colors * hint_mask + (1 - hint_mask)  # hinted regions exact, the rest white
        return flat * batch["sketch"]


@dataclass
class ReferenceInPlace:
    """``baseline:reference-in-place`` (see the module docstring)."""

    name: str = "baseline:reference-in-place"

    def evaluate_reference(self, batch: dict, reference: torch.Tensor) -> torch.Tensor:
        """sketch (B, 1, H, W) in ``batch``, reference (B, 3, H', W') -> (B, 3, H, W) in [0, 1]."""
        from tinct.regions import trapped_ball

        sketch = batch["sketch"]
        if reference.shape[-2:] != sketch.shape[-2:]:
            reference = F.interpolate(reference, size=tuple(sketch.shape[-2:]), mode="bilinear", align_corners=False)
        regions = torch.from_numpy(trapped_ball(sketch.numpy(), assign_lines=False).astype("int64"))
        return fill_regions(reference, torch.ones_like(sketch), regions) * sketch


BASELINES = {"flat-fill": FlatFill, "oracle-fill": OracleFill, "reference-in-place": ReferenceInPlace}
