"""Hint locality (tinct's own, DESIGN "Metrics"): does a hint colour its area and nothing else?

Protocol: give one point hint of a vivid colour, far from the colour the model paints there
without it, deep inside the largest region (:func:`locality_hint` picks it); compare the
outputs before and after. :func:`hint_locality` measures, on paper pixels:

- ``share``: the fraction of paper pixels OUTSIDE the hinted region grown by ``dilate`` px
  (a disk, so a line's width of anti-aliasing and bleeding into the line does not count)
  whose colour moves by more than ``threshold`` ΔE (CIE76 in CIELAB, :func:`tinct.color.rgb_to_lab`).
  0 is ideal: the hint coloured its region and left the rest alone; 1: everything moved;
- ``inside``: mean ΔE over the paper pixels of the hinted region (did the hint take?);
- ``outside``: mean ΔE over the paper pixels counted by ``share``.

A value is NaN for an image with no region to hint (an all-ink sketch) or with no paper
pixel in the set it averages over.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["VIVID", "Locality", "LocalityHint", "grow", "hint_locality", "locality_hint", "paper_delta_e"]

#: the vivid candidates of :func:`locality_hint`, RGB in [0, 1]
VIVID = torch.tensor([
    [1.0, 0.0, 0.0],  # red
    [1.0, 0.5, 0.0],  # orange
    [1.0, 0.9, 0.0],  # yellow
    [0.0, 0.8, 0.0],  # green
    [0.0, 0.8, 1.0],  # cyan
    [0.0, 0.2, 1.0],  # blue
    [0.6, 0.0, 1.0],  # violet
    [1.0, 0.0, 0.8],  # magenta
])


class Locality(NamedTuple):
    """Per-image results of :func:`hint_locality`, each (B,): ``share`` in [0, 1], ``inside``
    and ``outside`` mean ΔE."""

    share: torch.Tensor
    inside: torch.Tensor
    outside: torch.Tensor


class LocalityHint(NamedTuple):
    """Where and what to hint, from :func:`locality_hint`.

    label (B,) long: the hinted region (-1: no region to hint); yx (B, 2) long: its deepest
    pixel (row, column); points (B, 1, 2): that pixel's centre as ``(x, y)`` normalised to
    [0, 1] (:func:`tinct.data.hints.point_hints_at`); colors (B, 3) RGB in [0, 1]: the hint colour.
    """

    label: torch.Tensor
    yx: torch.Tensor
    points: torch.Tensor
    colors: torch.Tensor


def _check(before: torch.Tensor, after: torch.Tensor, regions: torch.Tensor) -> None:
    if before.ndim != 4 or before.shape[1] != 3:
        raise ValueError(f"before must be RGB (B, 3, H, W), got {tuple(before.shape)}")
    if after.shape != before.shape:
        raise ValueError(f"after must have the shape of before {tuple(before.shape)}, got {tuple(after.shape)}")
    if regions.shape != (before.shape[0], *before.shape[2:]) or regions.is_floating_point():
        raise ValueError(f"regions must be integer labels (B, H, W) = {(before.shape[0], *before.shape[2:])}, "
                         f"got {regions.dtype} {tuple(regions.shape)}")


def grow(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Dilate a boolean mask (B, H, W) by a disk of ``radius`` px (Euclidean). Returns (B, H, W) bool."""
    if mask.ndim != 3:
        raise ValueError(f"mask must be (B, H, W), got {tuple(mask.shape)}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius == 0:
        return mask.bool()
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    disk = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).float()  # (2r+1, 2r+1)
    hits = F.conv2d(mask[:, None].float(), disk[None, None].to(mask.device), padding=radius)  # (B, 1, H, W)
    return hits[:, 0] > 0.5


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of values (B, H, W) over mask (B, H, W) per image; NaN where the mask is empty."""
    count = mask.sum((1, 2)).float()
    total = (values * mask).sum((1, 2))
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))


def paper_delta_e(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean ΔE76 between ``image`` (B, 3, H, W) RGB in [0, 1] and white paper over the pixels of
    ``mask`` (B, H, W) bool, per image (NaN where empty): how much an unhinted background is
    tinted (issue 14: ≤ 3 is paper to the eye)."""
    from tinct.color import rgb_to_lab

    if image.ndim != 4 or image.shape[1] != 3 or mask.shape != (image.shape[0], *image.shape[2:]):
        raise ValueError(f"need image (B, 3, H, W) and mask (B, H, W), got {tuple(image.shape)}, {tuple(mask.shape)}")
    white = rgb_to_lab(torch.ones_like(image[:, :, :1, :1].float()))
    delta = (rgb_to_lab(image.float()) - white).pow(2).sum(1).sqrt()  # (B, H, W)
    return _masked_mean(delta, mask.bool().to(delta.device))


def hint_locality(before: torch.Tensor, after: torch.Tensor, regions: torch.Tensor, target_region: torch.Tensor, *,
                  paper: torch.Tensor | None = None, dilate: int = 3, threshold: float = 10.0) -> Locality:
    """How far one region's hint moved the colours elsewhere (module docstring).

    before, after: (B, 3, H, W) RGB in [0, 1], the outputs without and with the hint;
    regions: (B, H, W) integer labels; target_region: (B,) the hinted label per image (< 0: no
    hint, all results NaN); paper: (B, 1, H, W) or (B, H, W) bool, the pixels measured
    (default all); dilate: px the hinted region grows by before "outside" starts;
    threshold: ΔE above which a pixel counts as moved. Returns :class:`Locality` of (B,) tensors.
    """
    from tinct.color import rgb_to_lab

    _check(before, after, regions)
    batch, _, height, width = before.shape
    target_region = torch.as_tensor(target_region, device=regions.device)
    if target_region.shape != (batch,) or target_region.is_floating_point():
        raise ValueError(f"target_region must be (B,) = ({batch},) integer labels, got {tuple(target_region.shape)}")
    if paper is None:
        paper = torch.ones(batch, height, width, dtype=torch.bool, device=before.device)
    if paper.ndim == 4 and paper.shape[1] == 1:
        paper = paper[:, 0]  # (B, H, W)
    if paper.shape != (batch, height, width) or paper.is_floating_point():
        raise ValueError(f"paper must be a bool mask (B, 1, H, W) or (B, H, W) = {(batch, height, width)}, "
                         f"got {paper.dtype} {tuple(paper.shape)}")
    paper = paper.bool()
    delta = (rgb_to_lab(after.float()) - rgb_to_lab(before.float())).pow(2).sum(1).sqrt()  # (B, H, W) ΔE76
    hinted = (regions == target_region.long()[:, None, None]) & (target_region >= 0)[:, None, None]
    inside = paper & hinted.to(paper.device)
    outside = paper & ~grow(hinted, dilate).to(paper.device)
    share = _masked_mean((delta > threshold).float(), outside)
    none = target_region < 0
    nan = torch.full_like(share, float("nan"))
    return Locality(share=torch.where(none, nan, share), inside=_masked_mean(delta, inside),
                    outside=torch.where(none, nan, _masked_mean(delta, outside)))


def locality_hint(image: torch.Tensor, regions: torch.Tensor, *, candidates: torch.Tensor = VIVID) -> LocalityHint:
    """The hint of the locality protocol, per image:

    - the region: the largest label (> 0) that does not touch the image border; if every
      region touches it, the largest but the background (the label most frequent along the
      border); a single region is hinted itself; label 0 (lines) never;
    - the point: the region's deepest pixel (largest Euclidean distance to anything outside
      it, the image border counting as outside; first in raster order on ties);
    - the colour: of ``candidates`` (K, 3), the farthest in CIELAB (ΔE76) from the mean colour
      ``image`` has over the region, the colour the model gives it without the hint.

    image: (B, 3, H, W) RGB in [0, 1]; regions: (B, H, W) integer labels, 0 = lines (e.g.
    ``trapped_ball(sketch, assign_lines=False)``). Returns :class:`LocalityHint`.
    """
    from tinct.color import rgb_to_lab

    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be RGB (B, 3, H, W), got {tuple(image.shape)}")
    if regions.shape != (image.shape[0], *image.shape[2:]) or regions.is_floating_point():
        raise ValueError(f"regions must be integer labels (B, H, W) = {(image.shape[0], *image.shape[2:])}, "
                         f"got {regions.dtype} {tuple(regions.shape)}")
    if candidates.ndim != 2 or candidates.shape[1] != 3 or len(candidates) == 0:
        raise ValueError(f"candidates must be (K, 3) RGB colours, got {tuple(candidates.shape)}")
    batch, _, height, width = image.shape
    labels_all = regions.detach().cpu().long().numpy()
    label = torch.full((batch,), -1, dtype=torch.long)
    yx = torch.zeros(batch, 2, dtype=torch.long)
    for index, labels in enumerate(labels_all):
        chosen = _largest_inner_region(labels)
        if chosen < 0:
            continue
        inside = np.pad(labels == chosen, 1).astype(np.uint8)  # the border counts as outside
        depth = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
        label[index], yx[index] = chosen, torch.tensor([row, col])
    points = torch.stack([(yx[:, 1] + 0.5) / width, (yx[:, 0] + 0.5) / height], dim=1)[:, None]  # (B, 1, 2) x, y
    hinted = torch.from_numpy(labels_all) == label[:, None, None]  # (B, H, W)
    count = hinted.sum((1, 2)).clamp_min(1)
    model_color = (image.detach().cpu().float() * hinted[:, None]).sum((2, 3)) / count[:, None]  # (B, 3)
    lab = rgb_to_lab(model_color[:, :, None, None])[:, :, 0, 0]  # (B, 3)
    candidate_lab = rgb_to_lab(candidates.float()[:, :, None, None])[:, :, 0, 0]  # (K, 3)
    farthest = torch.cdist(lab, candidate_lab).argmax(1)  # (B,)
    return LocalityHint(label=label, yx=yx, points=points, colors=candidates.float()[farthest])


def _largest_inner_region(labels: np.ndarray) -> int:
    """The region :func:`locality_hint` hints in one (H, W) label map; -1 when there is none."""
    area = np.bincount(labels.ravel())
    area[0] = 0
    if not area.any():
        return -1
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    touching = np.bincount(border, minlength=len(area))
    inner = np.where(touching == 0, area, 0)
    if inner.any():
        return int(np.argmax(inner))
    touching[0] = 0
    if touching.any() and np.count_nonzero(area) > 1:
        area[int(np.argmax(touching))] = 0  # the background
    return int(np.argmax(area))
