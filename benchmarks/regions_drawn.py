"""Trapped-ball regions on drawn test cases: gaps, hatching, speed lines, nested shapes, eyes.

Every case is drawn here with PIL on a 160 px canvas (no data needed), with the number of
regions an artist would colour (the paper around the drawing counts as one), and is run
with the default radii (``"auto"``, :func:`tinct.regions.auto_radii`) and with the classic
``(3, 2, 1)``. Printed:

- gaps: a square, a circle and a diamond (lines at 45 degrees) drawn with 1, 3 and 5 px
  lines, with a gap of 2..9 px in the outline; per shape and line width the widest gap
  that stays closed (every gap from 2 px up to it keeps the inside apart from the paper
  around it), and the radii ``"auto"`` chose;
- cases: found / expected regions, ``ok`` where they agree (hatching and speed lines stop
  inside an area, start at an outline, or run from one line to another; cross-hatching in
  the middle of a circle and all over one; nested shapes with room between them, rings
  8 px apart, a circle 6 px inside a square; and what must stay as drawn: a face with two
  small closed eyes, a shirt with three buttons, a row of eight small cells, a belt whose
  line has a 3 px gap, a square closed by two strokes side by side);
- the median time (of ``--repeat`` runs, OpenCV on ``--threads`` threads) of the region
  map of a drawn comic page (12 panels of shapes with gaps, nested shapes, hatching and
  polygons; 3 px lines at 1024 px, drawn at the same scale at every size), default radii.

    python benchmarks/regions_drawn.py [--repeat 5] [--sizes 1024 2048 4096] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time

import cv2
import numpy as np
from PIL import Image, ImageDraw

from tinct.regions import auto_radii, ink_mask, trapped_ball

CANVAS = 160
GAPS = range(2, 10)
CLASSIC = (3, 2, 1)


def canvas(size: int = CANVAS) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (size, size), 255)
    return image, ImageDraw.Draw(image)


def gap_shape(shape: str, line: int, gap: int) -> np.ndarray:
    """A square, circle or diamond outline 100 px across, ``line`` px wide, with a ``gap`` px
    opening (measured along the line) at the top (upper-right side for the diamond)."""
    image, draw = canvas()
    low, high, middle = 30, 130, 80
    if shape == "diamond":  # a band of exactly ``line`` px across, whatever the slant
        half = 55
        draw.polygon(
            [(middle, middle - half), (middle + half, middle), (middle, middle + half), (middle - half, middle)], fill=0
        )
        inner = half - line * math.sqrt(2)
        draw.polygon(
            [(middle, middle - inner), (middle + inner, middle), (middle, middle + inner), (middle - inner, middle)],
            fill=255,
        )
        if gap:
            cx, cy = middle + half / 2, middle - half / 2  # the middle of the upper-right side
            along, across = (1 / math.sqrt(2), 1 / math.sqrt(2)), (1 / math.sqrt(2), -1 / math.sqrt(2))
            h, d = gap / 2, 2 * line + 2
            corners = [(sa * h, sb * d) for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            draw.polygon(
                [(cx + a * along[0] + b * across[0], cy + a * along[1] + b * across[1]) for a, b in corners], fill=255
            )
        return np.asarray(image)
    if shape == "square":
        draw.rectangle((low, low, high, high), outline=0, width=line)
    else:
        draw.ellipse((low, low, high, high), outline=0, width=line)
    if gap:
        left = middle + 1 - gap // 2
        draw.rectangle((left, low - 2, left + gap - 1, low + 2 * line), fill=255)
    return np.asarray(image)


def parallel_strokes(direction: float, spacing: float, inside, step: float = 0.25) -> list[tuple[float, ...]]:
    """Segments of the lines at ``direction`` degrees, ``spacing`` px apart, that lie where
    ``inside(x, y)`` holds (one segment per run)."""
    ux, uy = math.cos(math.radians(direction)), math.sin(math.radians(direction))
    centre, reach = CANVAS / 2, CANVAS / math.sqrt(2)
    segments = []
    offset = -reach + reach % spacing
    while offset <= reach:
        run = None
        t = -reach
        while t <= reach + step:
            x, y = centre - offset * uy + t * ux, centre + offset * ux + t * uy
            if inside(x, y):
                run = (run[0], (x, y)) if run else ((x, y), (x, y))
            elif run:
                segments.append((*run[0], *run[1]))
                run = None
            t += step
        if run:
            segments.append((*run[0], *run[1]))
        offset += spacing
    return [s for s in segments if math.hypot(s[2] - s[0], s[3] - s[1]) > 2]


def hatched(kind: str, line: int = 3, stroke: int = 2, spacing: float = 6.0) -> np.ndarray:
    """A circle (100 px across) shaded with strokes at 45 degrees: ``middle`` (strokes that
    stop inside it), ``outline`` (strokes from the outline inwards), ``across`` (from one
    side of the outline to the other), ``cross`` (two directions, cells closed all round, in
    its middle) or ``full`` (two directions, from one side of the outline to the other)."""
    image, draw = canvas()
    c, radius = CANVAS / 2, 50
    draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=0, width=line)

    def inside(x: float, y: float) -> bool:
        if kind in ("middle", "cross"):
            return math.hypot(x - c, y - c) < 28
        if kind == "outline":  # a crescent along the lower right of the outline
            return math.hypot(x - c, y - c) < radius - 1 and math.hypot(x - c + 25, y - c + 25) > 50
        return math.hypot(x - c, y - c) < radius - 1

    segments = parallel_strokes(45, spacing, inside)
    if kind in ("cross", "full"):
        segments += parallel_strokes(-45, spacing, inside)
    for segment in segments:
        draw.line(segment, fill=0, width=stroke)
    return np.asarray(image)


def speed_lines(kind: str, line: int = 3, stroke: int = 2, spacing: int = 6) -> np.ndarray:
    """A panel (a frame 130 px across) with horizontal strokes from its left side: ``open``
    (of random lengths, stopping inside) or ``across`` (to the right side)."""
    image, draw = canvas()
    low, high = 15, CANVAS - 16
    draw.rectangle((low, low, high, high), outline=0, width=line)
    rng = np.random.default_rng(0)
    for y in range(low + line + spacing - 2, high - line - 2, spacing):
        end = high if kind == "across" else low + int(rng.integers(50, 110))
        draw.line((low, y, end, y), fill=0, width=stroke)
    return np.asarray(image)


def nested(outer: float, inner: float, line: int = 3) -> np.ndarray:
    """A square frame (130 px across) around two concentric circles of radii ``outer``, ``inner``."""
    image, draw = canvas()
    draw.rectangle((15, 15, CANVAS - 16, CANVAS - 16), outline=0, width=line)
    c = CANVAS / 2
    for radius in (outer, inner):
        draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=0, width=line)
    return np.asarray(image)


def face(eye: float = 8.0, line: int = 3) -> np.ndarray:
    """A face (a circle 120 px across) with two closed eyes ``eye`` x 0.6 ``eye`` px inside and a
    smile (an open stroke)."""
    image, draw = canvas()
    c = CANVAS / 2
    draw.ellipse((c - 60, c - 60, c + 60, c + 60), outline=0, width=line)
    h = 0.6 * eye
    for x in (c - 22, c + 22):
        draw.ellipse(
            (x - eye / 2 - line, c - 15 - h / 2 - line, x + eye / 2 + line, c - 15 + h / 2 + line),
            outline=0,
            width=line,
        )
    draw.arc((c - 25, c - 5, c + 25, c + 35), 20, 160, fill=0, width=line)
    return np.asarray(image)


def belt(gap: int = 3, line: int = 3) -> np.ndarray:
    """A shirt (a rectangle 100 x 130 px) with a belt 5 px wide across it whose lower line has a
    ``gap`` px opening: the gap stays closed, the belt is a region of its own."""
    image, draw = canvas()
    draw.rectangle((30, 15, 130, 145), outline=0, width=line)
    draw.rectangle((30, 70, 130, 70 + line - 1), fill=0)
    draw.rectangle((30, 75 + line, 130, 74 + 2 * line), fill=0)
    if gap:
        draw.rectangle((80, 75 + line, 79 + gap, 74 + 2 * line), fill=255)
    return np.asarray(image)


def overlapping_strokes(overlap: int = 30, apart: int = 5, line: int = 3) -> np.ndarray:
    """A square (100 px across) whose top side is two strokes that overlap side by side over
    ``overlap`` px, ``apart`` px apart (a sketchy closed outline: the slit between them stays
    closed)."""
    image, draw = canvas()
    low, high, middle = 30, 130, 80
    draw.line((low, low, low, high), fill=0, width=line)
    draw.line((high, low + apart + line, high, high), fill=0, width=line)
    draw.line((low, high, high, high), fill=0, width=line)
    draw.line((low, low, middle + overlap // 2, low), fill=0, width=line)
    draw.line((middle - overlap // 2, low + apart + line, high, low + apart + line), fill=0, width=line)
    return np.asarray(image)


def cell_row(cells: int = 8, cell: int = 5, line: int = 3) -> np.ndarray:
    """A frame (130 px across) with a row of ``cells`` small closed cells ``cell`` px across
    inside (teeth, a film strip): drawn areas in a row, not a pattern of hatching."""
    image, draw = canvas()
    draw.rectangle((15, 15, CANVAS - 16, CANVAS - 16), outline=0, width=line)
    left, top, pitch = 40, 70, cell + line
    draw.rectangle((left, top, left + cells * pitch + line - 1, top + pitch + line - 1), outline=0, width=line)
    for k in range(1, cells):
        draw.rectangle((left + k * pitch, top, left + k * pitch + line - 1, top + pitch + line - 1), fill=0)
    return np.asarray(image)


def shirt(button: float = 8.0, line: int = 3) -> np.ndarray:
    """A shirt (a rectangle 80 x 130 px) with three round buttons ``button`` px across inside."""
    image, draw = canvas()
    draw.rectangle((40, 15, 120, 145), outline=0, width=line)
    for y in (45, 80, 115):
        r = button / 2 + line
        draw.ellipse((80 - r, y - r, 80 + r, y + r), outline=0, width=line)
    return np.asarray(image)


CASES = {
    "hatching that stops inside a circle": (lambda: hatched("middle"), 2),
    "hatching from the outline": (lambda: hatched("outline"), 2),
    "hatching across a circle": (lambda: hatched("across"), 2),
    "cross-hatching (closed cells)": (lambda: hatched("cross"), 2),
    "cross-hatching over a circle": (lambda: hatched("full"), 2),
    "speed lines that stop inside": (lambda: speed_lines("open"), 2),
    "speed lines across the panel": (lambda: speed_lines("across"), 2),
    "circle in circle in square": (lambda: nested(45, 22), 4),
    "rings 8 px apart in a square": (lambda: nested(45, 34), 4),
    "circle 6 px inside a square": (lambda: nested(55, 30), 4),
    "face with two 8 px eyes": (lambda: face(8.0), 4),
    "face with two 5 px eyes": (lambda: face(5.0), 4),
    "shirt with three 8 px buttons": (lambda: shirt(8.0), 5),
    "row of eight 5 px cells": (lambda: cell_row(), 10),
    "belt with a 3 px gap": (lambda: belt(3), 4),
    "strokes overlapping 30 px": (lambda: overlapping_strokes(), 2),
}


def widest_closed(shape: str, line: int, radii) -> int:
    """The widest gap up to which every gap keeps the inside of the shape apart (0: none)."""
    widest = 0
    for gap in GAPS:
        if trapped_ball(gap_shape(shape, line, gap), radii=radii).max() < 2:
            break
        widest = gap
    return widest


def page(size: int, seed: int = 0) -> np.ndarray:
    """A comic page: 4 x 3 panels of shapes (closed and with gaps, nested, hatched,
    polygons), drawn at 1024 px with 3 px lines and scaled to ``size``."""
    scale = size / 1024
    image, draw = canvas(size)
    rng = np.random.default_rng(seed)
    width = max(1, round(3 * scale))

    def box(*values):
        return tuple(round(v * scale) for v in values)

    for row in range(4):
        for col in range(3):
            x0, y0 = 20 + col * 330, 20 + row * 250
            x1, y1 = x0 + 310, y0 + 230
            draw.rectangle(box(x0, y0, x1, y1), outline=0, width=width)
            for _ in range(4):
                cx, cy = rng.uniform(x0 + 40, x1 - 40), rng.uniform(y0 + 40, y1 - 40)
                r = rng.uniform(15, 45)
                kind = rng.integers(0, 4)
                if kind == 0:  # nested circles
                    draw.ellipse(box(cx - r, cy - r, cx + r, cy + r), outline=0, width=width)
                    draw.ellipse(box(cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2), outline=0, width=width)
                elif kind == 1:  # a square with a gap
                    draw.rectangle(box(cx - r, cy - r, cx + r, cy + r), outline=0, width=width)
                    gx = cx + rng.uniform(-r / 2, r / 2)
                    draw.rectangle(box(gx, cy - r - 2, gx + rng.uniform(2, 6), cy - r + 4), fill=255)
                elif kind == 2:  # hatching
                    for k in range(int(r / 3)):
                        y = cy - r + 6 * k
                        draw.line(box(cx - r, y, cx + r, y + r / 2), fill=0, width=max(1, round(2 * scale)))
                else:  # a polygon
                    corners = rng.integers(3, 8)
                    angles = np.linspace(0, 2 * np.pi, corners, endpoint=False)
                    draw.polygon([box(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles], outline=0, width=width)
    return np.asarray(image)


def median_seconds(repeat: int, function, *args) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per page size (the median is printed)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096], help="page sizes in px")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)

    print(f"gaps: the widest gap (px, of {GAPS.start}..{GAPS.stop - 1}) that stays closed, default radii / {CLASSIC}")
    for shape in ("square", "circle", "diamond"):
        for line in (1, 3, 5):
            chosen = auto_radii(ink_mask(gap_shape(shape, line, 0)))
            print(
                f"  {shape:8} {line} px lines: {widest_closed(shape, line, 'auto'):2d} / "
                f"{widest_closed(shape, line, CLASSIC):2d}   (auto radii {chosen})"
            )

    print(f"cases: regions found / expected, default radii and {CLASSIC}")
    agree = {"auto": 0, CLASSIC: 0}
    for name, (draw, expected) in CASES.items():
        sketch = draw()
        found = {radii: int(trapped_ball(sketch, radii=radii).max()) for radii in agree}
        for radii, count in found.items():
            agree[radii] += count == expected
        marks = "   ".join(f"{count:3d} / {expected} {'ok' if count == expected else 'no'}" for count in found.values())
        print(f"  {name:34} {marks}   (auto radii {auto_radii(ink_mask(sketch))})")
    print(f"  agree: default radii {agree['auto']} of {len(CASES)}, {CLASSIC} {agree[CLASSIC]} of {len(CASES)}")

    print(f"time of the region map of a drawn page, default radii, median of {args.repeat}, {args.threads} thread(s)")
    for size in args.sizes:
        sketch = page(size)
        labels = trapped_ball(sketch)
        seconds = median_seconds(args.repeat, trapped_ball, sketch)
        print(f"  {size:5d} px: {seconds:6.3f} s   (radii {auto_radii(ink_mask(sketch))}, {labels.max()} regions)")


if __name__ == "__main__":
    main()
