"""Trapped-ball regions of line art, region skeletons and region statistics.

The trapped-ball fill (Zhang et al. 2009, "Vectorizing cartoon animations"; the region
maps of RASC and CWR) partitions a sketch into flat regions: a ball of radius ``r``
cannot pass through a gap in a line of ``2 r`` pixels or less, so filling with a ball
instead of a pixel closes small gaps. The common public implementation fills one region
at a time and rescans the whole image for every region (cost ~ regions x pixels, seconds
per image). Here every step is a whole-image pass (numpy + OpenCV):

1. balls, for each radius ``r`` from large to small: the free space eroded by a disk of
   radius ``r`` gives the centres where the ball fits (minus isolated ones: a ball that
   cannot roll, in a cell just as wide as it, leaves the cell to the next ball); their
   4-connected components not yet labelled are labelled once. At the first radius each is
   a region. At the next ones a component that touches the centres of a labelled region
   is a pocket of it (the smaller ball rolls in and out again, as in the cells between
   hatching or speed lines that stop inside an area) or, touching two, lies in a passage
   between them (a gap the larger ball closed): it joins the region it touches most; the
   others, where the ball is trapped, are new regions. The balls grow back (a dilation of
   the label image, limited to the free pixels);
2. the free pixels still unlabelled: flood-fill components, which join the region they
   touch most, or are regions of their own;
3. line pixels take the label of a nearest region;
4. first, patterns of strokes the balls cannot see join the area they shade
   (:func:`trapped_ball` gives the rules): the closed cells of cross-hatching, the strips
   of hatching whose mouths are narrower than the ball, and the passages between two
   separate shapes closer than the ball (no gap: no line ends there). These look at the
   few candidates the graph gives, in crops around them. Then
   regions merge into a larger neighbour on the region adjacency graph (vectorised, no
   image pass): regions below ``min_area`` into the neighbour they touch most through
   free space (two regions separated by a line never do), or across the ink if they touch
   none (islands in the ink); slivers, which touch a neighbour through free space along
   ``sliver`` of their boundary; and thin regions side by side (no ball two pixels larger
   than the first fits in them; at least four of them along lines three ball diameters
   long), the strips that hatching or speed lines drawn from one line to another cut an
   area into, into one another across those lines.

The radii are in pixels, and the right ones grow with the resolution of the drawing (its
gaps grow as its strokes do): by default they are chosen from the line width
(:func:`auto_radii`: ``(3, 2, 1)`` for 3 px lines); ``radii=(3, 2, 1)`` is the classic
setting.

Measured with ``python benchmarks/regions_drawn.py`` (drawn cases, 160 px): with the
default radii 3 px squares, circles and diamonds keep gaps up to 6 px closed, as
``(3, 2, 1)`` does (before: 6, 4 and 3 px), 5 px ones up to 8 px; hatching that stops
inside a circle, hatching across it, hatching from its outline (strips with narrow
mouths), cross-hatching in it or all over it and speed lines in a panel leave the area in
one region (before: 25 regions for the circle hatched across, 22-23 for the panels, 10
for the first circle with ``(3, 2, 1)``; 6 for the hatching from the outline, 60 and 209
for the cross-hatching); a circle 6 px inside a square leaves one area between them (5
regions before, as with ``(3, 2, 1)``); nested shapes, eyes 5 px across, buttons, a row
of eight 5 px cells, a belt whose line has a 3 px gap and a square closed by two strokes
side by side stay as drawn: all 16 cases, with the default radii and with ``(3, 2, 1)``.
Not solved (seen on variants of those drawings): cross-hatching with 1 px strokes or
cells wider than the first ball (not cells: a region per cell, as before), hatching from
an outline 5 px apart (4 regions where 2 are drawn; 4-6 before), hatching across a circle
whose strips are not thin (7-10 px apart with 1-2 px strokes: 10-15 regions, as before),
and a circle 7 px inside a square drawn with 4 px lines (5 regions, as before: the
regions share more than a ball diameter of line where the lines come close). The region
map of a drawn 4096 px page (radii ``(8, 5)``) took 0.37-0.43 s on one core (OpenCV 1
thread) against 0.55-1.07 s before these passes were vectorised, in the same runs on a
machine shared with two training runs; the pattern rules add ~0.01-0.015 s to it (0.375 s
against 0.361 s, best of 9 interleaved runs on a shared machine). On the OpenMoji mosaics of
``benchmarks/regions.py`` (test split, 4 x 4 tiles) the ARI is unchanged (0.9158,
0.9030, 0.8946 at 64, 128, 256 px tiles, with and without the pattern rules; val split
within 0.0003); of the 13,485 emoji renders of all splits at those sizes, 129 change (skin
tones counted apart): patterns become one region (a goal net, a lacrosse net, yarn, a
spider web, a brain's folds), a finger or an arm beside a pocket of the hand or body joins
it (gloves, people holding hands), backgrounds that the ground truth splits where two
shapes nearly touch the image border become one (open hands, -0.70 ARI on that emoji, the
largest loss), and a pocket between two shapes that nearly touch opens into the area
beside it (a shrimp's curl at 64 px, which the ground truth keeps apart).
The cost of the pockets: a narrow part of a
drawing that opens into a region through a passage the smaller ball rolls through joins
it (a finger at 64 px whose joint line does not quite close): of the OpenMoji
ground-truth regions of those mosaics, 433 of 819 are found (IoU >= 0.5) at 64 px against
458 before, 756 of 1323 at 128 px against 785, 677 of 1141 at 256 px against 670.

Conventions: a sketch is ``(H, W)`` (or ``(1, H, W)``, or a batch ``(B, 1, H, W)``)
with **1 = paper, 0 = ink** (float in ``[0, 1]``, or uint8 with 255 = paper, or a torch
tensor); a label map is ``(H, W)`` int32 with labels ``1..K`` (0 = line pixels when lines
are not assigned). Pixels are 4-connected throughout (a 1 px diagonal line separates).
Everything returns numpy arrays.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "RegionStats",
    "adjusted_rand_index",
    "auto_radii",
    "colorize_labels",
    "default_min_area",
    "ink_mask",
    "line_width",
    "mean_color_fill",
    "region_stats",
    "skeleton",
    "split_regions",
    "stroke_width",
    "trapped_ball",
]


# ---------------------------------------------------------------------------- inputs


def _to_numpy(array) -> np.ndarray:
    if isinstance(array, np.ndarray):
        return array
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def _sketch_planes(sketch) -> tuple[np.ndarray, bool]:
    """``(H, W)``, ``(1, H, W)`` or ``(B, 1, H, W)`` -> ``(B, H, W)`` and whether batched."""
    array = _to_numpy(sketch)
    shape = tuple(array.shape)
    if array.ndim == 2:
        return array[None], False
    if array.ndim == 3 and shape[0] == 1:
        return array, False
    if array.ndim == 4 and shape[1] == 1:
        return array[:, 0], True
    raise ValueError(f"sketch must be (H, W), (1, H, W) or (B, 1, H, W), got {shape}")


def _check_labels(labels, name: str = "labels") -> np.ndarray:
    array = _to_numpy(labels)
    if array.ndim != 2:
        raise ValueError(f"{name} must be an (H, W) label map, got shape {tuple(array.shape)}")
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise ValueError(f"{name} must hold integer labels, got dtype {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be non-negative, got minimum {array.min()}")
    return array


def _check_image(image, shape: tuple[int, int]) -> np.ndarray:
    array = _to_numpy(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[:2] != shape:
        raise ValueError(f"image must be (H, W, C) or (H, W) with (H, W) = {shape}, got {tuple(array.shape)}")
    return array


def ink_mask(sketch, threshold: float = 0.5) -> np.ndarray:
    """Ink pixels of a sketch.

    sketch: ``(H, W)`` or ``(1, H, W)`` (or a batch ``(B, 1, H, W)``), numpy or torch;
    float in ``[0, 1]`` (1 = paper, 0 = ink), uint8 (255 = paper) or bool (True = paper).
    threshold: in ``[0, 1]``; a pixel darker than it is ink.
    Returns bool ``(H, W)`` (``(B, H, W)`` for a batch), True on ink.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    planes, batched = _sketch_planes(sketch)
    if planes.dtype == bool:
        ink = ~planes
    elif planes.dtype == np.uint8:
        ink = planes < threshold * 255.0
    elif np.issubdtype(planes.dtype, np.integer):
        raise ValueError(f"integer sketches must be uint8 (255 = paper), got dtype {planes.dtype}")
    else:
        ink = planes < threshold
    return ink if batched else ink[0]


# ----------------------------------------------------------------------- trapped ball


def default_min_area(height: int, width: int) -> int:
    """Regions smaller than this (pixels) are merged: ~8 px at 256 x 256, at least 4."""
    return max(4, round(height * width / 8192))


def stroke_width(ink: np.ndarray) -> float:
    """Mean width of the strokes of an ink mask, ``2 * area / boundary length`` (pixels), the
    boundary counted in pixel edges.

    ink: bool ``(H, W)``. For a stroke of width ``w`` and length ``L >> w`` the area is
    ``w L`` and the boundary ``2 L``. The pixel edges of a curve or a slanted line are a
    staircase up to 1.41 times as long, so those strokes come out up to ~30% thinner (2.3
    px for a 3 px circle; :func:`line_width` measures them). Solid black fills make it
    larger. 0 without ink.
    """
    ink = np.asarray(ink, bool)
    if ink.ndim != 2:
        raise ValueError(f"ink must be an (H, W) mask, got {tuple(ink.shape)}")
    edges = np.count_nonzero(ink[:, 1:] != ink[:, :-1]) + np.count_nonzero(ink[1:] != ink[:-1])
    return 2.0 * np.count_nonzero(ink) / edges if edges else 0.0


def line_width(ink: np.ndarray) -> float:
    """Mean width of the strokes of an ink mask, ``2 * area / boundary length`` (pixels), the
    boundary length measured in four directions (Cauchy-Crofton).

    ink: bool ``(H, W)``. Within ~5% of the drawn width at any slant: 2.9 px for a 3 px
    circle, 3.2 px for a 3 px square (:func:`stroke_width` finds 2.3 and 3.0). Solid black
    fills make it larger. 0 without ink.
    """
    ink = np.asarray(ink, bool)
    if ink.ndim != 2:
        raise ValueError(f"ink must be an (H, W) mask, got {tuple(ink.shape)}")
    straight = np.count_nonzero(ink[:, 1:] != ink[:, :-1]) + np.count_nonzero(ink[1:] != ink[:-1])
    diagonal = np.count_nonzero(ink[1:, 1:] != ink[:-1, :-1]) + np.count_nonzero(ink[1:, :-1] != ink[:-1, 1:])
    # length = pi / 2 x the mean over the directions of (crossings x spacing of the lines
    # that count them): 1 px along the axes, 1 / sqrt(2) along the diagonals
    length = math.pi / 8.0 * (straight + diagonal / math.sqrt(2.0))
    return 2.0 * np.count_nonzero(ink) / length if length else 0.0


def auto_radii(ink: np.ndarray) -> tuple[int, ...]:
    """Ball radii for an ink mask, scaled by its line width ``w`` (:func:`line_width`).

    ``r = clip(ceil(0.6 w + 0.4), 2, 8)``, then ``ceil(0.6 r)``, then 1 if that is 2 or
    less: ``(3, 2, 1)`` for 3 px lines, straight or curved (``w`` from 2.7 to 4.3: gaps up
    to 6 px close), ``(4, 3)`` for 5 px lines (gaps up to 8 px); for OpenMoji line art
    ``(2, 1)`` at 64 px (``w`` ~ 2.1), ``(3, 2, 1)`` at 128 px, ``(5, 3)`` at 256 px (``w`` ~
    7.4). The gaps in a drawing grow with its resolution, as its strokes do: on the OpenMoji
    mosaics of ``benchmarks/regions.py`` a fixed ``(3, 2, 1)`` loses ~0.06 ARI at 256 px,
    and these radii are as good as the best fixed ones per size (within ~0.005). With thick
    lines a region that only a 1 px ball enters is a sliver or a cell between strokes, and
    a pass with it changes nothing there (OpenMoji at 256 and 512 px: the same ARI): it is
    left out. ``w`` is a mean: thinner hatching lowers it (3 px outlines with 2 px hatching:
    ``(2, 1)``).
    """
    radius = int(np.clip(math.ceil(0.6 * line_width(ink) + 0.4), 2, 8))
    second = math.ceil(0.6 * radius)
    return tuple(sorted({radius, second} | ({1} if second <= 2 else set()), reverse=True))


@functools.lru_cache(maxsize=32)
def _disk(radius: int) -> np.ndarray:
    """uint8 disk of radius ``radius``: the pixels with x^2 + y^2 <= r^2."""
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


_RING = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.uint8)  # the 4-neighbours of a pixel
HATCH_CELLS = 4  # thin cells side by side that make a pattern of strokes


def _label_dtype(count: int):
    """Smallest dtype that cv2.dilate handles and that holds labels up to ``count`` exactly."""
    if count < np.iinfo(np.uint16).max:
        return np.uint16
    return np.float32 if count < 2**24 else np.float64


def _dilatable(ids: np.ndarray, count: int) -> np.ndarray:
    return ids if ids.dtype == np.uint16 else ids.astype(_label_dtype(count))


def _widen(labels: np.ndarray, size: int) -> np.ndarray:
    """uint16 labels as int32 once they must hold ``size - 1 >= 65535``."""
    return labels.astype(np.int32) if labels.dtype == np.uint16 and size > np.iinfo(np.uint16).max else labels


def _components(mask: np.ndarray, connectivity: int = 4) -> tuple[int, np.ndarray]:
    """Connected components of a uint8 mask: (number of labels with 0, uint16 or int32 labels)."""
    try:
        return cv2.connectedComponents(mask, connectivity=connectivity, ltype=cv2.CV_16U)
    except cv2.error:  # 65535 components or more
        return cv2.connectedComponents(mask, connectivity=connectivity, ltype=cv2.CV_32S)


def _label_area(labels: np.ndarray, size: int, mask: np.ndarray | None = None) -> np.ndarray:
    """int64 pixels per label (labels < size), only where the uint8 ``mask`` is set if given."""
    if labels.dtype == np.uint16 and labels.size <= 2**24:  # float32 counts are exact
        if mask is not None:  # faster than calcHist's own mask
            labels = cv2.bitwise_and(labels, labels, mask=mask)
        area = cv2.calcHist([labels], [0], None, [size], [0, size]).ravel().astype(np.int64)
        if mask is not None:
            area[0] = 0
        return area
    flat = labels.ravel() if mask is None else labels.ravel()[mask.ravel().view(bool)]
    return np.bincount(flat, minlength=size).astype(np.int64)


def _first_per_group(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Indices of the first element of each group after sorting by ``group``, then ``keys``."""
    order = np.lexsort(keys[::-1] + (group,))
    first = np.ones(order.size, bool)
    first[1:] = group[order[1:]] != group[order[:-1]]
    return order[first]


def _attach(
    ids: np.ndarray, found: int, labels: np.ndarray, size: int, reach: np.ndarray, passages: list | None = None
) -> np.ndarray:
    """int64 ``(found,)``: for each component of ``ids`` (1..found-1), the label (< ``size``) it
    touches most often (4-neighbours) on pixels of ``reach``; 0 where it touches none.

    passages: a list to which the passages are appended, the components that touch two
    labels or more: int64 ``(n, 6)`` rows ``(label, other, top, bottom, left, right)``, the
    two labels they touch most and the box (inclusive) of the pixels where they touch them.
    """
    near = cv2.dilate(_dilatable(ids, found), _disk(1)).ravel()  # the largest id among the 4-neighbours
    touch = np.flatnonzero(near != 0)
    touch = touch[(labels.ravel()[touch] != 0) & reach.ravel()[touch]]
    target = np.zeros(found, np.int64)
    if touch.size:
        codes, contact = np.unique(near[touch].astype(np.int64) * size + labels.ravel()[touch], return_counts=True)
        component, label = codes // size, codes % size
        best = _first_per_group(component, -contact)
        target[component[best]] = label[best]
        if passages is not None and best.size < component.size:
            second = np.ones(component.size, bool)
            second[best] = False
            runner = _first_per_group(np.where(second, component, -1), -contact)
            runner = runner[second[runner]]  # the label of second largest contact, per passage
            other = np.zeros(found, np.int64)
            other[component[runner]] = label[runner]
            which = near[touch].astype(np.int64)
            keep = other[which] != 0
            rows, cols = np.divmod(touch[keep], labels.shape[1])
            which = which[keep]
            top, left = np.full(found, labels.size), np.full(found, labels.size)
            bottom, right = np.zeros(found, np.int64), np.zeros(found, np.int64)
            np.minimum.at(top, which, rows)
            np.maximum.at(bottom, which, rows)
            np.minimum.at(left, which, cols)
            np.maximum.at(right, which, cols)
            chosen = component[runner]
            rows = [target[chosen], other[chosen], top[chosen], bottom[chosen], left[chosen], right[chosen]]
            passages.append(np.stack(rows, 1))
    return target

def _ball_passes(free: np.ndarray, radii) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps 1-2: a pass of balls for each radius, then a flood fill of the rest.

    free: bool (H, W). Returns the labels (uint16, or int32 past 65534 labels; 0 on ink);
    per label (index 0 unused), ``born``: the index of the pass that made it (``len(radii)``
    for the flood fill) and ``deep``: for the regions of the first pass, whether a ball two
    pixels larger fits in them (True for the others); and the passages the later passes and
    the flood fill found (:func:`_attach`).
    """
    free8 = free.view(np.uint8)
    labels = np.zeros(free.shape, np.uint16)
    born, deep = [0], [True]
    passages = []
    for step, radius in enumerate(radii):
        kernel = _disk(radius)
        core = cv2.erode(free8, kernel)  # the centres of the balls that fit in the free space
        # a ball that fits in one place only, unable to roll (a cell just as wide as it,
        # or a slanted one), makes no region: the next, smaller ball decides
        core = cv2.bitwise_and(core, cv2.dilate(core, _RING))
        unlabelled = labels == 0
        first = len(born) == 1
        # 4-connected: a diagonal step would let the ball through gaps in slanted lines
        # that it does not pass in straight ones (measured: it leaks)
        found, ids = _components(core if first else cv2.bitwise_and(core, unlabelled.view(np.uint8)))
        if found <= 1:
            continue
        # a new component that touches the centres of a region is a pocket of it (the ball
        # rolls in and out again: a cell between hatching lines) or, touching two regions,
        # lies in a passage between them (a gap the larger ball closed): it joins the region
        # it touches most. The others are new regions: their ball is trapped
        size = len(born)
        target = np.zeros(found, np.int64) if first else _attach(ids, found, labels, size, core.view(bool), passages)
        alone = np.flatnonzero(target[1:] == 0) + 1
        target[alone] = size + np.arange(alone.size)
        born.extend([step] * alone.size)
        if first:  # (the regions of later passes are thin anyway)
            deep.extend(_label_area(ids, found, cv2.erode(core, _disk(2)))[alone] > 0)
        else:
            deep.extend([True] * alone.size)
        labels = _widen(labels, len(born))
        grown = cv2.dilate(_dilatable(ids, found), kernel)  # the balls grow back
        if first:  # the labels are the component ids
            cv2.bitwise_and(grown, grown, dst=grown, mask=free8)
            labels = grown if grown.dtype == np.uint16 else grown.astype(np.int32)
        else:
            reached = np.flatnonzero((grown != 0) & unlabelled & free)
            labels.ravel()[reached] = target[grown.ravel()[reached]]
    rest = free & (labels == 0)
    if rest.any():  # the flood fill, 4-connected (a 1 px diagonal line separates), pockets join
        found, ids = _components(rest.view(np.uint8))
        size = len(born)
        target = _attach(ids, found, labels, size, free, passages) if size > 1 else np.zeros(found, np.int64)
        alone = np.flatnonzero(target[1:] == 0) + 1
        target[alone] = size + np.arange(alone.size)
        born.extend([len(radii)] * alone.size)
        deep.extend([True] * alone.size)
        labels = _widen(labels, len(born))
        where = np.flatnonzero(rest)
        labels.ravel()[where] = target[ids.ravel()[where]]
    passages = np.concatenate(passages) if passages else np.zeros((0, 6), np.int64)
    return labels, np.asarray(born), np.asarray(deep, bool), passages


def _fill_lines(labels: np.ndarray, ink: np.ndarray, steps: int = 2) -> np.ndarray:
    """Step 3: ``labels`` with every ink pixel given the label of a nearest free pixel.

    The labels grow into the ink one pixel a step through 4-neighbours (the largest label on
    ties) for ``steps`` steps; deeper ink takes the label of the Euclidean nearest labelled
    pixel on the grid of every other pixel (off by a pixel at most, inside strokes more than
    ``2 * steps`` px wide).
    """
    filled = labels.copy() if labels.dtype == np.uint16 else labels.astype(_label_dtype(int(labels.max())))
    todo = ink.view(np.uint8)
    for _ in range(steps):
        cv2.copyTo(cv2.dilate(filled, _disk(1)), todo, filled)
        todo = cv2.bitwise_and(todo, (filled == 0).view(np.uint8))
    if cv2.countNonZero(todo):
        coarse = _fill_nearest(np.ascontiguousarray(filled[::2, ::2]))
        height, width = filled.shape
        cv2.copyTo(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_NEAREST), todo, filled)
    return filled.astype(labels.dtype, copy=False)


def _fill_nearest(labels: np.ndarray) -> np.ndarray:
    """Every 0 pixel takes the label of the nearest labelled pixel (Euclidean, 3x3 mask)."""
    unlabelled = (labels == 0).view(np.uint8)
    if not unlabelled.any():
        return labels
    _, nearest = cv2.distanceTransformWithLabels(unlabelled, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    seeded = unlabelled == 0
    seeds = labels[seeded]
    # DIST_LABEL_PIXEL numbers the seed (zero) pixels 1..N in raster order: check the ends
    first, last = np.argmax(seeded), seeded.size - 1 - np.argmax(seeded.ravel()[::-1])
    if nearest.flat[first] == 1 and nearest.flat[last] == seeds.size:
        table = np.empty(seeds.size + 1, labels.dtype)
        table[0] = 0
        table[1:] = seeds
    else:  # pragma: no cover - another OpenCV numbering
        table = np.zeros(int(nearest.max()) + 1, labels.dtype)
        table[nearest[seeded]] = seeds
    return table[nearest]


def _unordered(a: np.ndarray, b: np.ndarray, size: int, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique pairs ``low < high`` of two int64 label arrays and their counts (or summed weights)."""
    codes, inverse = np.unique(np.minimum(a, b) * size + np.maximum(a, b), return_inverse=True)
    total = np.bincount(inverse.ravel(), weights=weight, minlength=codes.size).astype(np.int64)
    return codes // size, codes % size, total


def _neighbour_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels on either side of every horizontal and vertical edge where they differ."""
    pairs_a, pairs_b = [], []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        differ = a != b
        pairs_a.append(a[differ])
        pairs_b.append(b[differ])
    return np.concatenate(pairs_a), np.concatenate(pairs_b)


def _region_graph(labels: np.ndarray, filled: np.ndarray, free: np.ndarray, size: int):
    """The region adjacency graph: per label the area (free pixels) and the perimeter (edges
    between a free pixel of the region and anything else), and two edge lists ``(low, high,
    contact)``: through free space (edges between free pixels of two regions; regions
    separated by a line never touch) and across the ink (edges of ``filled`` where two
    regions meet on or next to ink: along the middle of the lines between them); and the flat
    indices of the pixels on either side of every edge of ``filled`` between two labels."""
    width = filled.shape[1]
    labels_flat, free_flat = filled.ravel(), free.ravel()
    area = _label_area(labels, size)
    area[0] = 0
    perimeter = np.zeros(size, np.int64)
    free_pairs, ink_pairs, boundary = [], [], []
    for across, first, second in ((True, np.s_[:, :-1], np.s_[:, 1:]), (False, np.s_[:-1, :], np.s_[1:, :])):
        differ = filled[first] != filled[second]
        own = (free[first] != free[second]) & ~differ  # a free pixel next to its own region's ink
        index, own = np.flatnonzero(differ), np.flatnonzero(own)
        offset = 1 if across else width
        if across and width > 1:  # indices in (H, W - 1) -> in (H, W)
            index, own = index + index // (width - 1), own + own // (width - 1)
        boundary += [index, index + offset]
        label_a, label_b = labels_flat[index], labels_flat[index + offset]
        on_a, on_b = free_flat[index], free_flat[index + offset]
        perimeter += np.bincount(label_a[on_a], minlength=size) + np.bincount(label_b[on_b], minlength=size)
        perimeter += np.bincount(labels_flat[own], minlength=size)
        both = on_a & on_b
        free_pairs.append((label_a[both], label_b[both]))
        ink_pairs.append((label_a[~both], label_b[~both]))
    free_graph, ink_graph = (
        _unordered(*(np.concatenate(side).astype(np.int64) for side in zip(*pairs)), size)
        for pairs in (free_pairs, ink_pairs)
    )
    return area, perimeter, free_graph, ink_graph, np.concatenate(boundary)


def _graph_components(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph on ``0..size-1`` with edges ``(a, b)``: the smallest
    node of each node's component (hooking and pointer jumping)."""
    root = np.arange(size)
    while True:
        low, high = np.minimum(root[a], root[b]), np.maximum(root[a], root[b])
        apart = low != high
        if not apart.any():
            return root
        np.minimum.at(root, high[apart], low[apart])  # hook the larger root under the smaller
        while True:
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped


def _hatching(thin: np.ndarray, ink_graph, contact: int) -> np.ndarray:
    """bool per label: the thin regions in a group of at least ``HATCH_CELLS`` thin regions
    side by side along lines of at least ``contact`` edges (a pattern of strokes, not a
    few narrow shapes)."""
    low, high, length = ink_graph
    joined = thin[low] & thin[high] & (length >= contact)
    if not joined.any():
        return np.zeros(thin.size, bool)
    group = _graph_components(thin.size, low[joined], high[joined])
    return thin & (np.bincount(group, minlength=thin.size)[group] >= HATCH_CELLS)


# Patterns of strokes (step 4a, see trapped_ball): closed cells of cross-hatching, strips of
# hatching with narrow mouths, and passages between lines that run past each other.
CLOSED_CELLS = 6  # closed cells side by side that make a pattern (cross-hatching), not drawn areas
SIMILAR_CELLS = 2.0  # the cells of a pattern: from 1 / this to this times its median cell
PATTERN_DEGREE = 3.0  # cell neighbours per cell, on average, in a pattern (a lattice, not a row)
THIN_LINES = 1.5  # the lines between the cells of a pattern: at most this times the stroke width
STRIP_ELONGATION = 8.0  # a strip: (perimeter / 2) / width = perimeter^2 / (4 area) at least this
STRIP_TURN = math.radians(20)  # strips side by side: their long axes at most this far apart
CHANNEL = 1.5  # passages between lines that run past them: at least this many ball diameters long


def _groups(keep: np.ndarray, low: np.ndarray, high: np.ndarray, joined: np.ndarray):
    """The groups of ``keep`` labels joined by the edges ``joined``: (group per label: its
    smallest label, number of members per group id)."""
    group = _graph_components(keep.size, low[joined], high[joined])
    return group, np.bincount(group[keep], minlength=keep.size)


def _median_per_group(keep: np.ndarray, group: np.ndarray, area: np.ndarray) -> np.ndarray:
    """float per group id: the (upper) median area of its ``keep`` members."""
    members = np.flatnonzero(keep)
    order = members[np.lexsort((area[members], group[members]))]
    starts = np.flatnonzero(np.r_[True, group[order[1:]] != group[order[:-1]]])
    ends = np.r_[starts[1:], order.size]
    median = np.zeros(keep.size)
    median[group[order[starts]]] = area[order[(starts + ends) // 2]]
    return median


def _cell_patterns(cell: np.ndarray, piece: np.ndarray, area: np.ndarray, apart) -> np.ndarray:
    """int64 per label: the pattern (its smallest label) of the cells of a pattern, else 0.

    cell: bool per label, the candidate cells; apart: an edge list ``(low, high, contact)`` of
    regions side by side across a line. A pattern is a group of at least ``CLOSED_CELLS``
    cells side by side (at least 2 edges of line between them), each within ``SIMILAR_CELLS``
    times of the group's median cell, with on average at least ``PATTERN_DEGREE`` neighbours
    in it; then the ``piece`` regions (cells cut off by an outline) no larger than its median
    cell that touch its cells across lines at least as long as they touch anything else.
    """
    low, high, length = apart
    size = cell.size
    pattern = np.zeros(size, np.int64)
    keep = cell.copy()
    for _ in range(2):  # the groups, then the groups of their cells of similar size
        joined = keep[low] & keep[high] & (length >= 2)
        if np.count_nonzero(joined) < CLOSED_CELLS - 1:
            return pattern
        group, count = _groups(keep, low, high, joined)
        keep &= count[group] >= CLOSED_CELLS
        if not keep.any():
            return pattern
        median = _median_per_group(keep, group, area)[group]
        keep &= (area <= SIMILAR_CELLS * median) & (SIMILAR_CELLS * area >= median)
    joined = keep[low] & keep[high] & (length >= 2)
    group, count = _groups(keep, low, high, joined)
    degree = 2.0 * np.bincount(group[low[joined]], minlength=size)
    keep &= (count[group] >= CLOSED_CELLS) & (degree[group] >= PATTERN_DEGREE * count[group])
    if not keep.any():
        return pattern
    pattern[keep] = group[keep]
    median = _median_per_group(keep, group, area)
    piece = piece & ~keep & (area > 0)
    src, dst, length = _directed(apart)
    for _ in range(3):  # pieces next to pieces
        inner = piece[src] & (pattern[dst] > 0) & (length > 0)
        if not inner.any():
            break
        to_pattern = np.bincount(src[inner], weights=length[inner], minlength=size)
        elsewhere = np.zeros(size)
        outer = piece[src] & (pattern[dst] == 0)
        np.maximum.at(elsewhere, src[outer], length[outer])
        best_src, best_dst, _ = _best_neighbours(src, dst, length, inner)
        join = (to_pattern[best_src] >= elsewhere[best_src]) & (area[best_src] <= median[pattern[best_dst]])
        if not join.any():
            break
        pattern[best_src[join]] = pattern[best_dst[join]]
        piece[best_src[join]] = False
    return pattern


def _first_pass_cover(free: np.ndarray, radius: int) -> np.ndarray:
    """bool: the free pixels the balls of radius ``radius`` that roll (as in the passes) cover;
    the rest are the thin parts, narrower than the ball."""
    free8 = free.view(np.uint8)
    core = cv2.erode(free8, _disk(radius))
    core = cv2.bitwise_and(core, cv2.dilate(core, _RING))
    return cv2.bitwise_and(cv2.dilate(core, _disk(radius)), free8).view(bool)


def _boxes(filled: np.ndarray, boundary: np.ndarray, key: np.ndarray, count: int, margin: int) -> list:
    """Per key ``k`` in 1..count (``key`` per label): the slices of the box of the pixels of
    ``filled`` whose label has that key, widened by ``margin``. A region's box is that of its
    pixels on ``boundary`` (flat indices of the pixels next to another label) and on the
    border of the image."""
    height, width = filled.shape
    columns, rows = np.arange(width), np.arange(height) * width
    rim = np.unique(np.concatenate([columns, columns + (height - 1) * width, rows, rows + width - 1]))
    where = np.concatenate([boundary, rim])
    which = key[filled.ravel()[where]]
    where, which = where[which > 0], which[which > 0]
    rows, cols = np.divmod(where, width)
    top, left = np.full(count + 1, height), np.full(count + 1, width)
    bottom, right = np.zeros(count + 1, np.int64), np.zeros(count + 1, np.int64)
    np.minimum.at(top, which, rows)
    np.maximum.at(bottom, which, rows)
    np.minimum.at(left, which, cols)
    np.maximum.at(right, which, cols)
    return [
        (slice(max(top[k] - margin, 0), bottom[k] + margin + 1), slice(max(left[k] - margin, 0), right[k] + margin + 1))
        for k in range(1, count + 1)
    ]


def _part_shapes(parts: np.ndarray, count: int, chosen: np.ndarray):
    """Per label of ``parts`` (0..count-1; only the ``chosen`` ones, zeros elsewhere): area,
    width (2 area / boundary edges), elongation (boundary^2 / (4 area): half the boundary over
    the width) and the angle of the long axis (radians, second moments)."""
    edges = np.zeros(count)
    for a, b in ((parts[:, 1:], parts[:, :-1]), (parts[1:], parts[:-1])):
        differ = a != b
        edges += np.bincount(a[differ], minlength=count) + np.bincount(b[differ], minlength=count)
    where = np.flatnonzero(chosen[parts])
    which = parts.ravel()[where]
    rows, cols = np.divmod(where, parts.shape[1])
    rows, cols = rows.astype(np.float64), cols.astype(np.float64)
    area = np.bincount(which, minlength=count).astype(np.float64)

    def mean(values):
        return np.bincount(which, weights=values, minlength=count) / np.maximum(area, 1)

    my, mx = mean(rows), mean(cols)
    mu20, mu02, mu11 = mean(cols * cols) - mx * mx, mean(rows * rows) - my * my, mean(rows * cols) - mx * my
    edges = np.maximum(edges, 1)
    angle = 0.5 * np.arctan2(2 * mu11, mu20 - mu02)
    return area, 2.0 * area / edges, edges * edges / (4.0 * np.maximum(area, 1)), angle


def _pattern_target(box, mine, cells, free, labels, graphs, radius: int, width: float, thin: np.ndarray, area) -> int:
    """The region a pattern of closed cells joins: the region it touches with the most thin
    pixels (a smaller ball than the first fits) within a line's width of it, the open cells
    the hatching continues into, if they make up a median cell or more and it is not thin
    itself; else its largest cell (the pattern is one region)."""
    size = area.size
    inside = np.zeros(size, bool)
    inside[cells] = True
    touching = np.zeros(size, bool)
    for src, dst, _ in graphs:
        touching[dst[inside[src]]] = True
    crop_free = free[box]
    band = cv2.dilate(mine.view(np.uint8), _disk(math.ceil(width) + 1)).view(bool) & ~mine
    band &= crop_free & ~_first_pass_cover(crop_free, radius)
    late = np.bincount(labels[box][band].astype(np.int64), minlength=size)
    late[~touching | inside] = 0
    target = int(late.argmax())
    if late[target] >= np.median(area[cells]) and not thin[target]:
        return target
    return int(cells[np.argmax(area[cells])])


def _hatch_strip(box, mine, target: int, strip: tuple[int, int], free, labels, radius: int, width: float) -> bool:
    """Whether the strip ``mine`` (its pixels in the box) lies in a pattern of hatching with the
    thin parts of ``target`` (no ball 2 px larger than the first fits): at least two of them
    within 2 (strip width + stroke width) of it are strips as well (``STRIP_ELONGATION``),
    parallel to it (``STRIP_TURN``), from half to twice as wide and at least half as large.
    strip: its area and perimeter."""
    strip_area, strip_perimeter = strip
    crop_free = free[box]
    thin_part = crop_free & ~_first_pass_cover(crop_free, radius + 2) & (labels[box] == target)
    count, parts = _components(thin_part.view(np.uint8))
    parts = parts.astype(np.int32)
    parts[mine & crop_free] = count  # the strip itself: the last part
    count += 1
    strip_width = 2.0 * strip_area / max(strip_perimeter, 1)
    reach = 2 * (strip_width + width)
    within = cv2.distanceTransform((~mine).view(np.uint8), cv2.DIST_L2, 3) <= reach
    near = np.bincount(parts[within], minlength=count) > 0
    near[0] = False
    near[-1] = True
    if np.count_nonzero(near) < 3:
        return False
    part_area, part_width, elongation, angle = _part_shapes(parts, count, near)
    turn = np.abs((angle - angle[-1] + np.pi / 2) % np.pi - np.pi / 2)
    strips = near & (part_width >= strip_width / 2) & (part_width <= 2 * strip_width)
    strips &= (part_area >= strip_area / 2) & (elongation >= STRIP_ELONGATION) & (turn <= STRIP_TURN)
    strips[[0, -1]] = False
    return np.count_nonzero(strips) >= 2


def _pattern_merges(
    ink, free, labels, filled, boundary, graph, *, radius, min_area, thin, late, hatched, hatch_contact
):
    """Step 4a: patterns of closed cells and strips of hatching with narrow mouths (see
    :func:`trapped_ball`). graph: ``(area, perimeter, free_graph, ink_graph)``; thin, late
    (born in a later pass than the first), hatched: bool per label. Returns ``step`` (label
    -> the label it joins) or None when none does."""
    area, perimeter, free_graph, ink_graph = graph
    size = area.size
    low, high, contact = ink_graph
    free_low, free_high, free_contact = free_graph
    # closed cells: smaller than the first ball, larger than min_area, side by side across a
    # line and not touching through free space (then they are pieces of one area)
    cell = late & ~hatched & (area >= min_area) & (area <= 2 * np.count_nonzero(_disk(radius)))
    cell[0] = False
    through = np.isin(low * size + high, (free_low * size + free_high)[free_contact >= 2])
    pattern = _cell_patterns(cell, late & ~hatched, area, (low, high, np.where(through, 0, contact)))
    # strips: thin regions with a mouth into a larger region (their neighbour of largest free
    # contact) beside which they lie along a line of hatch_contact or more, elongated
    strip_of = np.zeros(size, np.int64)
    if free_low.size and low.size:
        src, dst, _ = _best_neighbours(*_directed(free_graph))
        candidate = thin[src] & ~hatched[src] & (pattern[src] == 0) & (pattern[dst] == 0) & _bigger(area, dst, src)
        candidate &= perimeter[src] ** 2 >= 4 * STRIP_ELONGATION * area[src]
        code, codes = np.minimum(src, dst) * size + np.maximum(src, dst), low * size + high
        at = np.minimum(np.searchsorted(codes, code), codes.size - 1)
        candidate &= (codes[at] == code) & (contact[at] >= hatch_contact)
        strip_of[src[candidate]] = dst[candidate]
    patterns, strips = np.unique(pattern[pattern > 0]), np.flatnonzero(strip_of)
    if not patterns.size and not strips.size:
        return None
    key = np.zeros(size, np.int64)
    key[pattern > 0] = np.searchsorted(patterns, pattern[pattern > 0]) + 1
    key[strips] = patterns.size + 1 + np.arange(strips.size)
    width = stroke_width(ink)
    margin = 2 * (2 * radius + 1) + 2 * math.ceil(width)
    boxes = _boxes(filled, boundary, key, patterns.size + strips.size, margin)
    step = np.arange(size, dtype=np.int64)
    graphs = [_directed(g) for g in (ink_graph, free_graph) if g[0].size]
    for k, box in enumerate(boxes[: patterns.size], 1):
        mine = key[filled[box]] == k
        cells = np.flatnonzero(key == k)
        lines = 2.0 * np.count_nonzero(mine & ink[box]) / max(perimeter[cells].sum(), 1)
        if lines <= THIN_LINES * width:
            step[cells] = _pattern_target(box, mine, cells, free, labels, graphs, radius, width, thin, area)
    for k, strip in enumerate(strips, patterns.size + 1):
        box = boxes[k - 1]
        target = strip_of[strip]
        shape = (area[strip], perimeter[strip])
        if _hatch_strip(box, filled[box] == strip, target, shape, free, labels, radius, width):
            step[strip] = target
    return step


def _frame_runs(parts: np.ndarray, count: int) -> np.ndarray:
    """int64 per label of ``parts``: the number of separate runs of the image border it covers
    (a line crossing the image covers two; a closed shape inside it, none)."""
    frame = np.concatenate([parts[0, :-1], parts[:-1, -1], parts[-1, :0:-1], parts[:0:-1, 0]])
    starts = frame[(frame != 0) & (frame != np.roll(frame, 1))]
    runs = np.bincount(starts, minlength=count)
    if frame.size and (frame == frame[0]).all() and frame[0]:  # one part all round the border
        runs[frame[0]] = 1
    return runs


def _stroke_ends(ink: np.ndarray, border: int, spur: int) -> int:
    """How many stroke ends the ink mask has farther than ``border`` px from its edges (closer,
    the crop cut a line): end points (and dots) of its skeleton once branches of up to
    ``spur`` px (bumps of a thick line) are pruned."""
    from skimage.morphology import skeletonize

    if min(ink.shape) <= 2 * (border + spur):
        return 0
    bones = skeletonize(ink).astype(np.uint8)
    kernel = np.ones((3, 3), np.float32)
    for _ in range(spur):  # a real end moves in by a pixel a step; a spur is gone at its fork
        ends = (bones > 0) & (cv2.filter2D(bones, -1, kernel, borderType=cv2.BORDER_CONSTANT) <= 2)
        bones[ends] = 0
    ends = (bones > 0) & (cv2.filter2D(bones, -1, kernel, borderType=cv2.BORDER_CONSTANT) <= 2)
    inner = border + spur
    return int(np.count_nonzero(ends[inner:-inner, inner:-inner]))


def _passing_lines(ink: np.ndarray, passages: np.ndarray, keep: np.ndarray, ink_graph, diameter: int) -> np.ndarray:
    """Step 4a: the passages (rows of :func:`_attach`) between two ``keep`` regions that lie
    between two separate shapes, not in a gap: at least ``CHANNEL`` ball diameters long, the
    two regions sharing at most a ball diameter of line middle (``ink_graph``: no line
    between them elsewhere), and in the box of the passage widened by 2 diameters at least
    two pieces of ink, each crossing the box (two runs of its border; a small closed shape
    inside it crosses none) and each a part of another shape of the drawing (its own
    connected ink), and no stroke ends (:func:`_stroke_ends`: a gap in a line has two, a
    line that stops short of another one has one). Returns int64 ``(n, 2)`` label pairs."""
    span = np.maximum(passages[:, 3] - passages[:, 2], passages[:, 5] - passages[:, 4]) + 1
    passages = passages[keep[passages[:, 0]] & keep[passages[:, 1]] & (span >= CHANNEL * diameter)]
    passages = np.unique(passages, axis=0)  # each ball finds a passage again
    low, high, contact = ink_graph
    if passages.size and low.size:
        size = keep.size
        codes = np.minimum(passages[:, 0], passages[:, 1]) * size + np.maximum(passages[:, 0], passages[:, 1])
        at = np.minimum(np.searchsorted(low * size + high, codes), low.size - 1)
        across = np.where(low[at] * size + high[at] == codes, contact[at], 0)
        passages = passages[across <= diameter]
    found = []
    margin, radius = 2 * diameter, diameter // 2
    for label, other, top, bottom, left, right in passages.tolist():
        if label == other:
            continue
        top, left = max(top - margin, 0), max(left - margin, 0)
        crop = ink[top : bottom + margin + 1, left : right + margin + 1]
        count, pieces = cv2.connectedComponents(crop.view(np.uint8), connectivity=8)
        if count < 3 or (_frame_runs(pieces, count)[1:] < 2).any() or _stroke_ends(crop, radius + 1, radius):
            continue
        first = _first_per_group(pieces.ravel(), np.zeros(pieces.size, np.int64))[1:]  # a pixel of each piece
        rows, cols = np.divmod(first, pieces.shape[1])
        found.append((label, other, rows + top, cols + left))
    if not found:
        return np.zeros((0, 2), np.int64)
    _, shapes = cv2.connectedComponents(ink.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    pairs = [(label, other) for label, other, rows, cols in found if np.unique(shapes[rows, cols]).size == rows.size]
    return np.asarray(pairs, np.int64).reshape(-1, 2)


def _joined(area: np.ndarray, step, pairs: np.ndarray):
    """One step of merges from ``step`` (label -> label, or None) and ``pairs`` of labels that
    are one region: every label -> the largest label of its group; None if nothing merges."""
    size = area.size
    moved = np.zeros(0, np.int64) if step is None else np.flatnonzero(step != np.arange(size))
    if not moved.size and not pairs.size:
        return None
    a = np.concatenate([moved, pairs[:, 0]])
    b = np.concatenate([step[moved] if moved.size else moved, pairs[:, 1]])
    group = _graph_components(size, a, b)
    largest = _first_per_group(group, -area)
    root = np.zeros(size, np.int64)
    root[group[largest]] = largest
    return root[group]


def _directed(graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An undirected edge list ``(low, high, contact)`` as directed edges both ways."""
    low, high, contact = graph
    return np.concatenate([low, high]), np.concatenate([high, low]), np.concatenate([contact, contact])


def _best_neighbours(src: np.ndarray, dst: np.ndarray, contact: np.ndarray, keep: np.ndarray | None = None):
    """For every region with a (kept) directed edge: ``(region, neighbour)`` of its neighbour
    of largest contact (ties: the larger label)."""
    if keep is not None:
        src, dst, contact = src[keep], dst[keep], contact[keep]
    best = _first_per_group(src, -contact, -dst)
    return src[best], dst[best], contact[best]


def _bigger(area: np.ndarray, dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Whether ``dst`` is the larger region (area, then label: a strict order, so no cycles)."""
    return (area[dst] > area[src]) | ((area[dst] == area[src]) & (dst > src))


def _contract(step: np.ndarray, graph, size: int):
    """The graph between the roots ``step`` maps labels to, and the contact inside each root."""
    low, high, contact = graph
    root_low, root_high = step[low], step[high]
    internal = root_low == root_high
    inside = np.bincount(root_low[internal], weights=contact[internal], minlength=size)
    return _unordered(root_low[~internal], root_high[~internal], size, contact[~internal]), inside


def _merge_regions(area, perimeter, free_graph, ink_graph, *, hatched, min_area, sliver, hatch_contact, start=None):
    """Step 4: merge regions on the region adjacency graph (no image passes).

    A region merges into a neighbour that is larger (so that merges form trees, resolved by
    pointer jumping), round after round on the contracted graph until none does:

    - into its neighbour of largest free contact when it is smaller than ``min_area`` or
      when that contact is at least ``sliver`` times its perimeter;
    - an island (no free contact) smaller than ``min_area``: into its neighbour of largest
      contact across the ink;
    - a ``hatched`` region into its hatched neighbour of largest contact across the ink if
      that contact is at least ``hatch_contact`` edges.

    area, perimeter: int per label; hatched: bool per label; start: the merges of a first
    round (label -> the root it joins, as :func:`_joined` gives them), or None. Returns
    ``mapping`` (label -> its root).
    """
    size = area.size
    identity = np.arange(size, dtype=np.int64)
    mapping = identity.copy()
    step = start
    while True:
        if step is None:
            step = identity.copy()
            touching = np.zeros(size, bool)
            if free_graph[0].size:
                src, dst, length = _best_neighbours(*_directed(free_graph))
                touching[src] = True
                merge = (area[src] < min_area) | (length >= sliver * np.maximum(perimeter[src], 1))
                merge &= _bigger(area, dst, src)
                step[src[merge]] = dst[merge]
            if ink_graph[0].size:
                src, dst, length = _directed(ink_graph)
                island = ~touching & (area < min_area)
                best_src, best_dst, _ = _best_neighbours(src, dst, length, island[src])
                merge = _bigger(area, best_dst, best_src)
                step[best_src[merge]] = best_dst[merge]
                keep = hatched[src] & hatched[dst] & (length >= hatch_contact) & (step[src] == src)
                best_src, best_dst, _ = _best_neighbours(src, dst, length, keep)
                merge = _bigger(area, best_dst, best_src)
                step[best_src[merge]] = best_dst[merge]
            if np.array_equal(step, identity):
                return mapping
        while True:  # pointer jumping: every region points at its root
            jumped = step[step]
            if np.array_equal(jumped, step):
                break
            step = jumped
        mapping = step[mapping]
        area = np.bincount(step, weights=area, minlength=size).astype(np.int64)
        free_graph, inside = _contract(step, free_graph, size)
        perimeter = np.bincount(step, weights=perimeter, minlength=size).astype(np.int64) - 2 * inside.astype(np.int64)
        ink_graph, _ = _contract(step, ink_graph, size)
        step = None


def _trapped_ball_plane(ink: np.ndarray, radii, min_area: int, sliver: float, assign_lines: bool) -> np.ndarray:
    free = ~ink
    if not free.any():
        return np.full(ink.shape, int(assign_lines), np.int32)
    labels, born, deep, passages = _ball_passes(free, radii)
    filled = _fill_lines(labels, ink)
    area, perimeter, free_graph, ink_graph, boundary = _region_graph(labels, filled, free, born.size)
    first = born[1:].min(initial=len(radii))  # the first pass that found room for its ball
    radius = (tuple(radii) + (0,))[first]
    diameter = 2 * radius + 1
    # thin: no ball two pixels larger than the first fits. Hatched: thin, and side by side
    # with others along strokes at least 3 ball diameters long
    thin = (born > first) | ~deep
    hatched = _hatching(thin, ink_graph, 3 * diameter)
    step = _pattern_merges(
        ink,
        free,
        labels,
        filled,
        boundary,
        (area, perimeter, free_graph, ink_graph),
        radius=radius,
        min_area=min_area,
        thin=thin,
        late=born > first,
        hatched=hatched,
        hatch_contact=3 * diameter,
    )
    pairs = _passing_lines(ink, passages, (born == first) & deep, ink_graph, diameter)
    start = _joined(area, step, pairs)
    mapping = _merge_regions(
        area,
        perimeter,
        free_graph,
        ink_graph,
        hatched=hatched,
        min_area=min_area,
        sliver=sliver,
        hatch_contact=3 * diameter,
        start=start,
    )
    root = np.zeros(born.size, bool)
    root[mapping[1:]] = True
    lut = np.cumsum(root, dtype=np.int32)[mapping]  # consecutive ids 1..K for the roots
    lut[0] = 0
    out = lut[filled]
    if not assign_lines:
        out[ink] = 0
    return out


def trapped_ball(
    sketch,
    *,
    radii: tuple[int, ...] | str = "auto",
    min_area: int | None = None,
    sliver: float = 0.25,
    assign_lines: bool = True,
    threshold: float = 0.5,
) -> np.ndarray:
    """Trapped-ball region segmentation of line art (the passes: see the module docstring).

    Regions an artist would draw: the balls close gaps, and the merges of step 4 undo what
    they split that no line splits. Patterns of strokes come first; ``r`` is the first
    radius that found room, ``d = 2 r + 1`` its ball's diameter, ``w`` the stroke width of
    the drawing (:func:`stroke_width`):

    - *cross-hatching*: closed cells between crossing strokes are shading, not drawn areas.
      A cell is a region smaller than the first ball (born in a later pass), of at least
      ``min_area`` and at most twice the ball's area; a pattern is a group of at least
      ``CLOSED_CELLS`` (6) cells side by side across lines (2 edges of line middle or more,
      not touching through free space: those are pieces of one area), each within
      ``SIMILAR_CELLS`` (2) times of the group's median (hatching spaces its strokes
      evenly), with ``PATTERN_DEGREE`` (3) cell neighbours per cell on average (a lattice:
      a row of teeth or the parts of a collar make chains of 2), and lines between them at
      most ``THIN_LINES`` (1.5) times ``w`` wide (twice their ink over their boundary: not
      highlights in a black mass). It joins the region it touches that has the most thin
      pixels (no first ball fits) within ``w + 1`` px of it, the open cells at its edge
      that the hatching continues into, if they make up a median cell or more and that
      region is not thin itself; otherwise (a shape hatched all over, no open area round
      it) the cells are one region. Pieces of cells cut off by an outline, no larger than a
      median cell, follow the pattern they touch most across lines. Isolated small closed
      regions (eyes, buttons) and small cells in a row stay regions of their own.
    - *hatching strips with narrow mouths*: a thin region (no ball 2 px larger than the
      first fits) that opens through free space into a larger region (its neighbour of
      largest free contact) whose mouth the ball could not pass, lies beside it along a
      line of ``3 d`` or more, and is a strip (half its boundary at least
      ``STRIP_ELONGATION`` (8) times its width) joins it when at least two thin parts of
      that region within ``2 (strip width + w)`` of it are strips as well, parallel to it
      (within ``STRIP_TURN``, 20 degrees), from half to twice as wide and at least half as
      large: the strips between the other strokes of the hatching, which the ball rolled
      into. A single strip (a belt, a hair strand) stays.
    - *two shapes closer than the ball*: a passage the smaller balls found between two
      regions of the first pass, each wide (a ball 2 px larger fits), is no gap when it is
      at least ``CHANNEL`` (1.5) ball diameters long, and in its box widened by ``2 d`` at
      least two pieces of ink each cross the box (a small closed shape inside it does not),
      are parts of different connected drawings (two separate shapes, not one line
      curling back) and have no stroke ends (skeleton end points once spurs of ``d // 2``
      px are pruned: a gap in a line has two, a line stopping short of another one has
      one); and when no line separates the two regions elsewhere (they share at most ``d``
      edges of line middle). The two regions are one.

    These look only at candidates the region graph gives (a few per page, in crops around
    them), so a page takes about as long as without them.

    sketch: ``(H, W)`` / ``(1, H, W)`` (or ``(B, 1, H, W)``), numpy or torch, float in
    ``[0, 1]`` with 1 = paper and 0 = ink, or uint8 with 255 = paper (see :func:`ink_mask`).
    radii: ball radii in pixels, applied from the first to the last, e.g. the classic
    ``(3, 2, 1)``; a ball of radius ``r`` does not pass through a gap of ``2 r`` pixels or
    less. ``"auto"`` (default) scales them with the line width (:func:`auto_radii`);
    ``()`` is a plain flood fill.
    min_area: regions smaller than this (pixels) merge into a neighbour; default
    :func:`default_min_area` (8 px at 256 x 256, 128 px at 1024 x 1024).
    sliver: a region that touches a neighbour through free space along at least this
    fraction of its boundary merges into it; a value above 1 disables it.
    assign_lines: give every line pixel the label of the nearest region; otherwise line
    pixels are 0.
    threshold: ink threshold in ``[0, 1]`` (:func:`ink_mask`).
    Returns int32 ``(H, W)`` labels ``1..K`` (``(B, H, W)`` for a batch). An all-paper
    sketch is one region; an all-ink sketch is one region (all 0 without assign_lines).
    The image border counts as paper (a ball may stick out of the image).
    """
    if isinstance(radii, str):
        if radii != "auto":
            raise ValueError(f"radii must be a tuple of positive integers or 'auto', got {radii!r}")
    else:
        radii = tuple(int(r) for r in radii)
        if any(r < 1 for r in radii):
            raise ValueError(f"radii must be positive integers, got {radii}")
    ink = ink_mask(sketch, threshold)
    planes = ink if ink.ndim == 3 else ink[None]
    height, width = planes.shape[1:]
    if min_area is None:
        min_area = default_min_area(height, width)
    if min_area < 1:
        raise ValueError(f"min_area must be at least 1, got {min_area}")

    def plane_labels(plane):
        return _trapped_ball_plane(
            plane, auto_radii(plane) if radii == "auto" else radii, int(min_area), float(sliver), assign_lines
        )

    if ink.ndim == 2:
        return plane_labels(ink)
    return np.stack([plane_labels(plane) for plane in planes]) if len(planes) else np.zeros(ink.shape, np.int32)


# ------------------------------------------------------------------ walls


MIN_PART_THICKNESS = 2.0  # px: a part cut off by a wall must hold a pixel this far inside it


def split_regions(labels, wall, ink=None, *, min_area: int | None = None,
                  min_thickness: float = MIN_PART_THICKNESS) -> tuple[np.ndarray, np.ndarray]:
    """Regions cut apart by a wall (a user's scribble over a gap in the lines).

    A region the wall crosses falls into the 4-connected parts of its paper pixels off the
    wall; line pixels part nothing (lines are assigned to the regions on both sides and would
    join the parts around the wall's ends), and a piece of the region's paper that was apart
    before (a strip between hatching lines the region holds) stays as it was. Of the parts one
    piece falls into, the largest keeps the region's label; every other part of at least
    ``min_area`` pixels (default :func:`default_min_area`) that holds a pixel ``min_thickness``
    px or more from its outside (not a sliver between the wall and a line) gets a new label
    ``K + 1, K + 2, ...``; smaller parts stay with the largest. The region's wall and line
    pixels then take the label of the nearest of its parts. Regions the wall does not cut are
    unchanged.

    labels: ``(H, W)`` integer label map ``1..K`` (every pixel labelled, as
    :func:`trapped_ball` gives it); wall: ``(H, W)`` bool; ink: ``(H, W)`` bool line pixels
    (None: no lines). Returns ``(labels, parent)``: int32 ``(H, W)`` labels ``1..K'`` and int64
    ``(K' + 1,)`` the original label of every label (``parent[l] = l`` for ``l <= K``);
    ``K' = K`` when nothing was cut.
    """
    labels = _check_labels(labels).astype(np.int32)
    wall = np.asarray(_to_numpy(wall), bool)
    ink = np.zeros(labels.shape, bool) if ink is None else np.asarray(_to_numpy(ink), bool)
    if wall.shape != labels.shape or ink.shape != labels.shape:
        raise ValueError(f"wall and ink must be (H, W) = {labels.shape}, got {wall.shape} and {ink.shape}")
    if min_area is None:
        min_area = default_min_area(*labels.shape)
    out = labels.copy()
    parent = list(range(int(labels.max(initial=0)) + 1))
    for label in np.unique(labels[wall]):
        rows, cols = np.nonzero(labels == label)
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        region = labels[box] == label
        paper = region & ~ink[box]
        cut = paper & ~wall[box]
        count, parts = _components(cut.astype(np.uint8))
        if count <= 2:  # one part (or none): the wall cuts nothing off
            continue
        parts = parts.astype(np.int32)
        _, whole = _components(paper.astype(np.uint8))  # the region's paper before the wall
        piece = np.zeros(count, np.int64)  # part -> the piece of paper it was cut from
        piece[parts.ravel()] = whole.ravel()
        area = np.bincount(parts.ravel(), minlength=count)
        area[0] = 0
        kept = np.zeros(count, np.int32)  # part -> its new label (0: keeps the region's)
        for source in np.unique(piece[1:]):
            members = np.flatnonzero(piece == source)
            members = members[members > 0]
            if len(members) < 2:  # a piece the wall does not cut
                continue
            largest = members[area[members].argmax()]
            for part in members[area[members] >= min_area]:
                if part == largest:
                    continue
                inside = cv2.distanceTransform(np.pad(parts == part, 1).astype(np.uint8), cv2.DIST_L2, 3)
                if inside.max() >= min_thickness:
                    kept[part] = len(parent)
                    parent.append(int(label))
        if not kept.any():
            continue
        mapping = np.where(kept > 0, kept, label).astype(np.int32)
        mapping[0] = 0
        seeds = np.where(cut, mapping[parts], 0).astype(np.int32)  # the region's parts; 0 elsewhere
        nearest = _fill_nearest(seeds)  # every other pixel: the label of the nearest part
        out[box][region] = nearest[region]
    return out, np.asarray(parent, np.int64)


# ------------------------------------------------------------------ maps and statistics


def skeleton(labels) -> np.ndarray:
    """Region boundaries, 1 px wide: True where a pixel differs from its right or lower neighbour.

    labels: ``(H, W)`` (or a batch ``(B, H, W)``) integer label map, numpy or torch.
    Returns bool of the same shape (CWR's skeleton map; ``1 - skeleton`` draws it as ink).
    """
    array = _to_numpy(labels)
    if array.ndim == 3:
        return np.stack([skeleton(plane) for plane in array]) if len(array) else array.astype(bool)
    labels = _check_labels(array)
    edges = np.zeros(labels.shape, bool)
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edges[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edges


def region_skeleton(sketch):
    """CWR's skeleton map from tinct's regions: 1 on the boundaries of the trapped-ball
    regions of the sketch (lines assigned to regions), 0 elsewhere.

    sketch: (B, 1, H, W) tensor in [0, 1] (1 = paper). Returns (B, 1, H, W) float in {0, 1}
    on the sketch's device and in its dtype. Not differentiable (numpy/OpenCV on the CPU).
    """
    import torch

    if not isinstance(sketch, torch.Tensor) or sketch.ndim != 4 or sketch.shape[1] != 1:
        raise ValueError(f"sketch must be a (B, 1, H, W) tensor, got {getattr(sketch, 'shape', type(sketch))}")
    labels = trapped_ball(sketch.detach().float().cpu().numpy())  # (B, H, W)
    return torch.from_numpy(skeleton(labels)).to(device=sketch.device, dtype=sketch.dtype)[:, None]


@dataclass(frozen=True)
class RegionStats:
    """Per-label statistics of a label map; arrays are indexed by label (row 0 = label 0).

    area: ``(L,)`` int64 pixel counts, ``L = labels.max() + 1``;
    mean_color: ``(L, C)`` float64 mean image value per label (NaN for absent labels), or
    None without an image;
    adjacency: ``(E, 2)`` int32 unique pairs ``a < b`` of labels that are 4-neighbours
    somewhere (label 0 left out), sorted;
    contact: ``(E,)`` int64 number of pixel edges each pair shares.
    """

    area: np.ndarray
    mean_color: np.ndarray | None
    adjacency: np.ndarray
    contact: np.ndarray

    @property
    def count(self) -> int:
        """Number of labels > 0 that occur."""
        return int(np.count_nonzero(self.area[1:]))


def region_stats(labels, image=None) -> RegionStats:
    """Area, mean colour and adjacency of every region (vectorised, no loop over regions).

    labels: ``(H, W)`` non-negative integer label map. image: optional ``(H, W, C)`` (or
    ``(H, W)``) array of any numeric type; its per-label mean is returned in its units.
    """
    labels = _check_labels(labels).astype(np.int64)
    size = int(labels.max(initial=0)) + 1
    flat = labels.ravel()
    area = np.bincount(flat, minlength=size)
    mean_color = None
    if image is not None:
        pixels = _check_image(image, labels.shape)
        pixels = pixels.reshape(-1, pixels.shape[-1])
        sums = np.stack([np.bincount(flat, weights=pixels[:, c], minlength=size) for c in range(pixels.shape[1])], 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_color = sums / area[:, None]
    a, b = _neighbour_pairs(labels)
    both = (a > 0) & (b > 0)
    low = np.minimum(a[both], b[both])
    high = np.maximum(a[both], b[both])
    codes, contact = np.unique(low * size + high, return_counts=True)
    adjacency = np.stack([codes // size, codes % size], 1).astype(np.int32)
    return RegionStats(area=area, mean_color=mean_color, adjacency=adjacency, contact=contact.astype(np.int64))


def mean_color_fill(labels, image) -> np.ndarray:
    """Fill every region with its mean colour.

    labels: ``(H, W)`` label map; image: ``(H, W, C)`` or ``(H, W)``, numpy or torch
    (channels last). Returns an array of the image's shape and dtype (rounded for integer
    dtypes); pixels with label 0 (unassigned lines) keep their original value.
    """
    labels = _check_labels(labels).astype(np.int64)
    original = _to_numpy(image)
    pixels = _check_image(original, labels.shape)
    mean = region_stats(labels, pixels).mean_color
    filled = mean[labels]
    if np.issubdtype(pixels.dtype, np.integer):
        info = np.iinfo(pixels.dtype)
        filled = np.clip(np.round(filled), info.min, info.max)
    filled = filled.astype(pixels.dtype)
    zero = labels == 0
    filled[zero] = pixels[zero]
    return filled.reshape(original.shape)


def colorize_labels(labels, seed: int = 0) -> np.ndarray:
    """Colour-coded view of a label map: ``(H, W, 3)`` uint8, 0 -> black.

    Label ``k`` gets a hue ``k`` golden-ratio steps from a seed-dependent start, with
    saturation and value cycling, so neighbouring ids look different; same seed, same
    colours.
    """
    labels = _check_labels(labels).astype(np.int64)
    size = int(labels.max(initial=0)) + 1
    ids = np.arange(size)
    start = np.random.default_rng(seed).random()
    hue = (start + ids * 0.6180339887498949) % 1.0
    saturation = 0.55 + 0.45 * ((ids * 0.37) % 1.0)
    value = 0.70 + 0.30 * ((ids * 0.73) % 1.0)
    hsv = np.stack([hue * 180.0, saturation * 255.0, value * 255.0], 1)
    palette = cv2.cvtColor(np.round(hsv).astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    palette[0] = 0
    return palette[labels]


# --------------------------------------------------------------------------- metrics


def adjusted_rand_index(pred, truth, mask=None) -> float:
    """Adjusted Rand index of two partitions (Hubert & Arabie), from a contingency table.

    pred, truth: integer label maps of one shape (any labels; numpy or torch); mask:
    optional bool array of that shape, the pixels to compare (e.g. ``truth > 0``).
    Returns a float, 1 for identical partitions (up to renaming), ~0 for independent ones.
    """
    pred, truth = _to_numpy(pred), _to_numpy(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth must have one shape, got {tuple(pred.shape)} and {tuple(truth.shape)}")
    if mask is not None:
        mask = _to_numpy(mask)
        if mask.shape != pred.shape:
            raise ValueError(f"mask must have the labels' shape {tuple(pred.shape)}, got {tuple(mask.shape)}")
        pred, truth = pred[mask.astype(bool)], truth[mask.astype(bool)]
    pred, truth = pred.ravel(), truth.ravel()
    n = pred.size
    if n < 2:
        return 1.0
    _, pred = np.unique(pred, return_inverse=True)
    _, truth = np.unique(truth, return_inverse=True)
    rows = int(truth.max()) + 1
    pair = pred.astype(np.int64).ravel() * rows + truth.ravel()
    counts = np.unique(pair, return_counts=True)[1].astype(np.float64)

    def pairs(x):
        return float(np.sum(x * (x - 1.0) / 2.0))

    index = pairs(counts)
    sum_pred = pairs(np.bincount(pred.ravel()).astype(np.float64))
    sum_truth = pairs(np.bincount(truth.ravel()).astype(np.float64))
    expected = sum_pred * sum_truth / (n * (n - 1.0) / 2.0)
    maximum = 0.5 * (sum_pred + sum_truth)
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)
