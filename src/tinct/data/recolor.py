"""Colour augmentation for hint-based training: colours that follow regions, not the drawing.

Within one drawing the colours of different areas go together (a face and its hands share a
skin tone, an emoji's fills share a palette). A network trained on such pictures learns that a
hint in one area tells the colour of the others, and one hint recolours the whole picture:
colour bleeding through the hint channel (issue 14 measured 7-27 % of the rest of a drawing
moving by more than 10 ΔE after one point hint). :func:`recolor_regions` breaks that link:
with probability ``p``, every ground-truth flat region of a sample independently takes a new
colour, so a hint in one region says nothing about another. Paper stays paper (regions that
are near-white keep their colour), so the network also learns that backgrounds are not tinted.
Line pixels and their anti-aliased rims keep the line colour: the change is weighted by the
sketch (1 on paper, 0 on ink), which is how the rendered lines cover the fills.

Not in the GuidingPainter or RTUG papers (both train on the colours as drawn; GuidingPainter's
official code applies a global colour jitter). A global jitter shifts every area together and
keeps the link; this per-region draw is tinct's deviation, documented in the model cards.
:func:`hue_jitter` is the global part: a random hue rotation of the whole picture (white and
greys unchanged).
"""

from __future__ import annotations

import numpy as np
import torch
from kornia.color import hsv_to_rgb, rgb_to_hsv

PAPER_LIGHTNESS = 0.92  # a region whose mean colour has every channel above this is paper


def _nearest_labels(regions: torch.Tensor, reach: float = 2.5) -> torch.Tensor:
    """(H, W) int labels with 0 (lines and their rims) replaced by the nearest label > 0 when
    one lies within ``reach`` px (the rims of a line, on both sides); farther pixels stay 0."""
    import cv2

    labels = regions.numpy()
    unlabelled = labels == 0
    if not unlabelled.any() or unlabelled.all():
        return regions
    distance, nearest = cv2.distanceTransformWithLabels(
        unlabelled.astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    # `nearest` numbers the zero pixels of the input (the labelled pixels) in scan order
    seeds = labels[~unlabelled]
    filled = np.where(distance <= reach, seeds[nearest - 1], 0).astype(labels.dtype)
    return torch.from_numpy(filled)


def random_colors(count: int, *, generator: torch.Generator) -> torch.Tensor:
    """(count, 3) RGB in [0, 1]: hue uniform, saturation 0.25-0.9, value 0.35-0.95."""
    draws = torch.rand(count, 3, generator=generator)
    hsv = torch.stack([draws[:, 0] * 2 * torch.pi, 0.25 + 0.65 * draws[:, 1], 0.35 + 0.6 * draws[:, 2]], dim=1)
    return hsv_to_rgb(hsv.T[:, :, None])[:, :, 0].T.clamp(0, 1)


def recolor_regions(
    color: torch.Tensor,
    sketch: torch.Tensor,
    regions: torch.Tensor,
    *,
    generator: torch.Generator,
    p: float = 0.5,
) -> torch.Tensor:
    """With probability ``p``, every non-paper ground-truth region gets its own random colour.

    color: (3, H, W) RGB in [0, 1]; sketch: (1, H, W) in [0, 1] (1 = paper); regions: (H, W)
    integer labels (0 on and next to lines: those pixels follow the nearest region within
    2.5 px, weighted by the sketch). Near-white pixels and regions never move. Each region's pixels move by (new colour - region mean) * sketch, so the
    lines and their anti-aliasing stay as drawn. Returns a new (3, H, W) tensor (the input
    itself when not drawn). One draw of ``generator`` decides, then one per region.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if color.ndim != 3 or color.shape[0] != 3 or regions.shape != color.shape[1:] or sketch.shape != (1, *regions.shape):
        raise ValueError(f"need color (3, H, W), sketch (1, H, W), regions (H, W); got {tuple(color.shape)}, "
                         f"{tuple(sketch.shape)}, {tuple(regions.shape)}")
    if float(torch.rand((), generator=generator)) >= p or int(regions.max()) == 0:
        return color
    regions = regions.long()
    count = int(regions.max()) + 1
    inside = regions.reshape(-1).to(color.device)  # the means come from the regions' own pixels
    sums = torch.zeros(count, 3, dtype=color.dtype, device=color.device).index_add_(0, inside, color.reshape(3, -1).T)
    areas = torch.bincount(inside, minlength=count).clamp_min(1).to(color.dtype)[:, None]
    means = sums / areas  # (count, 3)
    new = random_colors(count, generator=generator).to(color)
    keep = (means > PAPER_LIGHTNESS).all(dim=1)
    keep[0] = True  # unlabelled pixels far from any region
    shift = torch.where(keep[:, None], torch.zeros_like(new), new - means)  # (count, 3)
    labels = _nearest_labels(regions.cpu()).reshape(-1).to(color.device)
    white = (color > PAPER_LIGHTNESS).all(dim=0, keepdim=True)  # paper pixels never move
    moved = color + shift[labels].T.reshape(color.shape) * sketch * ~white
    return moved.clamp(0.0, 1.0)


def hue_jitter(color: torch.Tensor, *, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """With probability ``p``, rotate the hue of the whole (3, H, W) picture by a uniform angle
    (greys and white keep their colour). Returns a new tensor, or the input when not drawn."""
    draws = torch.rand(2, generator=generator).tolist()
    if draws[0] >= p:
        return color
    hsv = rgb_to_hsv(color[None].float())
    hsv[:, 0] = torch.remainder(hsv[:, 0] + 2 * torch.pi * draws[1], 2 * torch.pi)
    return hsv_to_rgb(hsv)[0].to(color.dtype).clamp(0.0, 1.0)
