"""Colour bleeding without ground truth: the colour spread inside the sketch's regions.

A colorization that respects the lines gives each line-enclosed region one flat colour;
colour that leaks across a line shows up as variation inside a region. For each region of
the sketch's region map (trapped-ball, lines unassigned) we take the root-mean-square CIE
Lab distance (ΔE76) of its pixels to the region's mean colour; the score is the
area-weighted mean over regions. Pixels on lines (label 0) and on region borders (1 px,
where anti-aliasing mixes colours) are ignored. 0 = perfectly flat regions; lower is
better. It needs no ground-truth pairs, so it applies to any user's sketch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def region_spread(image: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Area-weighted RMS ΔE inside regions: image (B, 3, H, W) in [0, 1], regions (B, H, W) int -> (B,)."""
    from tinct.color import rgb_to_lab

    if image.ndim != 4 or image.shape[1] != 3 or regions.shape != (image.shape[0], *image.shape[2:]):
        raise ValueError(f"expected image (B, 3, H, W) and regions (B, H, W), got {tuple(image.shape)} "
                         f"and {tuple(regions.shape)}")
    lab = rgb_to_lab(image.float())  # (B, 3, H, W)
    labels = regions.long()
    # interior: same label as all 4 neighbours (borders between regions are ignored)
    padded = F.pad(labels[:, None].float(), (1, 1, 1, 1), mode="replicate")[:, 0]
    centre = padded[:, 1:-1, 1:-1]
    interior = (
        (padded[:, :-2, 1:-1] == centre) & (padded[:, 2:, 1:-1] == centre)
        & (padded[:, 1:-1, :-2] == centre) & (padded[:, 1:-1, 2:] == centre) & (labels > 0)
    )
    scores = []
    for index in range(image.shape[0]):
        keep = interior[index].flatten()
        ids = labels[index].flatten()[keep]
        if ids.numel() == 0:
            scores.append(torch.tensor(0.0))
            continue
        colors = lab[index].flatten(1)[:, keep].T  # (P, 3)
        count = torch.bincount(ids).float()
        mean = torch.zeros(len(count), 3).index_add_(0, ids, colors) / count.clamp_min(1)[:, None]
        squared = (colors - mean[ids]).pow(2).sum(1)  # ΔE² per pixel
        per_region = torch.zeros(len(count)).index_add_(0, ids, squared) / count.clamp_min(1)
        weights = count / count.sum()
        scores.append((per_region.sqrt() * weights).sum())
    return torch.stack(scores)
