"""Hint files: a colorization's guidance saved as JSON, independent of the image size.

Every position is normalised to the picture as given (not to the network's padded square):
``x`` runs from 0 (left edge) to 1 (right edge), ``y`` from 0 (top edge) to 1 (bottom edge).
Sizes are fractions of the picture's longer side. So hints made on a 256 px preview apply
unchanged to the 4000 px original, and one file applies to a whole folder.

Schema, version 2 (every key but ``version`` may be left out; unknown keys are an error,
so that a typo is not silently ignored; version 1 files, without the last three keys, still
read)::

    {
      "version": 2,
      "points":    [{"x": 0.42, "y": 0.31, "color": "#f2c641", "size": 0.02}],
      "strokes":   [{"points": [[0.10, 0.80], [0.35, 0.78]], "color": "#3a7bd5", "width": 0.01}],
      "regions":   ["#f2c641", null, "#3a7bd5"],
      "tags":      ["hair_orange", "yellow"],
      "style":     3,
      "scribbles": [{"points": [[0.52, 0.40], [0.55, 0.61]], "width": 0.01}]
    }

- ``points``: square colour patches. ``x``, ``y`` in [0, 1]; ``color`` ``"#rrggbb"``;
  ``size`` (optional, default 0.02) the patch side as a fraction of the longer side, in
  (0, 1]; at least 1 px at any size.
- ``strokes``: polylines of at least one point ``[x, y]`` (normalised as above); ``width``
  (optional, default 0.01) the line width as a fraction of the longer side, in (0, 1].
- ``regions``: colours of the regions the model ranks (GuidingPainter asks about region 1,
  then 2, ...), in rank order; ``null`` leaves a region without a hint.
- ``tags`` (version 2): colour tags from the model's vocabulary (``tinct colorize --list-tags``).
- ``style`` (version 2): a whole number >= 0 seeding the style code of a style-based model, or
  ``"A,B@T"``: the style between seeds A and B, ``(1 - T) w_A + T w_B`` (T in [0, 1], linear in
  the code; :class:`StyleMix`).
- ``scribbles`` (version 2): polylines drawn over edges where colour leaked, like strokes
  but without a colour.

Colours are read by :func:`tinct.color.parse_color` (``#rrggbb``, ``#rgb``, ``rgb(...)``), the
one colour parser of the API, the CLI and the app; files are written with ``#rrggbb``.

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
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from tinct.color import format_color
from tinct.color import parse_color as _parse_color

__all__ = [
    "HINTS_VERSION",
    "HintFileError",
    "Hints",
    "Point",
    "Scribble",
    "Stroke",
    "StyleMix",
    "format_color",
    "hint_pixels",
    "load_hints",
    "parse_color",
    "render_hints",
    "save_hints",
    "scribble_mask",
]

HINTS_VERSION = 2
READS_VERSIONS = (1, 2)
V1_KEYS = ("version", "points", "strokes", "regions")
V2_KEYS = V1_KEYS + ("tags", "style", "scribbles")
# Bounds, so that a hint file cannot take the machine's memory: a file of this many bytes,
# this many points + strokes + scribbles, this many polyline vertices in all.
MAX_FILE_BYTES = 2_000_000
MAX_HINTS = 5_000
MAX_VERTICES = 100_000
DEFAULT_POINT_SIZE = 0.02
DEFAULT_STROKE_WIDTH = 0.01

Color = tuple[float, float, float]


class HintFileError(ValueError):
    """A hint file (or hint dictionary) that does not follow the schema; the message names
    the file and the field."""


# ----------------------------------------------------------------------------- colours


def parse_color(value, where: str = "color") -> Color:
    """Any colour :func:`tinct.color.parse_color` reads (``"#rrggbb"``, ``"#rgb"``, RGB in
    [0, 1], ...) -> RGB floats in [0, 1]; a :class:`HintFileError` naming ``where`` otherwise."""
    try:
        return _parse_color(value)
    except ValueError:
        raise HintFileError(f"{where} must be a colour such as '#f2c641' or '#fc4', got {value!r}") from None


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
class Scribble:
    """A polyline through normalised ``points`` drawn over an edge where colour leaked;
    ``width`` a fraction of the longer side."""

    points: tuple[tuple[float, float], ...]
    width: float = DEFAULT_STROKE_WIDTH


@dataclass(frozen=True)
class StyleMix:
    """The style between two style seeds: the code ``(1 - t) w_first + t w_second``, linear in
    the code (``t`` in [0, 1]). Written ``"first,second@t"`` (``"3,9@0.5"``)."""

    first: int
    second: int
    t: float

    def __str__(self) -> str:
        return f"{self.first},{self.second}@{self.t:g}"


@dataclass(frozen=True)
class Hints:
    """Everything a hint file holds: points, strokes, ranked-region colours (None = no hint
    for that region), colour tags, a style (a seed, or a :class:`StyleMix` between two seeds;
    None = the model's default) and scribbles.
    Which of them a model takes is its :class:`~tinct.methods.base.Guidance`."""

    points: tuple[Point, ...] = ()
    strokes: tuple[Stroke, ...] = ()
    regions: tuple[Color | None, ...] = field(default=())
    tags: tuple[str, ...] = ()
    style: int | StyleMix | None = None
    scribbles: tuple[Scribble, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.kinds

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of guidance given (names of :data:`tinct.methods.base.GUIDANCE_KINDS`)."""
        given = {"regions": any(color is not None for color in self.regions), "points": bool(self.points or self.strokes),
                 "tags": bool(self.tags), "style": self.style is not None, "scribbles": bool(self.scribbles)}
        return tuple(kind for kind, present in given.items() if present)

    def with_regions(self, colors) -> Hints:
        """These hints with the ranked-region colours replaced by ``colors`` (any colour
        :func:`parse_color` reads, or None)."""
        regions = tuple(None if c is None else parse_color(c, f"regions[{i}]") for i, c in enumerate(colors))
        return replace(self, regions=regions)

    def merged(self, other: Hints) -> Hints:
        """Points, strokes and scribbles of both (``other``'s painted last); ``other``'s region
        colours where it gives one, ours elsewhere; ``other``'s tags and style when it gives them."""
        count = max(len(self.regions), len(other.regions))
        regions = tuple(
            other.regions[i] if i < len(other.regions) and other.regions[i] is not None
            else (self.regions[i] if i < len(self.regions) else None)
            for i in range(count)
        )
        return Hints(points=self.points + other.points, strokes=self.strokes + other.strokes, regions=regions,
                     tags=other.tags or self.tags, style=self.style if other.style is None else other.style,
                     scribbles=self.scribbles + other.scribbles)

    def to_dict(self) -> dict:
        """The JSON form (schema version 2)."""
        return {
            "version": HINTS_VERSION,
            "points": [{"x": p.x, "y": p.y, "color": format_color(p.color), "size": p.size} for p in self.points],
            "strokes": [
                {"points": [[x, y] for x, y in s.points], "color": format_color(s.color), "width": s.width}
                for s in self.strokes
            ],
            "regions": [None if c is None else format_color(c) for c in self.regions],
            "tags": list(self.tags),
            "style": str(self.style) if isinstance(self.style, StyleMix) else self.style,
            "scribbles": [{"points": [[x, y] for x, y in s.points], "width": s.width} for s in self.scribbles],
        }

    @classmethod
    def from_dict(cls, data, *, source: str = "hints") -> Hints:
        """Validate the JSON form (version 1 or 2); errors name ``source`` and the field
        (``points[2].x``)."""
        if not isinstance(data, dict):
            raise HintFileError(f"{source}: must hold a JSON object, got {type(data).__name__}")
        if "version" not in data:
            raise HintFileError(f"{source}: missing 'version' (this tinct reads versions 1 and 2)")
        version = data["version"]
        if isinstance(version, bool) or version not in READS_VERSIONS:
            raise HintFileError(f"{source}: unsupported version {version!r} (this tinct reads versions 1 and 2)")
        known = V1_KEYS if version == 1 else V2_KEYS
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise HintFileError(f"{source}: unknown keys {unknown} for version {version} (known: {', '.join(known)})")
        count = sum(len(_list(data, key, source)) for key in ("points", "strokes", "scribbles"))
        longest = max(len(_list(data, key, source)) for key in ("regions", "tags"))
        if count > MAX_HINTS or longest > MAX_HINTS:
            raise HintFileError(f"{source}: {count} points, strokes and scribbles; at most {MAX_HINTS}")
        vertices = sum(len(item["points"]) for key in ("strokes", "scribbles") for item in _list(data, key, source)
                       if isinstance(item, dict) and isinstance(item.get("points"), list))
        if vertices > MAX_VERTICES:
            raise HintFileError(f"{source}: {vertices} stroke and scribble vertices; at most {MAX_VERTICES}")
        points = tuple(_point(item, f"{source}: points[{i}]") for i, item in enumerate(_list(data, "points", source)))
        strokes = tuple(_stroke(item, f"{source}: strokes[{i}]")
                        for i, item in enumerate(_list(data, "strokes", source)))
        regions = tuple(None if item is None else parse_color(item, f"{source}: regions[{i}]")
                        for i, item in enumerate(_list(data, "regions", source)))
        tags = tuple(_tag(item, f"{source}: tags[{i}]") for i, item in enumerate(_list(data, "tags", source)))
        scribbles = tuple(_scribble(item, f"{source}: scribbles[{i}]")
                          for i, item in enumerate(_list(data, "scribbles", source)))
        return cls(points=points, strokes=strokes, regions=regions, tags=tags,
                   style=parse_style(data.get("style"), f"{source}: style"), scribbles=scribbles)


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


def _polyline(raw, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list) or not raw:
        raise HintFileError(f"{where} must be a non-empty list of [x, y], got {raw!r}")
    points = []
    for j, pair in enumerate(raw):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise HintFileError(f"{where}[{j}] must be [x, y], got {pair!r}")
        points.append((_unit(pair[0], f"{where}[{j}][0]"), _unit(pair[1], f"{where}[{j}][1]")))
    return tuple(points)


def _stroke(item, where: str) -> Stroke:
    item = _fields(item, where, {"points", "color"}, {"width"})
    return Stroke(points=_polyline(item["points"], f"{where}.points"), color=parse_color(item["color"], f"{where}.color"),
                  width=_fraction(item.get("width", DEFAULT_STROKE_WIDTH), f"{where}.width"))


def _scribble(item, where: str) -> Scribble:
    item = _fields(item, where, {"points"}, {"width"})
    return Scribble(points=_polyline(item["points"], f"{where}.points"),
                    width=_fraction(item.get("width", DEFAULT_STROKE_WIDTH), f"{where}.width"))


def _tag(item, where: str) -> str:
    if not isinstance(item, str) or not item.strip():
        raise HintFileError(f"{where} must be a tag name such as 'hair_brown', got {item!r}")
    return item.strip()


MAX_STYLE_SEED = 2**63 - 1  # torch.Generator's seeds
_STYLE_FORMS = "a whole number >= 0 (a style seed, below 2**63) or 'A,B@T', the style between seeds A and B (e.g. '3,9@0.5', T in [0, 1])"


def parse_style(value, where: str = "style") -> int | StyleMix | None:
    """A style: a seed (a whole number >= 0, or its digits as a string), ``"A,B@T"`` between two
    seeds (a :class:`StyleMix`, T in [0, 1]), a :class:`StyleMix`, or None (the model's default).
    A :class:`HintFileError` naming ``where`` and the accepted forms otherwise."""
    if value is None or isinstance(value, StyleMix):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STYLE_SEED:
        return value
    if isinstance(value, str) and len(value) <= 100:
        seed = re.fullmatch(r"\s*([0-9]+)\s*", value)
        if seed and int(seed[1]) <= MAX_STYLE_SEED:
            return int(seed[1])
        mix = re.fullmatch(r"\s*([0-9]+)\s*,\s*([0-9]+)\s*@\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*", value)
        if (mix and 0.0 <= float(mix[3]) <= 1.0 and int(mix[1]) <= MAX_STYLE_SEED
                and int(mix[2]) <= MAX_STYLE_SEED):
            return StyleMix(int(mix[1]), int(mix[2]), float(mix[3]))
    raise HintFileError(f"{where} must be {_STYLE_FORMS}, got {value!r}")


# ----------------------------------------------------------------------------- files


def load_hints(path: str | os.PathLike) -> Hints:
    """Read and validate a hint file; every error is a :class:`HintFileError` naming the file."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            raise HintFileError(f"{path}: {path.stat().st_size} bytes; a hint file holds at most {MAX_FILE_BYTES}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HintFileError(f"{path}: no such hint file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise HintFileError(f"{path}: cannot read the hint file ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise HintFileError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise HintFileError(f"{path}: not a hint file (JSON nested too deeply)") from None
    except ValueError as error:  # e.g. a number of thousands of digits
        raise HintFileError(f"{path}: not a hint file ({error})") from None
    return Hints.from_dict(data, source=str(path))


def save_hints(hints: Hints, path: str | os.PathLike) -> Path:
    """Write ``hints`` as JSON (schema version 2); parent folders are created."""
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
    strokes, in file order (the painting order). ``rows`` and ``cols`` are int32 index arrays
    for ``canvas[rows, cols]``: a point's are broadcastable ranges (``(h, 1)`` and ``(1, w)``,
    so a large patch costs no index memory), a stroke's the 1-D coordinates of its pixels.
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
        rows, cols = np.arange(r0, r1, dtype=np.int32)[:, None], np.arange(c0, c1, dtype=np.int32)[None, :]
        shapes.append((rows, cols, point.color))
    for stroke in hints.strokes:
        rows, cols = _polyline_pixels(stroke.points, stroke.width, (top, left, box_h, box_w))
        shapes.append((rows, cols, stroke.color))
    return shapes


def _polyline_pixels(points, width: float, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Canvas pixels of a polyline through normalised ``points``, ``width`` a fraction of the
    box's longer side, inside ``box = (top, left, h, w)``."""
    top, left, box_h, box_w = box
    thickness = max(1, round(width * max(box_h, box_w)))
    # a 1 px polyline through the pixels holding the points (pixel c holds x in [c, c + 1) / w),
    # widened by a thickness x thickness disk; drawn on the polyline's bounding box only
    xy = np.array([[min(int(x * box_w), box_w - 1), min(int(y * box_h), box_h - 1)] for x, y in points], np.int64)
    margin = thickness
    x0, y0 = max(0, int(xy[:, 0].min()) - margin), max(0, int(xy[:, 1].min()) - margin)
    x1, y1 = min(box_w, int(xy[:, 0].max()) + margin + 1), min(box_h, int(xy[:, 1].max()) + margin + 1)
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = (xy - [x0, y0]).astype(np.int32)
    cv2.polylines(canvas, [local[:, None, :]], False, 1, thickness=1, lineType=cv2.LINE_8)
    canvas[local[:, 1], local[:, 0]] = 1  # a polyline of one point is a dot
    if thickness > 1:
        canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thickness, thickness)))
    rows, cols = np.nonzero(canvas)
    return (rows + y0 + top).astype(np.int32), (cols + x0 + left).astype(np.int32)


def channel_values(color: Color, rows: np.ndarray) -> np.ndarray:
    """``color`` shaped to assign to ``canvas[:, rows, cols]`` for :func:`hint_pixels` indices."""
    return np.asarray(color, np.float32).reshape(3, *([1] * np.ndim(rows)))


def scribble_mask(hints: Hints, height: int, width: int, *, box=None) -> np.ndarray:
    """The scribbles on a ``height x width`` canvas: bool ``(H, W)`` (see :func:`hint_pixels`
    for ``box``)."""
    box = _box(height, width, box)
    mask = np.zeros((height, width), bool)
    for scribble in hints.scribbles:
        rows, cols = _polyline_pixels(scribble.points, scribble.width, box)
        mask[rows, cols] = True
    return mask


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
        colors[:, rows, cols] = channel_values(color, rows)
        mask[0, rows, cols] = 1.0
    return torch.from_numpy(colors), torch.from_numpy(mask)
