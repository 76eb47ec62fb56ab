"""Iconify icon sets as line art with random flat fills: IconPark and Streamline Freehand Color.

Both sets come as one Iconify JSON file (``icons.json``: ``icons[name].body`` is the inside
of an ``<svg>``, the viewBox is ``0 0 width height`` from the icon or the set). Every icon
is drawn on a square viewBox (a non-square one is centred), and its colours are rewritten
by *role*: ink (the line art), fill (areas to colour) or paper.

**IconPark** (``@iconify-json/icon-park`` 1.2.4, 2,658 icons, Apache-2.0, by ByteDance):
black strokes (``#000``) over fills of ``#2F88FF`` (outer) and ``#43CCF8`` (inner), with
white strokes and dots (``#fff``) drawn over the fills as inner details. IconPark's own
*outline* theme paints the inner-detail colour in the line colour and drops the fills; the
line art here is that theme: every ``#000`` or ``#fff`` stroke or fill in black, fills
removed. The fills are the ``#2F88FF`` / ``#43CCF8`` shapes (strokes removed).
Lines are the set's 4 units of a 48-unit icon: about 21 px at 256 px, a bold marker.

**Freehand** (``@iconify-json/streamline-freehand-color`` 1.2.2, 1,000 icons, CC BY 4.0, by
Streamline): every mark is a filled path, dark (``#020202``) or blue (``#0c6fff``). The
blue paths are not fills but coloured pen strokes (text, outlines, signal arcs, hatching:
the widest blue mark in the set is a stroke), so the line art is *every* path in black, and
the areas to colour are the ones the strokes enclose. The outlines are often open, so the
enclosed areas are found by a trapped-ball fill of the line art (:func:`enclosed_areas`:
balls of about a stroke width close the gaps a colourist would close); regions that
reach the image border, or meet such paper along more than :data:`MAX_LEAK` of their
boundary, stay paper.

**Colours** (``colors="random"``, the default): every area to colour gets a colour of
:data:`PALETTE` (pleasant flat illustration colours, none near white or black), distinct
areas distinct colours (up to the palette's size), drawn by a generator seeded from
``(name, seed)``. The colours are chosen at 256 px and carried to other sizes by overlap,
so an icon has the same colours at every size. The colour image is the recoloured fills
with the line art multiplied over them (black ink); ``fills`` are the crisp recoloured
areas (paper elsewhere), ``regions`` their :func:`~tinct.data.openmoji.flat_regions`.
Random colours teach that colour follows the regions, not the icon's identity.
``colors="original"`` keeps the sets' own colours: IconPark's blue fills under black lines;
Freehand as drawn (dark and blue strokes, no fills; its line art is still every stroke).
The default is random for both: IconPark's one blue would teach "everything is blue", and
Freehand's original has nothing to fill and lines whose colour the sketch does not show.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from tinct.data.openmoji import _on_white, _render_rgba, flat_regions, min_region_area

RENDER_VERSION = 1  # bump when the rendering, the roles or the colouring change
COLORINGS = ("random", "original")
CANONICAL_SIZE = 256  # colours are chosen at this size and carried to the others
MAX_LEAK = 0.1  # Freehand: share of a boundary along which meeting paper makes a region paper (enclosed_areas)
PALETTE = (
    "#e63946", "#f4a261", "#e9c46a", "#2a9d8f", "#8ab17d", "#f28482", "#f6bd60", "#90be6d",
    "#43aa8b", "#577590", "#f9844a", "#f9c74f", "#277da1", "#b5838d", "#e5989b", "#ffb4a2",
    "#a8dadc", "#457b9d", "#cdb4db", "#ffc8dd", "#a2d2ff", "#d4a373", "#ccd5ae", "#9b5de5",
    "#f15bb5", "#00bbf9", "#00f5d4", "#6a994e", "#a7c957", "#bc6c25", "#dda15e", "#669bbc",
)  # fmt: skip
# Name endings that mark a variant of the same drawing: they share a family (and a split).
VARIANT_SUFFIXES = frozenset(
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
     "left", "right", "up", "down", "top", "bottom")
)
_SVG_NS = "http://www.w3.org/2000/svg"
_LEFT_ALONE = {f"{{{_SVG_NS}}}{tag}" for tag in ("mask", "clipPath", "defs")}  # their colours are not paint
ET.register_namespace("", _SVG_NS)

# IconPark's roles: its four theme colours (outer stroke, outer fill, inner stroke, inner fill)
_ICONPARK_INK = {"#000", "#000000", "#333", "#333333", "black", "#fff", "#ffffff", "white", "currentcolor"}
_ICONPARK_FILL = {"#2f88ff", "#43ccf8"}


# ----------------------------------------------------------------------------- the icon set


@functools.lru_cache(maxsize=4)
def _load(path: Path, modified: float) -> dict[str, str]:
    collection = json.loads(path.read_text(encoding="utf-8"))
    width, height = collection.get("width", 16), collection.get("height", 16)
    icons = {}
    for name, icon in collection["icons"].items():
        w, h = icon.get("width", width), icon.get("height", height)
        left, top = icon.get("left", 0), icon.get("top", 0)
        side = max(w, h)  # a square viewBox with the icon centred
        box = f"{left - (side - w) / 2:g} {top - (side - h) / 2:g} {side:g} {side:g}"
        icons[name] = f'<svg xmlns="{_SVG_NS}" viewBox="{box}">{icon["body"]}</svg>'
    return icons


def load_icons(root: str | os.PathLike) -> dict[str, str]:
    """``name -> SVG`` (square viewBox) of the ``icons.json`` in a prepared folder."""
    path = Path(root) / "icons.json"
    if not path.exists():
        raise FileNotFoundError(f"no icons.json in {root}")
    return _load(path, path.stat().st_mtime)


def family_of(name: str) -> str:
    """The name without its variant endings (``arrow-circle-left`` -> ``arrow-circle``,
    ``cursor-speed-2`` -> ``cursor-speed``): variants of one drawing share a split."""
    parts = name.split("-")
    while len(parts) > 1 and (parts[-1] in VARIANT_SUFFIXES or parts[-1].isdigit()):
        parts.pop()
    return "-".join(parts)


# ----------------------------------------------------------------------------- colour roles


def _normal(color: str | None) -> str | None:
    return None if color is None else color.strip().lower()


def repaint(svg: str, *, fill: Callable[[str], str], stroke: Callable[[str], str], root_fill: str | None = None) -> str:
    """``svg`` with every ``fill`` / ``stroke`` value mapped (lower-cased colour -> new value);
    masks, clip paths and definitions are left alone. ``root_fill`` sets the inherited fill
    (the default is black: ``"none"`` hides shapes that name no fill)."""
    root = ET.fromstring(svg)
    if root_fill is not None:
        root.set("fill", root_fill)

    def visit(element: ET.Element) -> None:
        for attribute, paint in (("fill", fill), ("stroke", stroke)):
            value = _normal(element.get(attribute))
            if value is not None and element is not root:
                element.set(attribute, paint(value))
        for child in element:
            if child.tag not in _LEFT_ALONE:
                visit(child)

    visit(root)
    return ET.tostring(root, encoding="unicode")


def iconpark_layers(svg: str) -> dict[str, str]:
    """IconPark's ``line`` (outline theme: all ``#000``/``#fff`` paint black, fills gone),
    ``fills`` (the ``#2F88FF``/``#43CCF8`` shapes, no strokes) and ``original`` (fills as
    drawn under black lines) SVGs."""
    def ink_black(value: str) -> str:
        return "#000" if value in _ICONPARK_INK else value

    return {
        "line": repaint(svg, fill=lambda v: "none" if v in _ICONPARK_FILL else ink_black(v), stroke=ink_black),
        "fills": repaint(svg, fill=lambda v: v if v in _ICONPARK_FILL else "none", stroke=lambda v: "none",
                         root_fill="none"),
        "original": repaint(svg, fill=ink_black, stroke=ink_black),
    }


def freehand_layers(svg: str) -> dict[str, str]:
    """Freehand's ``line`` (every painted path black; white stays paper) and ``original``."""
    def ink(value: str) -> str:
        return "none" if value in ("none", "#fff", "#ffffff", "white") else "#000"

    return {"line": repaint(svg, fill=ink, stroke=ink), "original": svg}


# ----------------------------------------------------------------------------- areas to colour


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 1..K in order of first appearance (raster order), 0 kept."""
    ids, first = np.unique(labels.ravel(), return_index=True)
    order = ids[np.argsort(first)]
    order = order[order != 0]
    lookup = np.zeros(int(labels.max(initial=0)) + 1, np.int32)
    lookup[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lookup[labels]


def _nearest_fill(labels: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``labels`` extended into the unlabelled pixels of ``where`` (nearest labelled pixel)."""
    from scipy.ndimage import distance_transform_edt

    if not labels.any():
        return labels
    _, (rows, cols) = distance_transform_edt(labels == 0, return_indices=True)
    return np.where(where | (labels > 0), labels[rows, cols], 0)


def iconpark_areas(fills_svg: str, line: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IconPark's areas to colour at ``size``: ``(labels, coverage, inside)``. Labels 1..K
    are the flat regions of the fill shapes, grown under the lines and to the shapes'
    anti-aliased edge; ``coverage`` (float, [0, 1]) is the fill shapes' anti-aliased alpha,
    ``inside`` (bool) their crisp render."""
    crisp = _render_rgba(fills_svg, size, crisp=True)
    coverage = _render_rgba(fills_svg, size)[..., 3].astype(np.float32) / 255.0
    regions = flat_regions(_on_white(crisp), line, min_area=min_region_area(size))
    inside = crisp[..., 3] > 0
    regions[~inside] = 0  # the paper is not an area to colour
    return _nearest_fill(_relabel(regions), coverage > 0), coverage, inside


def closing_radii(line: np.ndarray) -> tuple[int, ...]:
    """Ball radii for Freehand's open outlines: ``R = clip(round(1.1 w), 2, 16)`` for the
    stroke width ``w`` (:func:`tinct.regions.stroke_width`; R = 9 at 256 px), then ``R/2``,
    ``R/3``, 1 (rounded up). About 1.5 times the radii :func:`tinct.regions.auto_radii`
    picks: this hand leaves gaps of a stroke width or two, which a colourist closes. (Looked
    at on the train split: R = 0.7 w leaves screens and globes open; R = 1.5 w cuts a page
    with lines of text into several areas.)"""
    import math

    from tinct.regions import stroke_width

    radius = int(np.clip(round(1.1 * stroke_width(line < 128)), 2, 16))
    return tuple(sorted({radius, math.ceil(radius / 2), math.ceil(radius / 3), 1}, reverse=True))


def enclosed_areas(line: np.ndarray, *, max_leak: float = MAX_LEAK, radii=None) -> np.ndarray:
    """The areas a line drawing encloses: ``(H, W)`` int32 labels 1..K (0 = paper), grown
    under the lines.

    The trapped-ball regions of ``line`` (255 = paper; ``radii`` as for
    :func:`tinct.regions.trapped_ball`, default :func:`closing_radii`) are sorted by how they meet through free space (no
    ink between them), counted in pixel edges: the regions touching the image border are
    paper, and so is, repeatedly, every region that meets paper along more than
    ``max_leak`` of its boundary (a leaky outline, or a fragment out in the open). Of the
    rest, regions that meet along more than ``max_leak`` of the smaller one's boundary are
    one area (the pieces a ball leaves in a corner); a gap the ball closed is a short
    contact and keeps two areas apart. Ink pixels take their nearest region's area (an
    area's colour runs under its outline, not under strokes out in the open)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from tinct.regions import trapped_ball

    radii = closing_radii(line) if radii is None else radii
    regions = trapped_ball(line, radii=radii, assign_lines=False)  # 0 on ink
    count = int(regions.max(initial=0))
    if count == 0:
        return regions
    padded = np.pad(regions.astype(np.int64), 1, constant_values=-1) + 1  # 0 outside, 1 ink, k + 1 region k
    codes = []
    for first, second in ((padded[:, :-1], padded[:, 1:]), (padded[:-1], padded[1:])):
        differ = first != second
        codes += [first[differ] * (count + 2) + second[differ], second[differ] * (count + 2) + first[differ]]
    edges = np.bincount(np.concatenate(codes), minlength=(count + 2) ** 2).reshape(count + 2, count + 2)
    boundary = edges[2:].sum(axis=1)  # (K,) edges of each region with anything else
    contact = edges[2:, 2:]  # (K, K) edges through free space
    paper = edges[2:, 0] > 0  # touches the image border
    while True:
        leaky = ~paper & (contact[:, paper].sum(axis=1) > max_leak * boundary)
        if not leaky.any():
            break
        paper |= leaky
    kept = np.flatnonzero(~paper)
    inner = contact[np.ix_(kept, kept)]
    smaller = np.minimum(boundary[kept][:, None], boundary[kept][None, :])
    joined = coo_matrix(inner > max_leak * smaller)
    _, component = connected_components(joined, directed=False)
    area = np.zeros(count + 1, np.int32)
    area[kept + 1] = component + 1
    grown = _nearest_fill(regions, regions == 0)  # each ink pixel: its nearest region's label
    return _relabel(area[grown])


# ----------------------------------------------------------------------------- colours


def _generator(name: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{name}\0{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _palette_rgb() -> np.ndarray:
    return np.array([[int(color[i : i + 2], 16) for i in (1, 3, 5)] for color in PALETTE], np.uint8)


def area_colors(labels: np.ndarray, name: str, seed: int, canonical: np.ndarray | None = None) -> np.ndarray:
    """``(K + 1, 3)`` uint8 colours of areas 1..K (row 0: white paper).

    At the canonical size (``canonical=None``) area ``k`` takes the ``k``-th colour of a
    permutation of :data:`PALETTE` drawn from ``(name, seed)`` (cycling past its length).
    Otherwise ``canonical`` holds the areas at :data:`CANONICAL_SIZE`: an area takes the
    colour of the canonical area it overlaps most, or a further draw when it overlaps none.
    """
    palette = _palette_rgb()
    order = _generator(name, seed).permutation(len(palette))
    count = int(labels.max(initial=0))
    colors = np.full((count + 1, 3), 255, np.uint8)
    if canonical is None:
        colors[1:] = palette[order[np.arange(count) % len(palette)]]
        return colors
    canonical_colors = area_colors(canonical, name, seed)
    scaled = cv2.resize(canonical, labels.shape[::-1], interpolation=cv2.INTER_NEAREST)
    width = int(canonical.max(initial=0)) + 1
    overlap = np.bincount((labels.astype(np.int64) * width + scaled).ravel(), minlength=(count + 1) * width)
    overlap = overlap.reshape(count + 1, width)[:, 1:]  # (areas here, canonical areas 1..)
    best = overlap.argmax(axis=1) + 1 if overlap.shape[1] else np.zeros(count + 1, np.int64)
    matched = overlap.max(axis=1, initial=0) > 0
    colors[matched] = canonical_colors[best[matched]]
    spare = order[::-1]  # areas only this size shows: the palette from its other end
    unmatched = np.flatnonzero(~matched[1:]) + 1
    colors[unmatched] = palette[spare[np.arange(len(unmatched)) % len(palette)]]
    colors[0] = 255
    return colors


# ----------------------------------------------------------------------------- rendering


def _result(color: np.ndarray, line: np.ndarray, fills: np.ndarray, alpha: np.ndarray, size: int) -> dict:
    return {
        "color": color,
        "line": line,
        "fills": fills,
        "alpha": alpha,
        "regions": flat_regions(fills, line, min_area=min_region_area(size)),
    }


def _line_render(svg: str, size: int) -> np.ndarray:
    return _on_white(_render_rgba(svg, size))[..., 0].copy()


def _with_lines(fills_rgb: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Black ink of ``line`` (255 = paper) over ``fills_rgb``: a multiply."""
    shade = line.astype(np.float32)[..., None] / 255.0
    return np.round(fills_rgb.astype(np.float32) * shade).astype(np.uint8)


def _check(size: int, colors: str) -> None:
    if size < 8:
        raise ValueError(f"render size must be at least 8 px, got {size}")
    if colors not in COLORINGS:
        raise ValueError(f"colors must be one of {COLORINGS}, got {colors!r}")


def render_iconpark(svg: str, size: int, *, name: str, seed: int = 0, colors: str = "random") -> dict[str, np.ndarray]:
    """One IconPark icon at ``size`` px: ``color``, ``line``, ``fills``, ``alpha``, ``regions``
    (the module docstring). ``name`` and ``seed`` pick the random colours."""
    _check(size, colors)
    layers = iconpark_layers(svg)
    line = _line_render(layers["line"], size)
    if colors == "original":
        full = _render_rgba(layers["original"], size)
        fills = _on_white(_render_rgba(layers["fills"], size, crisp=True))
        return _result(_on_white(full), line, fills, full[..., 3].copy(), size)
    labels, coverage, inside = iconpark_areas(layers["fills"], line, size)
    canonical = None
    if size != CANONICAL_SIZE:
        canonical = iconpark_areas(layers["fills"], _line_render(layers["line"], CANONICAL_SIZE), CANONICAL_SIZE)[0]
    palette = area_colors(labels, name, seed, canonical)
    painted = palette[labels].astype(np.float32)  # (H, W, 3): white where no area
    under = painted * coverage[..., None] + 255.0 * (1.0 - coverage[..., None])
    fills = np.where(inside[..., None] & (labels[..., None] > 0), palette[labels], 255).astype(np.uint8)
    alpha = np.maximum(255 - line, np.round(coverage * 255.0).astype(np.uint8))
    return _result(_with_lines(np.round(under).astype(np.uint8), line), line, fills, alpha, size)


def render_freehand(svg: str, size: int, *, name: str, seed: int = 0, colors: str = "random") -> dict[str, np.ndarray]:
    """One Freehand icon at ``size`` px: ``color``, ``line``, ``fills``, ``alpha``, ``regions``
    (the module docstring). ``name`` and ``seed`` pick the random colours."""
    _check(size, colors)
    layers = freehand_layers(svg)
    line = _line_render(layers["line"], size)
    if colors == "original":
        full = _render_rgba(layers["original"], size)
        paper = np.full((size, size, 3), 255, np.uint8)
        return _result(_on_white(full), line, paper, full[..., 3].copy(), size)
    labels = enclosed_areas(line)
    canonical = None if size == CANONICAL_SIZE else enclosed_areas(_line_render(layers["line"], CANONICAL_SIZE))
    fills = area_colors(labels, name, seed, canonical)[labels]
    alpha = np.where(labels > 0, 255, 255 - line).astype(np.uint8)
    return _result(_with_lines(fills, line), line, fills, alpha, size)

