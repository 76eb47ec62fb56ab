"""Record what the shipped models give on fixed inputs (``tests/data/pinned_outputs.json``).

``tests/test_checkpoints.py`` compares every run against this record, so a change of a loader,
request or pipeline step that moves a shipped model's output fails there. Run this only when
the output is meant to change (a retrained model, a new product step), and say why in the commit:

    python tests/scripts/pin_outputs.py            # all shipped models
    python tests/scripts/pin_outputs.py scft       # one
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINNED_PATH = ROOT / "tests" / "data" / "pinned_outputs.json"
PINNED_HINTS = {"version": 1, "points": [{"x": 0.5, "y": 0.3, "color": "#3a7bd5"}],
                "strokes": [{"points": [[0.2, 0.8], [0.4, 0.8]], "color": "#e05a47"}]}
PINNED_SCRIBBLES = [{"points": [[0.30, 0.62], [0.45, 0.62]], "width": 0.01}]  # for models that take scribbles
PINNED_TAGS = ["yellow", "green"]  # for models that take colour tags
PINNED_STYLE = 3  # for models that take a style
STEP = (64, 64)  # the network output is recorded on a grid of every 64th pixel


def pinned_result(name: str):
    """The :class:`tinct.colorizer.Result` a shipped model gives on its fixed input."""
    from tinct import Colorizer

    colorizer = Colorizer.from_pretrained(name)
    if name.startswith("scft"):
        return colorizer.colorize(ROOT / "examples" / "house_sketch.png", reference=ROOT / "examples" / "house_color.png")
    guidance = colorizer.guidance
    regions = ["#f2c641", None, "#6ab04c"] if guidance.regions else None
    scribbles = PINNED_SCRIBBLES if guidance.scribbles else None
    hints = PINNED_HINTS if guidance.points else None
    tags = PINNED_TAGS if guidance.tags else None
    style = PINNED_STYLE if guidance.style_dim else None
    return colorizer.colorize(ROOT / "examples" / "sunflower_sketch.png", hints=hints, regions_colors=regions,
                              scribbles=scribbles, tags=tags, style=style)


def record(name: str) -> dict:
    result = pinned_result(name)
    sampled = result.network[:, :: STEP[0], :: STEP[1]].reshape(3, -1)
    return {"shape": list(result.network.shape), "step": list(STEP),
            "network": [[round(float(v), 6) for v in channel] for channel in sampled],
            "image_sum": round(float(result.image.double().sum()), 3),
            "flat_sum": round(float(result.flat.double().sum()), 3)}


def main(names: list[str]) -> None:
    from tinct.methods import shipped_models

    pinned = json.loads(PINNED_PATH.read_text()) if PINNED_PATH.exists() else {}
    for name in names or sorted(shipped_models()):
        pinned[name] = record(name)
        print(f"pinned {name}: image sum {pinned[name]['image_sum']}, flat sum {pinned[name]['flat_sum']}")
    PINNED_PATH.write_text(json.dumps(pinned, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
