"""Trapped-ball regions on the OpenMoji mosaic: speed (one core) and adjusted Rand index.

A mosaic is ``grid x grid`` tiles of ``--size`` px OpenMoji renders from the test split
(a deterministic choice by ``--seed``; ``--split val`` is where the default radii were
tuned), e.g. 4 x 4 tiles of 256 px -> 1024 px images with ~115 ground-truth regions. The
ground truth is :func:`tinct.data.openmoji.flat_regions` of the tiled fills and line
renders (so the white background of neighbouring tiles connects, as it does for the
segmentation); the ARI is computed on interior pixels (GT label > 0). Ground-truth
regions are regions of one fill colour, and OpenMoji often separates colours without a
line (flag stripes, bodies cut off at the bottom), which no line-based method can see.

Sketches: the true line art (the ``line`` render), and XDoG of the colour render
(:func:`tinct.lines.xdog`, skipped with a note when it cannot be imported).

Times are for one core (OpenCV and torch set to one thread): per image the best of
``--repeat`` runs, then the median over images. Targets: <= 0.10 s per 1024 px mosaic,
<= 0.01 s per 256 px emoji, ARI >= 0.86 on mosaics (true line art). The ARI of the
classic radii ``(3, 2, 1)`` is printed beside that of the default (``"auto"``) radii.

    python benchmarks/regions.py [--count 10] [--size 256] [--grid 4] [--radii auto | 3 2 1]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict

import cv2
import numpy as np

from tinct.data.openmoji import RenderCache, flat_regions, list_emojis, min_region_area
from tinct.regions import adjusted_rand_index, auto_radii, default_min_area, ink_mask, trapped_ball


def mosaic_names(count: int, grid: int, seed: int, split: str = "test") -> list[list[str]]:
    names = [emoji.name for emoji in list_emojis(split)]
    order = np.random.default_rng(seed).permutation(len(names))
    per = grid * grid
    if count * per > len(names):
        raise SystemExit(f"--count {count} x {per} tiles needs more than the {len(names)} {split} emojis")
    return [[names[i] for i in order[m * per : (m + 1) * per]] for m in range(count)]


def tile(arrays: list[np.ndarray], grid: int) -> np.ndarray:
    rows = [np.concatenate(arrays[r * grid : (r + 1) * grid], axis=1) for r in range(grid)]
    return np.concatenate(rows, axis=0)


def best_time(function, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def xdog_sketch(color: np.ndarray):
    """uint8 (H, W, 3) colour -> (H, W) float sketch in [0, 1], or None without tinct.lines."""
    try:
        import torch

        from tinct.lines import xdog
    except ImportError:
        return None
    image = torch.from_numpy(color).permute(2, 0, 1).float() / 255.0
    with torch.no_grad():
        return xdog(image)[0].numpy()


def parse_radii(values: list[str]):
    if values == ["auto"]:
        return "auto"
    try:
        return tuple(int(value) for value in values)
    except ValueError:
        raise SystemExit(f"--radii takes 'auto' or integers, got {values}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10, help="number of mosaics")
    parser.add_argument("--size", type=int, default=256, help="tile size in px")
    parser.add_argument("--grid", type=int, default=4, help="tiles per side")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per image (the best is kept)")
    parser.add_argument("--seed", type=int, default=0, help="choice of emojis")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"], help="radii were tuned on val")
    parser.add_argument("--radii", nargs="+", default=["auto"], help="'auto' (default) or radii, e.g. 3 2 1")
    parser.add_argument("--baseline", type=int, nargs="+", default=[3, 2, 1], help="radii to compare with")
    parser.add_argument("--min-area", type=int, default=None, help="default: tinct.regions.default_min_area")
    parser.add_argument("--sliver", type=float, default=0.25)
    args = parser.parse_args()

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    radii = parse_radii(args.radii)
    baseline = tuple(args.baseline)
    options = dict(radii=radii, min_area=args.min_area, sliver=args.sliver)
    cache = RenderCache()
    results: dict[str, list[float]] = defaultdict(list)
    chosen: Counter = Counter()
    xdog_available = True
    for names in mosaic_names(args.count, args.grid, args.seed, args.split):
        renders = [cache.get(name, args.size) for name in names]
        line = tile([r["line"] for r in renders], args.grid)
        fills = tile([r["fills"] for r in renders], args.grid)
        color = tile([r["color"] for r in renders], args.grid)
        truth = flat_regions(fills, line, min_area=min_region_area(args.size))
        interior = truth > 0
        results["regions_gt"].append(int(truth.max()))

        seconds, labels = best_time(lambda: trapped_ball(line, **options), args.repeat)
        results["t_line"].append(seconds)
        results["ari_line"].append(adjusted_rand_index(labels, truth, interior))
        results["regions_line"].append(int(labels.max()))
        labels = trapped_ball(line, radii=baseline, min_area=args.min_area, sliver=args.sliver)
        results["ari_line_baseline"].append(adjusted_rand_index(labels, truth, interior))
        chosen[auto_radii(ink_mask(line)) if radii == "auto" else radii] += 1

        for render in renders:
            seconds, labels = best_time(lambda: trapped_ball(render["line"], **options), args.repeat)
            results["t_emoji"].append(seconds)
            if (render["regions"] > 0).any():
                results["ari_emoji"].append(adjusted_rand_index(labels, render["regions"], render["regions"] > 0))

        sketch = xdog_sketch(color) if xdog_available else None
        if sketch is None:
            xdog_available = False
            continue
        seconds, labels = best_time(lambda: trapped_ball(sketch, **options), args.repeat)
        results["t_xdog"].append(seconds)
        results["ari_xdog"].append(adjusted_rand_index(labels, truth, interior))
        results["regions_xdog"].append(int(labels.max()))
        labels = trapped_ball(sketch, radii=baseline, min_area=args.min_area, sliver=args.sliver)
        results["ari_xdog_baseline"].append(adjusted_rand_index(labels, truth, interior))

    side = args.size * args.grid
    min_area = args.min_area if args.min_area is not None else default_min_area(side, side)
    picked = ", ".join(f"{r} x{n}" for r, n in chosen.most_common())
    print(
        f"OpenMoji mosaics: {args.count} x ({args.grid}x{args.grid} tiles of {args.size} px = {side} px), "
        f"{args.split} split, seed {args.seed}"
    )
    print(
        f"radii {args.radii[0] if radii == 'auto' else radii} (mosaics, true line art: {picked}); "
        f"min_area {min_area}; sliver {args.sliver}"
    )
    print(f"times: one core (cv2 and torch 1 thread), per image the best of {args.repeat} runs")
    print(
        f"regions per mosaic: ground truth {np.mean(results['regions_gt']):.1f}, "
        f"true line art {np.mean(results['regions_line']):.1f}"
        + (f", XDoG {np.mean(results['regions_xdog']):.1f}" if results["regions_xdog"] else "")
    )
    print(f"{'measure':<50}{'median':>9}{'mean':>9}{'target':>9}")
    rows = [
        (f"seconds per {side} px mosaic, true line art", "t_line", "<= 0.10"),
        (f"seconds per {side} px mosaic, XDoG", "t_xdog", ""),
        (f"seconds per {args.size} px emoji, true line art", "t_emoji", "<= 0.01"),
        ("ARI mosaic, true line art", "ari_line", ">= 0.86"),
        ("ARI mosaic, XDoG", "ari_xdog", ""),
        (f"ARI mosaic, true line art, radii {baseline}", "ari_line_baseline", ""),
        (f"ARI mosaic, XDoG, radii {baseline}", "ari_xdog_baseline", ""),
        (f"ARI single {args.size} px emoji, true line art", "ari_emoji", ""),
    ]
    for name, key, target in rows:
        values = results[key]
        if values:
            print(f"{name:<50}{np.median(values):>9.4f}{np.mean(values):>9.4f}{target:>9}")
        else:
            print(f"{name:<50}{'skipped':>9}{'':>9}{target:>9}")
    if not xdog_available:
        print("note: the XDoG rows are skipped: tinct.lines.xdog could not be imported")


if __name__ == "__main__":
    main()
