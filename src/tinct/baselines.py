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

import torch
import torch.nn.functional as F

from tinct.data.hints import HintPolicy, largest_regions, random_points
from tinct.methods.base import Guidance, Inputs, Method


def fill_regions(hint_colors: torch.Tensor, hint_mask: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Bucket fill: each region with a hint takes the mean of the hint colours inside it;
    regions without a hint stay white. (B, 3, H, W), (B, 1, H, W), (B, H, W) -> (B, 3, H, W)."""
    batch, _, height, width = hint_colors.shape
    labels = regions.long().reshape(batch, 1, -1).to(hint_colors.device)  # (B, 1, HW)
    num = int(labels.max()) + 1
    weights = hint_mask.reshape(batch, 1, -1)
    sums = hint_colors.new_zeros(batch, 3, num).scatter_add_(2, labels.expand(-1, 3, -1),
                                                              hint_colors.reshape(batch, 3, -1) * weights)
    counts = hint_colors.new_zeros(batch, 1, num).scatter_add_(2, labels, weights)
    means = torch.where(counts > 0, sums / counts.clamp_min(1e-8), torch.ones_like(sums))  # (B, 3, num)
    return means.gather(2, labels.expand(-1, 3, -1)).reshape(batch, 3, height, width)


class Baseline(Method):
    """A colorizer without weights: it declares its guidance and protocol like a method and
    is not trained. ``prepare`` gives the sketch's own line-enclosed regions (trapped-ball,
    lines unassigned = 0), which every baseline fills."""

    trainable = False

    def prepare(self, sketch: torch.Tensor) -> dict:
        from tinct.regions import trapped_ball

        labels = trapped_ball(sketch.detach().float().cpu().numpy(), assign_lines=False)  # (B, H, W)
        return {"regions": torch.from_numpy(labels.astype("int64"))}

    def _regions(self, inputs: Inputs) -> torch.Tensor:
        regions = inputs.prepared.get("regions")
        return self.prepare(inputs.sketch)["regions"] if regions is None else regions

    def training_steps(self):
        raise ValueError(f"{self.name} is a baseline: it has nothing to train")


class FlatFill(Baseline):
    """``baseline:flat-fill`` (see the module docstring)."""

    name = "baseline:flat-fill"
    guidance = Guidance(points=True)
    protocol = "hints"

    def hint_policy(self, batch: dict, prepared: dict, *, max_hints: int,
                    generator: torch.Generator | None = None) -> HintPolicy:
        return random_points(batch["color"], max_hints=max_hints, generator=generator)

    def paint(self, inputs: Inputs) -> torch.Tensor:
        hint_colors, hint_mask = inputs.hints_or_none()
        return fill_regions(hint_colors, hint_mask, self._regions(inputs)) * inputs.sketch


class OracleFill(Baseline):
    """``baseline:oracle-fill`` (see the module docstring)."""

    name = "baseline:oracle-fill"
    guidance = Guidance(points=True)
    protocol = "hints"

    def hint_policy(self, batch: dict, prepared: dict, *, max_hints: int,
                    generator: torch.Generator | None = None) -> HintPolicy:
        return largest_regions(batch["color"], prepared["regions"], max_hints=max_hints)

    def paint(self, inputs: Inputs) -> torch.Tensor:
        hint_colors, hint_mask = inputs.hints_or_none()
        flat = hint_colors * hint_mask + (1 - hint_mask)  # hinted pixels exact, the rest white
        return flat * inputs.sketch


class ReferenceInPlace(Baseline):
    """``baseline:reference-in-place`` (see the module docstring)."""

    name = "baseline:reference-in-place"
    guidance = Guidance(reference=True, required=("reference",))
    protocol = "reference"

    def paint(self, inputs: Inputs) -> torch.Tensor:
        """sketch (B, 1, H, W), reference (B, 3, H', W') -> (B, 3, H, W) in [0, 1]."""
        sketch, reference = inputs.sketch, inputs.reference
        if reference is None:
            raise ValueError(f"{self.name} needs a reference image")
        if reference.shape[-2:] != sketch.shape[-2:]:
            reference = F.interpolate(reference, size=tuple(sketch.shape[-2:]), mode="bilinear", align_corners=False)
        return fill_regions(reference, torch.ones_like(sketch), self._regions(inputs)) * sketch


BASELINES = {"flat-fill": FlatFill, "oracle-fill": OracleFill, "reference-in-place": ReferenceInPlace}
