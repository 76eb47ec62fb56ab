"""Which regions of a sketch are its background: the paper around the drawing.

An artist expects the paper to stay paper unless they colour it. The trapped-ball region map
closes gaps in the lines, so the background can come out as several regions: the big one
around the drawing, and pockets between parts of it (between a leaf, the stem and the petals
of a flower) that the ball could not enter through a narrow gap. :func:`background_regions`
finds them all: a region is background when most of its paper pixels are reachable from the
picture's border without crossing ink (4-connected), or when it is the region along most of
the border. A pocket closed on every side by lines is not background: it may be the inside
of a shape.

The catch, shared by every rule that looks only at the lines: a drawn area whose outline has
a gap (a face whose outline does not close) is reachable from the border as well, so it counts
as background until it is hinted. :class:`tinct.colorizer.Colorizer` keeps background regions
paper only where no hint reaches them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["background_regions", "outside_paper"]


def outside_paper(ink: np.ndarray, seeds: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool ink -> (H, W) bool: the paper pixels reachable without crossing ink
    (4-connected) from ``seeds`` ((H, W) bool; default: the picture's border)."""
    import cv2

    paper = (~np.asarray(ink, bool)).astype(np.uint8)
    count, labels = cv2.connectedComponents(paper, connectivity=4)
    if count <= 1:
        return np.zeros(paper.shape, bool)
    if seeds is None:
        start = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    else:
        start = labels[np.asarray(seeds, bool)]
    touching = np.zeros(count, bool)
    touching[start] = True
    touching[0] = False  # ink
    return touching[labels]


MIN_GAP = 5  # px: the narrowest gap through which the paper around the drawing reaches a pocket


def background_regions(labels: np.ndarray, ink: np.ndarray, *, share: float = 0.5,
                       min_gap: int = MIN_GAP) -> np.ndarray:
    """``(count,)`` bool over the labels of ``labels`` (``count = labels.max() + 1``): True for
    the background regions (module docstring).

    labels: (H, W) integer region map (every pixel labelled, lines assigned, as
    :func:`tinct.regions.trapped_ball` gives it); ink: (H, W) bool line pixels; share: the
    fraction of a region's paper pixels that must be reachable from the main background;
    min_gap: px, the narrowest gap the paper passes through (narrower ones are mostly where
    strokes meet and anti-aliasing leaves a hole, as in OpenMoji's outlines at 128 px).
    """
    labels = np.asarray(labels)
    if labels.shape != np.shape(ink) or labels.ndim != 2:
        raise ValueError(f"labels and ink must be (H, W) of one shape, got {labels.shape} and {np.shape(ink)}")
    flat = labels.ravel().astype(np.int64)
    count = int(flat.max(initial=0)) + 1
    ink = np.asarray(ink, bool)
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]).astype(np.int64)
    main = int(np.bincount(border, minlength=count).argmax())
    paper = ~ink.ravel()
    walls = ink
    if min_gap > 1:  # thicken the lines so that gaps narrower than min_gap close
        import cv2

        walls = cv2.dilate(ink.astype(np.uint8), np.ones((min_gap, min_gap), np.uint8)) > 0
    reached = outside_paper(walls, seeds=(labels == main) & ~walls).ravel()
    paper_area = np.bincount(flat[paper], minlength=count)
    reached_area = np.bincount(flat[reached], minlength=count)
    background = reached_area > share * np.maximum(paper_area, 1)
    background[main] = True
    return background
