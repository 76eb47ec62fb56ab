"""The shipped checkpoints (``checkpoints/<name>/``) load without unpickling and run."""

import json
import sys
from pathlib import Path

import pytest
import torch

from tinct.image import fit_square, load_sketch
from tinct.methods import load_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("guiding_painter", "point_hints", "scft", "scft_skeleton")
REFERENCE_BASED = {"scft", "scft_skeleton"}
MAX_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def sketch():
    return fit_square(load_sketch(ROOT / "examples" / "sunflower_sketch.png"), 128)[None]  # (1, 1, 128, 128)


CARD_METRIC = {"edge_enhance": "local PSNR", "cwr_concat": "tag acc", "cwr_dual": "tag acc", "rasc": "diversity"}


@pytest.mark.parametrize("name", SHIPPED + tuple(CARD_METRIC))
def test_checkpoint_folder_is_complete_and_small(name):
    folder = ROOT / "checkpoints" / name
    assert {"MODEL_CARD.md", "config.json", "model.safetensors"} <= {p.name for p in folder.iterdir()}
    assert (folder / "model.safetensors").stat().st_size <= MAX_BYTES
    card = (folder / "MODEL_CARD.md").read_text()
    metric = CARD_METRIC.get(name, "SC-PSNR" if name in REFERENCE_BASED else "NRI")
    for needed in ("OpenMoji", "CC BY-SA 4.0", "tinct train", "PSNR", metric):
        assert needed in card, f"{name}/MODEL_CARD.md does not mention {needed!r}"


@pytest.mark.parametrize("name", SHIPPED)
def test_checkpoint_loads_and_colorizes(name, sketch):
    model = load_model(ROOT / "checkpoints" / name)
    assert not model.training
    with torch.no_grad():
        if name in REFERENCE_BASED:
            # the sunflower's regions painted from a red and from a blue reference picture
            solid = lambda rgb: torch.tensor(rgb).view(1, 3, 1, 1).expand(1, 3, 128, 128).clone()  # noqa: E731
            plain, red = model(sketch, solid([0.1, 0.1, 0.9])), model(sketch, solid([0.9, 0.1, 0.1]))
            hinted = (sketch > 0.5).expand(-1, 3, -1, -1)  # everything but the ink
        elif name == "guiding_painter":
            ranked = model.rank_regions(sketch)
            assert ranked.shape == (1, model.config.num_segments, 128, 128)
            assert torch.equal(ranked.sum(dim=1), torch.ones(1, 128, 128))
            plain = model.colorize(sketch)
            red = model.colorize(sketch, torch.tensor([[[0.9, 0.1, 0.1]]]))
            hinted = ranked[:, :1].bool().expand(-1, 3, -1, -1)
        else:
            plain = model(sketch, torch.zeros(1, 3, 128, 128), torch.zeros(1, 1, 128, 128))
            colors, mask = torch.zeros(1, 3, 128, 128), torch.zeros(1, 1, 128, 128)
            colors[:, 0, 60:68, 60:68], mask[:, :, 60:68, 60:68] = 0.9, 1.0
            colors[:, 1:, 60:68, 60:68] = 0.1
            red = model(sketch, colors, mask)
            hinted = torch.zeros(1, 3, 128, 128, dtype=torch.bool)
            hinted[..., 56:72, 56:72] = True
    for image in (plain, red):
        assert image.shape == (1, 3, 128, 128) and torch.isfinite(image).all()
        assert image.min() >= 0 and image.max() <= 1
    # a red hint (or a red reference) makes the hinted area redder: a trained model follows its guidance
    redness = lambda image: (image[:, 0] - image[:, 1:].mean(dim=1))[hinted[:, 0]].mean()  # noqa: E731
    assert redness(red) > redness(plain) + 0.1


def test_shipped_scft_colours_a_full_size_sketch_like_its_reference():
    from tinct import Colorizer

    colorizer = Colorizer.from_pretrained("scft")
    assert colorizer.guidance.kinds == ("reference",) and colorizer.guidance.required == ("reference",)
    sketch = ROOT / "examples" / "house_sketch.png"
    red, blue = torch.zeros(3, 96, 96), torch.zeros(3, 96, 96)
    red[0], blue[2] = 0.9, 0.9
    from_red, from_blue = colorizer.colorize(sketch, reference=red), colorizer.colorize(sketch, reference=blue)
    assert from_red.image.shape == (3, 512, 512)  # the sketch's own size
    paper = ~from_red.ink
    redness = lambda result: (result.flat[0] - result.flat[2])[paper].mean()  # noqa: E731
    assert redness(from_red) > redness(from_blue) + 0.2
    with pytest.raises(ValueError, match="needs a reference"):
        colorizer.colorize(sketch)


def test_shipped_edge_enhancement_changes_the_picture_near_a_scribble_only(tmp_path):
    import cv2
    import numpy as np

    from tinct import Colorizer

    colorizer = Colorizer.from_pretrained("edge_enhance")
    assert colorizer.guidance.scribbles and colorizer.guidance.points
    prepared = colorizer.prepare(ROOT / "examples" / "sunflower_sketch.png")
    hints = {"version": 2, "points": [{"x": 0.5, "y": 0.3, "color": "#3a7bd5"}]}
    scribble = {"points": [[0.30, 0.62], [0.45, 0.62]], "width": 0.01}
    hint_file = tmp_path / "hints.json"  # one scribble, given as a hint file
    hint_file.write_text(json.dumps({**hints, "scribbles": [scribble]}))
    before = colorizer.colorize(prepared, hints=hints)
    after = colorizer.colorize(prepared, hints=hint_file)
    change = (after.network - before.network).abs().sum(0).numpy()  # (H, W), the network's own output
    height, width = change.shape
    line = np.zeros((height, width), np.uint8)
    cv2.line(line, (int(0.30 * width), int(0.62 * height)), (int(0.45 * width), int(0.62 * height)), 1, 5)
    near = cv2.dilate(line, np.ones((29, 29), np.uint8)) > 0  # within 14 px of the scribble (512 px picture)
    far = cv2.dilate(line, np.ones((161, 161), np.uint8)) == 0  # more than 80 px away
    assert change[near].mean() > 5 * change[far].mean() and change[near].mean() > 0.01


@pytest.mark.parametrize("name", ["cwr_concat", "cwr_dual"])
def test_shipped_tag_models_paint_the_colour_they_are_told(name):
    """Issue 15's check: --tags yellow gives a clearly yellower sunflower, --tags blue a bluer one."""
    from tinct import Colorizer

    colorizer = Colorizer.from_pretrained(name)
    assert {"yellow", "blue", "skin_light"} <= set(colorizer.guidance.tags)
    prepared = colorizer.prepare(ROOT / "examples" / "sunflower_sketch.png")
    yellow, blue = (colorizer.colorize(prepared, tags=[tag]) for tag in ("yellow", "blue"))
    drawing = ~yellow.ink & ~yellow.background  # the flower, not its lines or the paper
    yellowness = lambda result: ((result.flat[0] + result.flat[1]) / 2 - result.flat[2])[drawing].mean()  # noqa: E731
    blueness = lambda result: (result.flat[2] - (result.flat[0] + result.flat[1]) / 2)[drawing].mean()  # noqa: E731
    assert yellowness(yellow) > yellowness(blue) + 0.15
    assert blueness(blue) > blueness(yellow) + 0.05
    with pytest.raises(ValueError, match="no tag 'yelow'; closest known: yellow"):
        colorizer.colorize(prepared, tags=["yelow"])


def test_shipped_rasc_repeats_a_style_and_varies_between_styles():
    """Issue 16's check: the same seed gives the same picture, another seed another colouring."""
    from tinct import Colorizer

    colorizer = Colorizer.from_pretrained("rasc")
    assert colorizer.guidance.kinds == ("style",)
    prepared = colorizer.prepare(ROOT / "examples" / "house_sketch.png")
    first, again, other = (colorizer.colorize(prepared, style=seed) for seed in (3, 3, 4))
    assert torch.equal(first.image, again.image)
    paper = ~first.ink
    difference = (first.flat - other.flat).abs().sum(0)[paper].mean()
    assert difference > 0.1  # a visibly different colouring, not noise


# The outputs of the shipped models on fixed inputs (tests/data/pinned_outputs.json, written
# by tests/scripts/pin_outputs.py): the network's output on an 8 x 8 grid of pixels and the
# sums of the final and flat images. A change of any loader, request or pipeline step that
# moves a shipped model's output fails here.
PINNED = json.loads((ROOT / "tests" / "data" / "pinned_outputs.json").read_text())


@pytest.mark.parametrize("name", sorted(PINNED))
def test_shipped_models_give_their_pinned_outputs(name):
    sys.path.insert(0, str(ROOT / "tests" / "scripts"))
    try:
        from pin_outputs import pinned_result
    finally:
        sys.path.pop(0)

    result = pinned_result(name)
    pinned = PINNED[name]
    assert list(result.network.shape) == pinned["shape"]
    step_h, step_w = pinned["step"]
    sampled = result.network[:, ::step_h, ::step_w].reshape(3, -1)
    assert torch.allclose(sampled, torch.tensor(pinned["network"]), atol=1e-4)
    assert float(result.image.double().sum()) == pytest.approx(pinned["image_sum"], abs=0.5)
    assert float(result.flat.double().sum()) == pytest.approx(pinned["flat_sum"], abs=0.5)
