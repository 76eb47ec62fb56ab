"""Does GuidingPainter ask about every drawn area? Segments used, questions asked, areas drawn.

For each test sketch of each source (at ``--size``, through :class:`tinct.colorizer.Colorizer`,
as a user's sketch goes):

- ``segments``: how many of the model's N_c channels hold at least 1 % of the picture's pixels
  (DESIGN.md: the first shipped model used 3 of 30);
- ``model q``: the questions that come from the model's ranking (its segments snapped to the
  sketch's regions); ``all q``: with the regions it lumped in asked about on their own;
- ``areas``: the drawn areas, the sketch's regions that are not background and cover at least
  the questions' minimum share of the picture; ``covered``: the share of sketches where every
  area is asked about on its own or as the largest region of a model question;
- ``purity``: the mean share, over the model questions, of a question's pixels that lie in
  its largest region (1: a question is one area; low: the model lumps areas together).

    python benchmarks/questions.py                                   # the shipped model
    python benchmarks/questions.py --model runs/gp_mixed/model --count 100
"""

from __future__ import annotations

import argparse

import numpy as np


def measure(colorizer, sketch: np.ndarray) -> dict:
    """The figures above for one sketch (float (H, W) in [0, 1], 1 = paper)."""
    prepared = colorizer.prepare(sketch)
    ranks = prepared.guide_ranks
    counts = np.bincount(ranks.ravel(), minlength=prepared.guide.shape[1])
    segments = int((counts >= 0.01 * ranks.size).sum())
    labels = prepared.regions
    area = np.bincount(labels.ravel())
    least = max(1, int(np.ceil(colorizer.min_question * labels.size)))
    drawn = [label for label in range(1, area.size) if area[label] >= least and not prepared.background[label]]
    singles = {int(q[0]) for q in prepared.questions}  # asked on its own or as a question's largest region
    model_questions = len(prepared.questions) - sum(
        1 for q in prepared.questions if len(q) == 1 and any(int(q[0]) in other[1:] for other in prepared.questions))
    purity = [area[q[0]] / area[q].sum() for q in prepared.questions[:model_questions]]
    return {"segments": segments, "model": model_questions, "all": len(prepared.questions), "areas": len(drawn),
            "covered": all(label in singles for label in drawn), "purity": float(np.mean(purity)) if purity else 1.0}


def main() -> None:
    from tinct.colorizer import Colorizer
    from tinct.data.specs import open_dataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="guiding_painter", help="a model that ranks regions (default: shipped)")
    parser.add_argument("--data", default="openmoji,twemoji,iconpark,freehand", help="comma-separated sources")
    parser.add_argument("--count", type=int, default=50, help="test sketches per source (default 50)")
    parser.add_argument("--size", type=int, default=256, help="sketch size in px (default 256)")
    args = parser.parse_args()

    colorizer = Colorizer.from_pretrained(args.model)
    if not colorizer.guidance.regions:
        raise SystemExit(f"{args.model} ranks no regions")
    print(f"{args.model}: medians over {args.count} test sketches per source at {args.size} px "
          f"(covered: share of sketches where every drawn area is asked about)")
    print(f"{'source':<10} {'segments':>8} {'model q':>8} {'all q':>6} {'areas':>6} {'covered':>8} {'purity':>7}")
    for source in args.data.split(","):
        dataset = open_dataset(f"{source}:test", split="test", size=args.size)
        step = max(1, len(dataset) // args.count)
        rows = [measure(colorizer, dataset[i]["sketch"][0].numpy()) for i in range(0, len(dataset), step)][: args.count]
        median = {key: float(np.median([row[key] for row in rows])) for key in ("segments", "model", "all", "areas")}
        covered = np.mean([row["covered"] for row in rows])
        purity = np.mean([row["purity"] for row in rows])
        print(f"{source:<10} {median['segments']:>8.0f} {median['model']:>8.0f} {median['all']:>6.0f} "
              f"{median['areas']:>6.0f} {covered:>8.2f} {purity:>7.2f}")


if __name__ == "__main__":
    main()
