"""How well do extract_lines and XDoG find the true line art of OpenMoji, in three kinds of art?

Three variants of each emoji of a split, rendered here from its SVG at ``--size`` px:

- ``colour``: the colour render (black outlines), as in training;
- ``fills``:  the render WITHOUT the ``line`` group: flat colours only, no outlines, so lines
  must be found at the boundaries between colour areas;
- ``brown``:  the colour render with the ``line`` group recoloured to dark brown ``#45413c``.

Ground truth for all three is the true line art: the ``line`` group's render < 0.5 (< 128 of
255). Predicted ink = sketch < 0.5. Ink-pixel precision, recall and F1 within ``--tolerance``
px (Chebyshev, default 2), micro-averaged over all pixels of all emojis. Also printed:

- where the true lines lie relative to the fill boundaries (OpenMoji strokes are centred on
  the boundaries: see the note the script prints) and a reference row for ``fills``: every
  fill-boundary pixel pair marked (2 px wide), what a detector of every boundary with thin
  lines would score;
- the median time per ``--timing-size`` px image (default 1024) with torch and OpenCV limited
  to 1 and to 2 threads.

    python benchmarks/lines.py                        # 300 test emojis at 256 px
    python benchmarks/lines.py --count 0              # the whole test split (399)
    python benchmarks/lines.py --split val --random-sigma --no-timing
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import cv2
import numpy as np
import torch

from tinct.color import over_white
from tinct.data.openmoji import (
    SPLITS,
    RenderCache,
    _render_rgba,
    list_emojis,
    read_svg,
    svg_groups,
)
from tinct.lines import (
    RASC_SIGMAS,
    LineParams,
    XDoGParams,
    extract_lines,
    ink_precision_recall,
    xdog,
)

BROWN = "#45413c"
_BLACKS = {"#000", "#000000", "black"}
VARIANTS = ("colour", "fills", "brown")


def pick(split: str, count: int) -> list[str]:
    """``count`` emojis of ``split`` spread evenly over the sorted names (0 = all)."""
    names = [emoji.name for emoji in list_emojis(split)]
    if count <= 0 or count >= len(names):
        return names
    return [names[i * len(names) // count] for i in range(count)]


def recolour_lines(svg: str, colour: str = BROWN) -> str:
    """The SVG with every black fill and stroke of its ``line`` group set to ``colour``."""
    root = ET.fromstring(svg)
    for group in root:
        if group.get("id") != "line":
            continue
        group.set("fill", colour)  # shapes without a fill are black by SVG's default: inherit this
        for element in group.iter():
            for attribute in ("fill", "stroke", "color"):
                if (element.get(attribute) or "").strip().lower() in _BLACKS:
                    element.set(attribute, colour)
    return ET.tostring(root, encoding="unicode")


def render_variants(name: str, size: int, cache: RenderCache) -> dict[str, np.ndarray]:
    """colour, fills, brown: (H, W, 3) uint8 on white; line: (H, W) bool true ink."""
    cached = cache.get(name, size)
    svg = read_svg(name)
    return {
        "colour": cached["color"],
        "fills": over_white(_render_rgba(svg_groups(svg, drop={"line"}), size), dtype=np.uint8),
        "brown": over_white(_render_rgba(recolour_lines(svg), size), dtype=np.uint8),
        "line": cached["line"] < 128,
    }


def as_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


def predict(extractor: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, chunk: int = 32) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H, W) bool predicted ink (sketch < 0.5)."""
    with torch.no_grad():
        parts = [extractor(as_tensor(images[i : i + chunk]))[:, 0] < 0.5 for i in range(0, len(images), chunk)]
    return torch.cat(parts).numpy()


def boundary_pixels(image: np.ndarray, threshold: float = 3.0) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) bool: both pixels of every 4-neighbour pair differing by > threshold in Lab."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    down = np.linalg.norm(np.diff(lab, axis=0), axis=-1) > threshold  # (H-1, W)
    right = np.linalg.norm(np.diff(lab, axis=1), axis=-1) > threshold  # (H, W-1)
    marked = np.zeros(image.shape[:2], bool)
    marked[:-1] |= down
    marked[1:] |= down
    marked[:, :-1] |= right
    marked[:, 1:] |= right
    return marked


def line_geometry(fills: np.ndarray, true_ink: np.ndarray) -> tuple[float, float, float]:
    """Stroke width of the true lines, and where the fill boundaries lie inside them.

    Returns (median stroke width px, median distance px from a fill-boundary pixel inside a true
    line to the line's centre (skeleton), fraction of true ink within 2 px of a fill boundary).
    """
    from skimage.morphology import skeletonize

    widths, offsets, near, total = [], [], 0, 0
    for image, ink in zip(fills, true_ink):
        if not ink.any():
            continue
        inside = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 5)  # distance to paper
        skeleton = skeletonize(ink)
        widths.append(2 * inside[skeleton] - 1)
        to_centre = cv2.distanceTransform((~skeleton).astype(np.uint8), cv2.DIST_L2, 5)
        boundary = boundary_pixels(image)
        offsets.append(to_centre[boundary & ink])
        near += int((ink & (cv2.dilate(boundary.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)).sum())
        total += int(ink.sum())
    return float(np.median(np.concatenate(widths))), float(np.median(np.concatenate(offsets))), near / max(total, 1)


def ms_per_image(
    extractor: Callable[[torch.Tensor], torch.Tensor], images: list[torch.Tensor], threads: int
) -> tuple[float, float]:
    """Median wall and CPU time (ms) of ``extractor`` per (3, H, W) image, torch and OpenCV at
    ``threads`` threads. CPU time counts all threads of this process; on a shared machine it
    shows what the wall time would be without the other load."""
    torch_threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    try:
        with torch.no_grad():
            extractor(images[0])  # warm-up
            wall, cpu = [], []
            for image in images:
                start, start_cpu = time.perf_counter(), time.process_time()
                extractor(image)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
    finally:
        torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv2_threads)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="render size in px (default 256)")
    parser.add_argument("--count", type=int, default=300, help="number of emojis, spread over the split (0 = all)")
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--tolerance", type=int, default=2, help="match tolerance in px (default 2)")
    parser.add_argument("--random-sigma", action="store_true", help="also report XDoG at each sigma of the augmentation range")
    parser.add_argument("--timing-size", type=int, default=1024, help="image size in px for the timing (default 1024)")
    parser.add_argument("--timing-count", type=int, default=12, help="emojis timed, each in the three variants (default 12)")
    parser.add_argument("--no-timing", action="store_true", help="skip the timing")
    args = parser.parse_args()

    names = pick(args.split, args.count)
    cache = RenderCache()
    renders = [render_variants(name, args.size, cache) for name in names]
    data = {key: np.stack([render[key] for render in renders]) for key in (*VARIANTS, "line")}
    true_ink = data["line"]

    extractors: list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = [
        ("extract_lines", extract_lines),
        ("xdog", xdog),
    ]
    if args.random_sigma:
        for sigma in RASC_SIGMAS:
            params = dataclasses.replace(XDoGParams(), sigma=sigma)
            extractors.append((f"xdog s={sigma}", lambda image, params=params: xdog(image, params)))

    print(f"OpenMoji {args.split} split, {len(names)} emojis at {args.size} px; ink within {args.tolerance} px "
          f"(Chebyshev) of the true line art, micro-averaged")
    print(f"extract_lines: {LineParams()}")
    print(f"xdog:          {XDoGParams()}")
    header = f"{'extractor':<14}" + "".join(f" | {variant + ' P':>9} {'R':>6} {'F1':>6}" for variant in VARIANTS)
    print(header)
    print("-" * len(header))
    for label, extractor in extractors:
        cells = []
        for variant in VARIANTS:
            precision, recall, f1 = ink_precision_recall(predict(extractor, data[variant]), true_ink, args.tolerance)
            cells.append(f" | {precision:9.3f} {recall:6.3f} {f1:6.3f}")
        print(f"{label:<14}" + "".join(cells))

    oracle = np.stack([boundary_pixels(image) for image in data["fills"]])
    precision, recall, f1 = ink_precision_recall(oracle, true_ink, args.tolerance)
    print(f"{'(boundaries)':<14} | {'':>9} {'':>6} {'':>6} | {precision:9.3f} {recall:6.3f} {f1:6.3f} |"
          "   every fill-boundary pixel pair, 2 px wide, no detector: every boundary with thin lines")
    width, offset, near = line_geometry(data["fills"], true_ink)
    print(f"\nfills: the true strokes are {width:.1f} px wide at {args.size} px and centred on the fill boundaries "
          f"(median distance from a boundary pixel inside a stroke to the stroke's centre line: {offset:.1f} px); "
          f"{100 * near:.0f} % of the true ink lies within 2 px of a fill boundary, the rest are strokes inside "
          f"one colour area (or boundaries white on white) that no boundary detector can see. With 2 px lines at "
          f"the boundary, the outer part of each {width:.0f} px stroke stays beyond the {args.tolerance} px tolerance; "
          f"extract_lines draws the outlines of flat-colour art wider (LineParams.outline_width).")

    if args.no_timing:
        return
    timed = pick(args.split, args.timing_count)
    images = []
    for name in timed:
        svg = read_svg(name)
        for variant_svg in (svg, svg_groups(svg, drop={"line"}), recolour_lines(svg)):
            rgb = over_white(_render_rgba(variant_svg, args.timing_size), dtype=np.uint8)
            images.append(as_tensor(rgb[None])[0])
    print(f"\nmedian time per {args.timing_size} px image ({len(images)} images: {len(timed)} emojis x 3 variants), "
          f"wall (CPU) ms, with torch and OpenCV at 1 and 2 threads; load average {os.getloadavg()[0]:.1f}:")
    for label, extractor in extractors[:2]:
        cells = []
        for threads in (1, 2):
            wall, cpu = ms_per_image(extractor, images, threads)
            cells.append(f"{threads} thread{'s' if threads > 1 else ' '}: {wall:6.1f} ({cpu:6.1f})")
        print(f"  {label:<14} " + "   ".join(cells))


if __name__ == "__main__":
    main()
