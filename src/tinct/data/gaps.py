"""Gap augmentation: line art with open strokes, as sketches are drawn by hand.

CWR trains on Danbooru line art (SketchKeras extractions of illustrations), whose strokes are
often open: an outline stops a few pixels short of the line it should meet. tinct's training
sources (OpenMoji, Twemoji, IconPark, Freehand) draw closed outlines, so a network trained on
them never sees a region whose boundary leaks, and a region branch learns to copy the lines.
:func:`erase_gaps` opens them: it erases short pieces of the strokes, leaving gaps of a few
pixels (2-8 px at the 128 px training size by default; widths are in pixels of the sketch it
is given). This is tinct's addition, not the paper's: its data has such gaps naturally.
Training (:mod:`tinct.train`, ``train.gaps``) applies it to the network's input sketch only;
the targets (the colour image, CWR's skeleton map of the closed regions) stay as drawn.

How a gap is made (per sketch; every random draw comes from the given generator):

1. the ink (``sketch < 0.5``) is thinned to its skeleton (scikit-image); a skeleton pixel
   with other than two skeleton neighbours is a line end or a junction;
2. the number of gaps and each gap's width ``w`` (px) are drawn uniformly from ``count``
   and ``width`` (both inclusive), and the skeleton pixels are put in a random order;
3. a gap's centre is the first skeleton pixel in that order that lies farther than
   ``w / 2`` plus the stroke's width from any line end or junction (a gap never shortens a
   stroke nor cuts a junction), farther than ``w + 2`` px from any earlier gap, and where
   the line is straight: the skeleton pixels of its branch within ``w / 2`` plus the
   stroke's half width plus 2 px lie within :data:`MAX_OFFSET` of their main axis (no gap
   at a corner or on a curve much tighter than the gap is long);
4. along that axis ``d`` (the line's direction) the gap keeps the pixels whose centres lie
   within ``w / 2`` of the centre (exactly ``w`` pixels along an axis-aligned line; the
   centre moves half a pixel along ``d`` when ``w`` is even), across it those within the
   stroke's half width plus :data:`RIM` px (its anti-aliased rim). Of these, the pixels
   that are not paper (``sketch < 1``) and connected to the centre (8-connected) become
   paper (1). Every other pixel keeps its value; a second line passing near the gap is
   not cut unless its ink touches the stroke there.

When the sketch has fewer places than gaps asked for (short strokes, an all-paper sketch),
it gets as many as fit.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

__all__ = ["MAX_OFFSET", "RIM", "erase_gaps"]

INK_THRESHOLD = 0.5  # a pixel darker than this is ink (tinct.regions.ink_mask)
MAX_OFFSET = 1.0  # px: how far the skeleton may stray from a straight line around a gap
RIM = 1.0  # px beyond the stroke's half width that a gap clears across the line (anti-aliasing)
SPACING = 2  # px between a gap and the next, beyond the new gap's width


def _range(value, name: str, least: int) -> tuple[int, int]:
    """``(low, high)`` whole numbers, ``least <= low <= high``; a single number is ``(n, n)``."""
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name} takes a whole number or a (low, high) pair of them, got {value!r}")
    low, high = int(pair[0]), int(pair[1])
    if not least <= low <= high:
        raise ValueError(f"{name} must be {least} <= low <= high, got {value!r}")
    return low, high


def _skeleton_maps(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W) bool ink -> the skeleton (bool), each pixel's distance to the nearest line end
    or junction of the skeleton (px; inf when there is none), and each pixel's distance to
    the paper (px; at a skeleton pixel, the stroke's half width + 0.5)."""
    from skimage.morphology import skeletonize

    skeleton = skeletonize(ink)
    neighbours = cv2.filter2D(skeleton.astype(np.uint8), -1, np.ones((3, 3), np.float32),
                              borderType=cv2.BORDER_CONSTANT) - skeleton
    special = skeleton & (neighbours != 2)
    if special.any():
        to_special = cv2.distanceTransform((~special).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    else:  # closed loops only
        to_special = np.full(ink.shape, np.inf, np.float32)
    to_paper = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return skeleton, to_special, to_paper


def _window(y: int, x: int, radius: int, shape: tuple[int, int]) -> tuple[slice, slice]:
    return (slice(max(0, y - radius), min(shape[0], y + radius + 1)),
            slice(max(0, x - radius), min(shape[1], x + radius + 1)))


def _direction(skeleton: np.ndarray, y: int, x: int, radius: int) -> np.ndarray | None:
    """The unit direction ``(dy, dx)`` of the skeleton's branch through ``(y, x)`` within
    ``radius`` px, or None where that branch is not straight (:data:`MAX_OFFSET`)."""
    rows, cols = _window(y, x, radius, skeleton.shape)
    patch = skeleton[rows, cols].astype(np.uint8)
    _, labels = cv2.connectedComponents(patch, connectivity=8)
    points = np.argwhere(labels == labels[y - rows.start, x - cols.start]).astype(np.float64)  # (N, 2)
    points -= (y - rows.start, x - cols.start)
    points = points[(points**2).sum(1) <= radius**2]
    if len(points) < 3:
        return None
    points -= points.mean(0)
    _, axes = np.linalg.eigh(points.T @ points)  # ascending: the main axis last
    if np.abs(points @ axes[:, 0]).max() > MAX_OFFSET:
        return None
    return axes[:, 1]


def _gap(sketch: np.ndarray, y: int, x: int, direction: np.ndarray, width: int, across: float) -> np.ndarray:
    """(H, W) bool: the pixels of the gap of ``width`` px centred on ``(y, x)`` (step 4 of the
    module docstring)."""
    radius = math.ceil(width / 2 + across) + 1
    rows, cols = _window(y, x, radius, sketch.shape)
    offset_y, offset_x = np.mgrid[rows, cols].astype(np.float64)
    centre = np.array([y, x], np.float64) + (0.5 * direction if width % 2 == 0 else 0.0)
    offset_y -= centre[0]
    offset_x -= centre[1]
    along = offset_y * direction[0] + offset_x * direction[1]
    normal = -offset_y * direction[1] + offset_x * direction[0]
    band = (np.abs(along) < width / 2) & (np.abs(normal) <= across) & (sketch[rows, cols] < 1.0)
    _, labels = cv2.connectedComponents(band.astype(np.uint8), connectivity=8)
    gap = np.zeros(sketch.shape, bool)
    gap[rows, cols] = labels == labels[y - rows.start, x - cols.start]
    return gap


def _erase_plane(sketch: np.ndarray, count: tuple[int, int], width: tuple[int, int],
                 generator: torch.Generator) -> np.ndarray:
    """(H, W) float sketch -> (H, W) bool gap mask (the draws: module docstring)."""
    gaps = int(torch.randint(count[0], count[1] + 1, (1,), generator=generator))
    widths = torch.randint(width[0], width[1] + 1, (gaps,), generator=generator).tolist()
    ink = sketch < INK_THRESHOLD
    skeleton, to_special, to_paper = _skeleton_maps(ink)
    ys, xs = np.nonzero(skeleton)
    order = torch.randperm(len(ys), generator=generator).numpy()
    ys, xs = ys[order], xs[order]
    erased = np.zeros(sketch.shape, bool)
    to_gap = np.full(sketch.shape, np.inf, np.float32)
    for w in widths:
        fits = (to_special[ys, xs] > w / 2 + 2 * to_paper[ys, xs]) & (to_gap[ys, xs] > w + SPACING)
        for y, x in zip(ys[fits], xs[fits]):
            direction = _direction(skeleton, int(y), int(x), math.ceil(w / 2 + to_paper[y, x]) + 2)
            if direction is None:
                continue
            erased |= _gap(sketch, int(y), int(x), direction, w, float(to_paper[y, x]) - 0.5 + RIM)
            to_gap = cv2.distanceTransform((~erased).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            break
    return erased


def erase_gaps(
    sketch: torch.Tensor,
    *,
    generator: torch.Generator,
    count: int | tuple[int, int] = (2, 6),
    width: int | tuple[int, int] = (2, 8),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Erase short pieces of the lines of a sketch, leaving gaps (module docstring).

    Args:
        sketch: ``(1, H, W)`` or a batch ``(B, 1, H, W)`` float in [0, 1] (1 = paper, 0 = ink).
        generator: every random draw comes from it (the same state gives the same gaps).
        count: gaps per sketch, drawn uniformly from ``(low, high)`` inclusive (or exactly n).
        width: each gap's length along its line in px, drawn uniformly from ``(low, high)``
            inclusive (or exactly n), ``low >= 1``.

    Returns:
        ``(sketch, gap_mask)``: a new sketch of the input's shape and dtype with the gaps
        painted paper (1), and a bool mask of that shape, True on the erased pixels.
    """
    if not isinstance(sketch, torch.Tensor) or sketch.ndim not in (3, 4) or sketch.shape[-3] != 1:
        got = tuple(sketch.shape) if isinstance(sketch, torch.Tensor) else type(sketch).__name__
        raise ValueError(f"sketch must be a (1, H, W) or (B, 1, H, W) tensor, got {got}")
    if not sketch.is_floating_point():
        raise ValueError(f"sketch must be float in [0, 1], got dtype {sketch.dtype}")
    count, width = _range(count, "count", 0), _range(width, "width", 1)
    planes = sketch.detach().reshape(-1, *sketch.shape[-2:]).float().cpu().numpy()  # (B, H, W)
    masks = [_erase_plane(plane, count, width, generator) for plane in planes]
    gap_mask = torch.from_numpy(np.stack(masks)).reshape(sketch.shape).to(sketch.device)
    return sketch.masked_fill(gap_mask, 1.0), gap_mask
