"""Hint files: a colorization's guidance saved as JSON, independent of the image size.

Every position is normalised to the picture as given (not to the network's padded square):
``x`` runs from 0 (left edge) to 1 (right edge), ``y`` from 0 (top edge) to 1 (bottom edge).
Sizes are fractions of the picture's longer side. So hints made on a 256 px preview apply
unchanged to the 4000 px original, and one file applies to a whole folder.

Schema, version 1 (every key but ``version`` may be left out; unknown keys are an error,
so that a typo is not silently ignored)::

    {
      "version": 1,
      "points":  [{"x": 0.42, "y": 0.31, "color": "#f2c641", "size": 0.02}],
      "strokes": [{"points": [[0.10, 0.80], [0.35, 0.78]], "color": "#3a7bd5", "width": 0.01}],
      "regions": ["#f2c641", null, "#3a7bd5"]
    }

- ``points``: square colour patches. ``x``, ``y`` in [0, 1]; ``color`` ``"#rrggbb"``;
  ``size`` (optional, default 0.02) the patch side as a fraction of the longer side, in
  (0, 1]; at least 1 px at any size.
- ``strokes``: polylines of at least one point ``[x, y]`` (normalised as above); ``width``
  (optional, default 0.01) the line width as a fraction of the longer side, in (0, 1].
- ``regions``: colours of the regions the model ranks (GuidingPainter asks about region 1,
  then 2, ...), in rank order; ``null`` leaves a region without a hint.

How a model uses them is up to :class:`tinct.colorizer.Colorizer`: a point-hint model
receives points and strokes as hint patches; GuidingPainter fills the whole ranked region
under each point or stroke. Later hints are painted over earlier ones (points first, then
strokes, each in file order). The full-size documentation is ``docs/hints.md``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

__all__ = [
    "HINTS_VERSION",
    "HintFileError",
    "Hints",
    "Point",
    "Stroke",
    "format_color",
    "hint_pixels",
    "load_hints",
    "parse_color",
    "render_hints",
    "save_hints",
]

HINTS_VERSION = 1
DEFAULT_POINT_SIZE = 0.02
DEFAULT_STROKE_WIDTH = 0.01

Color = tuple[float, float, float]
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


class HintFileError(ValueError):
    """A hint file (or hint dictionary) that does not follow the schema; the message names
    the file and the field."""


# ----------------------------------------------------------------------------- colours


def parse_color(value, where: str = "color") -> Color:
    """``"#rrggbb"`` or an ``(r, g, b)`` sequence of numbers in [0, 1] -> RGB floats in [0, 1]."""
    if isinstance(value, str):
        if not _HEX.fullmatch(value):
            raise HintFileError(f"{where} must be a colour '#rrggbb', got {value!r}")
        return tuple(int(value[i : i + 2], 16) / 255.0 for i in (1, 3, 5))
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(_is_number(v) and 0 <= v <= 1 for v in value):
        return tuple(float(v) for v in value)
    raise HintFileError(f"{where} must be a colour '#rrggbb' (or 3 numbers in [0, 1]), got {value!r}")


def format_color(color: Color) -> str:
    """RGB in [0, 1] -> ``"#rrggbb"``."""
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in color)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ----------------------------------------------------------------------------- the hints


@dataclass(frozen=True)
class Point:
    """A square colour patch centred at ``(x, y)`` (normalised), side ``size`` (fraction of
    the longer side)."""

    x: float
    y: float
    color: Color
    size: float = DEFAULT_POINT_SIZE


@dataclass(frozen=True)
class Stroke:
    """A polyline through normalised ``points`` ``((x, y), ...)``, ``width`` a fraction of the
    longer side."""

    points: tuple[tuple[float, float], ...]
    color: Color
    width: float = DEFAULT_STROKE_WIDTH


@dataclass(frozen=True)
class Hints:
    """Points, strokes and ranked-region colours (None = no hint for that region)."""

    points: tuple[Point, ...] = ()
    strokes: tuple[Stroke, ...] = ()
    regions: tuple[Color | None, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not (self.points or self.strokes or any(color is not None for color in self.regions))

    def with_regions(self, colors) -> Hints:
        """These hints with the ranked-region colours replaced by ``colors`` (hex strings,
        RGB triples in [0, 1] or None)."""
        regions = tuple(None if c is None else parse_color(c, f"regions[{i}]") for i, c in enumerate(colors))
        return Hints(points=self.points, strokes=self.strokes, regions=regions)

    def merged(self, other: Hints) -> Hints:
        """Points and strokes of both (``other``'s painted last); ``other``'s region colours
        where it gives one, ours elsewhere."""
        count = max(len(self.regions), len(other.regions))
        regions = tuple(
            other.regions[i] if i < len(other.regions) and other.regions[i] is not None
            else (self.regions[i] if i < len(self.regions) else None)
            for i in range(count)
        )
        return Hints(points=self.points + other.points, strokes=self.strokes + other.strokes, regions=regions)

    def to_dict(self) -> dict:
        """The JSON form (schema version 1)."""
        return {
            "version": HINTS_VERSION,
            "points": [{"x": p.x, "y": p.y, "color": format_color(p.color), "size": p.size} for p in self.points],
            "strokes": [
                {"points": [[x, y] for x, y in s.points], "color": format_color(s.color), "width": s.width}
                for s in self.strokes
            ],
            "regions": [None if c is None else format_color(c) for c in self.regions],
        }

    @classmethod
    def from_dict(cls, data, *, source: str = "hints") -> Hints:
        """Validate the JSON form; errors name ``source`` and the field (``points[2].x``)."""
        if not isinstance(data, dict):
            raise HintFileError(f"{source}: must hold a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"version", "points", "strokes", "regions"})
        if unknown:
            raise HintFileError(f"{source}: unknown keys {unknown} (known: version, points, strokes, regions)")
        if "version" not in data:
            raise HintFileError(f"{source}: missing 'version' (this tinct reads version {HINTS_VERSION})")
        if data["version"] != HINTS_VERSION:
            raise HintFileError(f"{source}: unsupported version {data['version']!r} (this tinct reads version "
                                f"{HINTS_VERSION})")
        points = tuple(_point(item, f"{source}: points[{i}]") for i, item in enumerate(_list(data, "points", source)))
        strokes = tuple(_stroke(item, f"{source}: strokes[{i}]")
                        for i, item in enumerate(_list(data, "strokes", source)))
        regions = tuple(None if item is None else parse_color(item, f"{source}: regions[{i}]")
                        for i, item in enumerate(_list(data, "regions", source)))
        return cls(points=points, strokes=strokes, regions=regions)


def _list(data: dict, key: str, source: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise HintFileError(f"{source}: '{key}' must be a list, got {type(value).__name__}")
    return value


def _fields(item, where: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(item, dict):
        raise HintFileError(f"{where} must be an object, got {type(item).__name__}")
    missing = sorted(required - set(item))
    if missing:
        raise HintFileError(f"{where}: missing {', '.join(repr(m) for m in missing)}")
    unknown = sorted(set(item) - required - optional)
    if unknown:
        raise HintFileError(f"{where}: unknown keys {unknown}")
    return item


def _unit(value, where: str) -> float:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise HintFileError(f"{where} must be a number in [0, 1], got {value!r}")
    return float(value)


def _fraction(value, where: str) -> float:
    if not _is_number(value) or not 0.0 < value <= 1.0:
        raise HintFileError(f"{where} must be a number in (0, 1] (a fraction of the longer side), got {value!r}")
    return float(value)


def _point(item, where: str) -> Point:
    item = _fields(item, where, {"x", "y", "color"}, {"size"})
    return Point(x=_unit(item["x"], f"{where}.x"), y=_unit(item["y"], f"{where}.y"),
                 color=parse_color(item["color"], f"{where}.color"),
                 size=_fraction(item.get("size", DEFAULT_POINT_SIZE), f"{where}.size"))


def _stroke(item, where: str) -> Stroke:
    item = _fields(item, where, {"points", "color"}, {"width"})
    raw = item["points"]
    if not isinstance(raw, list) or not raw:
        raise HintFileError(f"{where}.points must be a non-empty list of [x, y], got {raw!r}")
    points = []
    for j, pair in enumerate(raw):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise HintFileError(f"{where}.points[{j}] must be [x, y], got {pair!r}")
        points.append((_unit(pair[0], f"{where}.points[{j}][0]"), _unit(pair[1], f"{where}.points[{j}][1]")))
    return Stroke(points=tuple(points), color=parse_color(item["color"], f"{where}.color"),
                  width=_fraction(item.get("width", DEFAULT_STROKE_WIDTH), f"{where}.width"))


# ----------------------------------------------------------------------------- files


def load_hints(path: str | os.PathLike) -> Hints:
    """Read and validate a hint file; every error is a :class:`HintFileError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HintFileError(f"{path}: no such hint file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise HintFileError(f"{path}: cannot read the hint file ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise HintFileError(f"{path}: not valid JSON ({error})") from None
    return Hints.from_dict(data, source=str(path))


def save_hints(hints: Hints, path: str | os.PathLike) -> Path:
    """Write ``hints`` as JSON (schema version 1); parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(hints.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


# ----------------------------------------------------------------------------- rasterising


def _box(height: int, width: int, box) -> tuple[int, int, int, int]:
    if box is None:
        return 0, 0, height, width
    top, left, box_h, box_w = (int(v) for v in box)
    if top < 0 or left < 0 or box_h < 1 or box_w < 1 or top + box_h > height or left + box_w > width:
        raise ValueError(f"box (top, left, h, w) = {box} must lie inside the {height} x {width} canvas")
    return top, left, box_h, box_w


def hint_pixels(hints: Hints, height: int, width: int, *, box=None) -> list[tuple[np.ndarray, np.ndarray, Color]]:
    """The pixels each point and stroke covers on a ``height x width`` canvas.

    box: ``(top, left, h, w)`` where the picture lies on the canvas (e.g.
    :func:`tinct.image.square_box` for a padded square); default the whole canvas. Hints are
    clipped to the box. Returns one ``(rows, cols, color)`` per hint, points first, then
    strokes, in file order (the painting order).
    """
    top, left, box_h, box_w = _box(height, width, box)
    longer = max(box_h, box_w)
    shapes = []
    for point in hints.points:
        side = max(1, round(point.size * longer))
        row = top + min(int(point.y * box_h), box_h - 1)  # the pixel holding the point
        col = left + min(int(point.x * box_w), box_w - 1)
        half = (side - 1) // 2
        r0, c0 = max(top, row - half), max(left, col - half)
        r1, c1 = min(top + box_h, row - half + side), min(left + box_w, col - half + side)
        rows, cols = np.mgrid[r0:r1, c0:c1]
        shapes.append((rows.ravel(), cols.ravel(), point.color))
    for stroke in hints.strokes:
        thickness = max(1, round(stroke.width * longer))
        # a 1 px polyline through the pixels holding the points (pixel c holds x in [c, c + 1) / w),
        # widened by a thickness x thickness disk; drawn on the stroke's bounding box only
        xy = np.array([[min(int(x * box_w), box_w - 1), min(int(y * box_h), box_h - 1)] for x, y in stroke.points],
                      np.int64)
        margin = thickness
        x0, y0 = max(0, int(xy[:, 0].min()) - margin), max(0, int(xy[:, 1].min()) - margin)
        x1, y1 = min(box_w, int(xy[:, 0].max()) + margin + 1), min(box_h, int(xy[:, 1].max()) + margin + 1)
        canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
        local = (xy - [x0, y0]).astype(np.int32)
        cv2.polylines(canvas, [local[:, None, :]], False, 1, thickness=1, lineType=cv2.LINE_8)
        canvas[local[:, 1], local[:, 0]] = 1  # a stroke of one point is a dot
        if thickness > 1:
            canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thickness, thickness)))
        rows, cols = np.nonzero(canvas)
        shapes.append((rows + y0 + top, cols + x0 + left, stroke.color))
    return shapes


def render_hints(hints: Hints, height: int, width: int, *, box=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Points and strokes as a hint pair on a ``height x width`` canvas (ranked-region
    colours are not drawn: they need a model's ranking).

    box: where the picture lies on the canvas (see :func:`hint_pixels`).
    Returns ``hint_colors (3, H, W)`` RGB in [0, 1] (0 outside hints) and
    ``hint_mask (1, H, W)`` in {0, 1}; later hints are painted over earlier ones.
    """
    colors = np.zeros((3, height, width), np.float32)
    mask = np.zeros((1, height, width), np.float32)
    for rows, cols, color in hint_pixels(hints, height, width, box=box):
        colors[:, rows, cols] = np.asarray(color, np.float32)[:, None]
        mask[0, rows, cols] = 1.0
    return torch.from_numpy(colors), torch.from_numpy(mask)
