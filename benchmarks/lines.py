"""How well does XDoG of an OpenMoji colour render match the true line art?

For each emoji: sketch = xdog(colour render); predicted ink = sketch < 0.5; true ink =
``line`` render < 0.5 (i.e. < 128 of 255). Reports ink-pixel precision, recall and F1
within a 1 px (Chebyshev) tolerance, micro-averaged over all pixels and as the mean of
per-image values, for the pinned parameters and (``--random-sigma``) for each sigma of
the training augmentation range.

    python benchmarks/lines.py                       # 200 test emojis at 256 px
    python benchmarks/lines.py --split val --count 0 --random-sigma
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from tinct.data.openmoji import SPLITS, RenderCache, list_emojis
from tinct.lines import RASC_SIGMAS, XDoGParams, ink_precision_recall, xdog


def pick(split: str, count: int) -> list[str]:
    """``count`` emojis of ``split`` spread evenly over the sorted names (0 = all)."""
    names = [emoji.name for emoji in list_emojis(split)]
    if count <= 0 or count >= len(names):
        return names
    return [names[i * len(names) // count] for i in range(count)]


def evaluate(color: torch.Tensor, true_ink: np.ndarray, params: XDoGParams, tolerance: int) -> dict[str, float]:
    """color: (N, 3, H, W) in [0, 1]; true_ink: (N, H, W) bool."""
    start = time.perf_counter()
    with torch.no_grad():
        sketch = xdog(color, params)
    seconds = time.perf_counter() - start
    pred_ink = (sketch < 0.5)[:, 0].numpy()
    micro = ink_precision_recall(pred_ink, true_ink, tolerance)
    per_image = np.array([ink_precision_recall(p, t, tolerance) for p, t in zip(pred_ink, true_ink)])
    mean = per_image.mean(axis=0)
    return {
        "micro_P": micro[0], "micro_R": micro[1], "micro_F1": micro[2],
        "mean_P": mean[0], "mean_R": mean[1], "mean_F1": mean[2],
        "min_F1": per_image[:, 2].min(), "ms_per_image": 1000 * seconds / len(color),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="render size in px (default 256)")
    parser.add_argument("--count", type=int, default=200, help="number of emojis, spread over the split (0 = all)")
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--tolerance", type=int, default=1, help="match tolerance in px (default 1)")
    parser.add_argument("--random-sigma", action="store_true", help="also report each sigma of the augmentation range")
    args = parser.parse_args()

    names = pick(args.split, args.count)
    cache = RenderCache()
    renders = [cache.get(name, args.size) for name in names]
    color = torch.from_numpy(np.stack([r["color"] for r in renders])).permute(0, 3, 1, 2).float() / 255.0
    true_ink = np.stack([r["line"] for r in renders]) < 128

    params = XDoGParams()
    print(f"OpenMoji {args.split} split, {len(names)} emojis at {args.size} px, tolerance {args.tolerance} px")
    print(f"pinned {params}")
    rows = [("pinned", params)]
    if args.random_sigma:
        rows += [(f"sigma={sigma}", dataclasses.replace(params, sigma=sigma)) for sigma in RASC_SIGMAS]
    header = f"{'parameters':<12} {'micro P':>8} {'micro R':>8} {'micro F1':>8} {'mean P':>8} {'mean R':>8} {'mean F1':>8} {'min F1':>7} {'ms/img':>7}"
    print(header)
    for label, row_params in rows:
        r = evaluate(color, true_ink, row_params, args.tolerance)
        print(
            f"{label:<12} {r['micro_P']:8.4f} {r['micro_R']:8.4f} {r['micro_F1']:8.4f} "
            f"{r['mean_P']:8.4f} {r['mean_R']:8.4f} {r['mean_F1']:8.4f} {r['min_F1']:7.3f} {r['ms_per_image']:7.2f}"
        )


if __name__ == "__main__":
    main()
