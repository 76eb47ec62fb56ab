"""Twemoji as line art: flat-colour emoji without outlines (``@twemoji/svg`` 15.0.0, 3,720 SVGs).

Twemoji draws every emoji as flat shapes on a 36 x 36 viewBox, with no outline. Its *line
art* here is the boundaries of the shapes as the picture shows them: every place where two
exact fill colours (or a fill and the paper) meet, drawn as an anti-aliased line of
:data:`LINE_WIDTH` of the image side (1.5 px at 256 px, never under 1 px). The boundaries
are found on a crisp (not anti-aliased) render at :data:`SUPERSAMPLE` times the size, where
every pixel holds one exact fill colour, thickened there and box-filtered down.

Why boundaries of the render and not each shape's own outline (the SVG re-rendered with
``fill="none" stroke="#000"``): Twemoji stacks shapes, so an outline per shape draws the
hidden parts of the shapes underneath (a face's circle behind a hand, a body behind its
arm) and seams between touching shapes of the same colour, lines that the colour image does
not show. The render's colour boundaries are exactly the visible edges, at one even width
whatever the shapes' transforms.

Each render gives, like :func:`tinct.data.openmoji.render`: ``color`` (the emoji on white,
anti-aliased, flat: Twemoji's look), ``line`` (the boundaries, 255 = paper), ``fills`` (a
crisp render: exact fill colours), ``alpha`` and ``regions`` (:func:`~tinct.data.openmoji.flat_regions`
of the fills away from the lines). The colour image has no lines: a model trained on it
learns to colour outline-free art from its boundaries.

File names are lower-case code points (``1f44d-1f3fd``); a name's family is the OpenMoji
family of its upper-case form, so skin tones share a split, and an emoji that OpenMoji draws
too lands in the same split in both sources (3,675 of the 3,720 names match OpenMoji's).

Credit: Twemoji graphics by Twitter, Inc and other contributors (https://github.com/jdecked/twemoji),
licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); packaged as
``@twemoji/svg`` by Samuel Kopp (the package's own licence file: MIT).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from tinct.data import openmoji
from tinct.data.openmoji import _on_white, _render_rgba, flat_regions, min_region_area

RENDER_VERSION = 1  # bump when the rendering or the line definition changes
LINE_WIDTH = 1.5 / 256  # line width as a fraction of the image side (1.5 px at 256 px)
SUPERSAMPLE = 4  # boundaries are found at this many times the render size


def svg_dir(root: str | os.PathLike) -> Path:
    """Where a prepared Twemoji folder keeps its SVGs."""
    return Path(root) / "svg"


def list_names(root: str | os.PathLike) -> list[str]:
    """The SVG file stems of a prepared folder, sorted (``1f600``, ``1f44d-1f3fd``, ...)."""
    return sorted(path.name[: -len(".svg")] for path in svg_dir(root).glob("*.svg"))


def family_of(name: str) -> str:
    """The upper-case name without skin-tone modifiers: OpenMoji's family of the same emoji."""
    return openmoji.family_of(name.upper())


def skin_tone_of(name: str) -> str | None:
    return openmoji.skin_tone_of(name.upper())


def read_svg(root: str | os.PathLike, name: str) -> str:
    path = svg_dir(root) / f"{name}.svg"
    if not path.exists():
        raise KeyError(f"no Twemoji named {name!r} (looked for {path})")
    return path.read_text(encoding="utf-8")


def line_width(size: int) -> float:
    """Width of the boundary lines in pixels at ``size`` px: 1.5 px up to 256 px, then
    :data:`LINE_WIDTH` of the side. Never thinner: a 1 px line on an edge between two pixel
    rows anti-aliases to two rows of 50 % grey, which no ink threshold (0.5) calls ink; at
    1.5 px some pixel along every edge is at least 75 % ink."""
    return max(1.5, LINE_WIDTH * size)


def boundary_lines(svg: str, size: int) -> np.ndarray:
    """The colour boundaries of ``svg`` drawn as lines: ``(size, size)`` uint8, 255 = paper.

    A crisp render at ``SUPERSAMPLE * size`` marks the pixels on either side of every change
    of RGBA value (4-neighbours; transparent counts as a colour: the silhouette is drawn);
    the lines are the pixels within half a :func:`line_width` of such an edge, averaged down
    to ``size`` (anti-aliased).
    """
    big = size * SUPERSAMPLE
    rgba = _render_rgba(svg, big, crisp=True).astype(np.int64)
    code = (rgba[..., 0] << 24) | (rgba[..., 1] << 16) | (rgba[..., 2] << 8) | rgba[..., 3]
    edge = np.zeros(code.shape, bool)  # pixels next to a colour change: a 2 px band centred on the edge
    across = code[:, 1:] != code[:, :-1]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    down = code[1:] != code[:-1]
    edge[1:] |= down
    edge[:-1] |= down
    # distance (in big pixels) from each pixel to the band; a band pixel's centre is 0.5 from the edge
    distance = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ink = (distance + 0.5 <= line_width(size) * SUPERSAMPLE / 2).astype(np.float32)
    coverage = cv2.resize(ink, (size, size), interpolation=cv2.INTER_AREA)  # exact box filter
    return np.round(255.0 * (1.0 - coverage)).astype(np.uint8)


def render(svg: str, size: int) -> dict[str, np.ndarray]:
    """One Twemoji SVG at ``size`` px: ``color``, ``line``, ``fills``, ``alpha``, ``regions``
    (the module docstring; the arrays of :func:`tinct.data.openmoji.render`)."""
    if size < 8:
        raise ValueError(f"render size must be at least 8 px, got {size}")
    full = _render_rgba(svg, size)
    fills = _on_white(_render_rgba(svg, size, crisp=True))
    line = boundary_lines(svg, size)
    return {
        "color": _on_white(full),
        "line": line,
        "fills": fills,
        "alpha": full[..., 3].copy(),
        "regions": flat_regions(fills, line, min_area=min_region_area(size)),
    }
