"""Write ``examples/sunflower_hints.json``: a colour for each area GuidingPainter asks about.

Run it again whenever the shipped ``guiding_painter`` changes (its questions may change):

    python examples/make_sunflower_hints.py

Each question (:meth:`tinct.colorizer.Colorizer.questions`) gets the colour of the
three-colour palette nearest to the mean colour of ``sunflower_color.png`` over the
question's paper pixels; a question whose mean is near white (the paper) gets none, and
trailing empty entries are dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
PALETTE = ("#f7d038", "#e8a01c", "#5a9e32")  # petals, centre, stem and leaves


def _rgb(code: str) -> np.ndarray:
    return np.array([int(code[i : i + 2], 16) for i in (1, 3, 5)], np.float64)


def question_colors(model: str = "guiding_painter") -> list[str | None]:
    from tinct import Colorizer

    colorizer = Colorizer.from_pretrained(model)
    prepared = colorizer.prepare(HERE / "sunflower_sketch.png")
    truth = np.asarray(Image.open(HERE / "sunflower_color.png").convert("RGB"), np.float64)
    colors: list[str | None] = []
    for index in range(len(prepared.questions)):
        inside = prepared.question_mask(index) & ~prepared.ink
        mean = truth[inside].mean(axis=0) if inside.any() else np.full(3, 255.0)
        if (mean > 230).all():
            colors.append(None)
            continue
        colors.append(min(PALETTE, key=lambda code: float(((_rgb(code) - mean) ** 2).sum())))
    while colors and colors[-1] is None:
        colors.pop()
    return colors


if __name__ == "__main__":
    colors = question_colors()
    (HERE / "sunflower_hints.json").write_text(json.dumps({"version": 2, "regions": colors}, indent=1))
    print(f"wrote {HERE / 'sunflower_hints.json'}: {len(colors)} region colours")
