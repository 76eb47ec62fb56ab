from pathlib import Path

import numpy as np
import pytest
import torch
from colorize_helpers import MeanReference, drawn_sketch, tiny_guiding_painter, tiny_point_hints
from PIL import Image

import tinct
from tinct.colorizer import Colorizer
from tinct.hintfile import Hints, Point, Stroke
from tinct.image import ImageError, load_image

ROOT = Path(__file__).resolve().parents[1]
from tinct.methods import find_model
from tinct.ora import read_ora

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints" / "guiding_painter"
RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def guiding_painter_dir(tmp_path_factory):
    return tiny_guiding_painter().save_pretrained(tmp_path_factory.mktemp("models") / "guiding_painter")


@pytest.fixture(scope="module")
def point_hints_dir(tmp_path_factory):
    return tiny_point_hints().save_pretrained(tmp_path_factory.mktemp("models") / "point_hints")


@pytest.fixture(scope="module")
def colorizer(guiding_painter_dir):
    return Colorizer.from_pretrained(guiding_painter_dir, size=32)


def _point(where, height, width, color, size=0.01):
    row, col = where
    return Point(x=(col + 0.5) / width, y=(row + 0.5) / height, color=color, size=size)


def test_2048_px_sketch_keeps_its_lines_exactly(tmp_path, colorizer):
    sketch, points = drawn_sketch(1536, 2048, thickness=5)  # anti-aliased: grey ink at the edges
    Image.fromarray(sketch).save(tmp_path / "big.png")
    result = colorizer.colorize(tmp_path / "big.png")
    assert result.image.shape == (3, 1536, 2048) and result.regions.shape == (1536, 2048)
    out = result.save(tmp_path / "big_out.png")
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (1536, 2048, 3)
    ink = sketch < 128
    assert ink.sum() > 30_000 and ((sketch > 0) & ink).sum() > 1000  # grey anti-aliased ink too
    assert np.array_equal(pixels[ink], np.repeat(sketch[ink][:, None], 3, axis=1))  # the input's lines
    # paper inside one region is one flat colour (multiplied by white paper = itself)
    circle = (result.regions == result.regions[points["circle"]]) & (sketch == 255)
    assert len(np.unique(pixels[circle], axis=0)) == 1
    assert result.regions[points["circle"]] != result.regions[points["background"]]


def test_flat_colours_are_the_mean_network_colour_of_each_regions_paper(colorizer):
    sketch, _ = drawn_sketch(48, 80)
    result = colorizer.colorize(torch.from_numpy(sketch).float()[None] / 255)
    assert result.image.shape == result.flat.shape == result.network.shape == (3, 48, 80)
    paper = sketch >= 128
    background = colorizer.prepare(sketch).background
    assert background.sum() >= 1 and not background.all()
    for label in np.unique(result.regions):
        inside = result.regions == label
        expected = result.network[:, torch.from_numpy(inside & paper)].mean(dim=1)
        if background[label]:  # the paper around the drawing stays paper without a hint
            expected = torch.ones(3)
        assert torch.allclose(result.flat[:, torch.from_numpy(inside)], expected[:, None], atol=1e-5)
    assert result.background.any() and np.array_equal(result.background, background[result.regions])
    # final = flat x luminance off the lines
    luminance = torch.from_numpy(sketch).float() / 255
    off_ink = torch.from_numpy(paper)
    assert torch.allclose(result.image[:, off_ink], (result.flat * luminance)[:, off_ink], atol=1e-6)
    # GuidingPainter's ranking comes back at full size
    assert result.guide_regions.shape == (48, 80)
    assert -1 <= result.guide_regions.min() and result.guide_regions.max() < result.questions


def test_point_and_stroke_hints_give_their_region_exactly_that_colour(colorizer):
    sketch, points = drawn_sketch(60, 90)
    hints = Hints(points=(_point(points["circle"], 60, 90, RED),),
                  strokes=(Stroke(points=((0.75, 0.45), (0.8, 0.55)), color=BLUE, width=0.01),))
    result = colorizer.colorize(sketch, hints=hints)
    circle = result.regions == result.regions[points["circle"]]
    rectangle = result.regions == result.regions[points["rectangle"]]
    assert torch.equal(result.flat[:, torch.from_numpy(circle)].unique(dim=1), torch.tensor([RED]).T)
    assert torch.equal(result.flat[:, torch.from_numpy(rectangle)].unique(dim=1), torch.tensor([BLUE]).T)
    background = result.flat[:, points["background"][0], points["background"][1]]
    assert not torch.equal(background, torch.tensor(RED)) and not torch.equal(background, torch.tensor(BLUE))
    free = colorizer.colorize(sketch, hints=hints, exact_hints=False)
    assert not torch.equal(free.flat[:, points["circle"][0], points["circle"][1]], torch.tensor(RED))


def test_guiding_painter_hints_fill_whole_questions(colorizer):
    sketch, points = drawn_sketch(64, 64)
    prepared = colorizer.prepare(sketch)
    assert len(prepared.questions) >= 1
    network = prepared.network_regions  # (32, 32) region labels at the network size
    point = Point(x=0.5, y=0.5, color=BLUE, size=0.01)  # the point's region: the circle's middle
    in_under = network == network[16, 16]
    given = next(index for index, question in enumerate(prepared.questions) if network[16, 16] not in question)
    regions = [None] * given + [RED]
    colors, mask = colorizer.hint_tensors(prepared, Hints(points=(point,), regions=tuple(regions)))
    assert colors.shape == (1, 3, 32, 32) and mask.shape == (1, 1, 32, 32)
    in_given = np.isin(network, prepared.questions[given])
    assert np.array_equal(mask[0, 0].bool().numpy(), in_given | in_under)
    assert torch.equal(colors[0][:, torch.from_numpy(in_given & ~in_under)].unique(dim=1), torch.tensor([RED]).T)
    assert torch.equal(colors[0][:, torch.from_numpy(in_under)].unique(dim=1), torch.tensor([BLUE]).T)
    # colours past the questions go nowhere, with a warning naming them
    extra = colorizer.colorize(prepared, regions_colors=[RED] * (len(prepared.questions) + 2))
    assert len(extra.warnings) == 1 and f"asks about {len(prepared.questions)} regions" in extra.warnings[0]
    assert f"{len(prepared.questions) + 1} (#ff0000)" in extra.warnings[0]
    assert not colorizer.colorize(prepared, regions_colors=[RED]).warnings


def test_questions_snap_the_ranking_to_regions_then_ask_about_lumped_regions(colorizer):
    regions = np.array([[1, 1, 2, 2, 3, 3],
                        [1, 1, 2, 2, 3, 3],
                        [4, 4, 4, 5, 5, 5]], np.int32)
    ranks = np.array([[0, 0, 0, 0, 1, 1],
                      [0, 1, 0, 0, 1, 1],
                      [1, 1, 1, 2, 2, 2]])
    background = np.zeros(6, bool)
    background[5] = True
    questions = colorizer.questions(regions, ranks, background)
    # rank 0 holds regions 1 (3 of its 4 pixels) and 2; rank 1: 3 (4 px) and 4 (3 px); rank 2:
    # 5, the background. Then the lumped ones on their own, largest first; the background last.
    assert [q.tolist() for q in questions] == [[1, 2], [3, 4], [1], [2], [3], [4], [5]]
    background[4] = True  # paper the model lumped in with a drawn area is left out of its question
    assert [q.tolist() for q in colorizer.questions(regions, ranks, background)] == [[1, 2], [3], [1], [2], [5]]


def test_region_colours_change_the_network_output(colorizer):
    sketch, _ = drawn_sketch(40, 40)
    prepared = colorizer.prepare(sketch)
    red = colorizer.colorize(prepared, regions_colors=["#ff0000", "#ff0000"])
    blue = colorizer.colorize(prepared, regions_colors=["#0000ff", "#0000ff"])
    assert (red.network - blue.network).abs().max() > 1e-3
    # a prepared sketch gives exactly what the sketch itself gives; a seed changes nothing here
    again = colorizer.colorize(sketch, regions_colors=["#ff0000", "#ff0000"], seed=3)
    assert torch.equal(again.image, red.image) and again.hints.regions == (RED, RED)


def test_point_hint_model_gets_patches_in_the_padded_square(point_hints_dir):
    colorizer = Colorizer.from_pretrained(point_hints_dir, size=32)
    assert (colorizer.method, colorizer.guidance.kinds) == ("point_hints", ("points",))
    sketch, _ = drawn_sketch(40, 80)  # 2:1 -> rows 8..23 of the 32 px square
    prepared = colorizer.prepare(sketch)
    assert prepared.box == (8, 0, 16, 32) and prepared.guide is None
    colors, mask = colorizer.hint_tensors(prepared, Hints(points=(Point(x=0.5, y=0.5, color=RED, size=0.1),)))
    assert mask.sum() == 9 and mask[0, 0, 15:18, 15:18].all()  # 0.1 x 32 px -> 3 px around (16, 16)
    assert torch.equal(colors[0, :, 16, 16], torch.tensor(RED))
    result = colorizer.colorize(prepared)
    assert result.image.shape == (3, 40, 80) and result.guide_regions is None
    with pytest.raises(ValueError, match="it ranks no regions"):
        colorizer.colorize(prepared, regions_colors=["#ff0000"])


def test_reference_needs_a_reference_model(colorizer):
    sketch, _ = drawn_sketch(32, 32)
    assert not colorizer.guidance.reference
    with pytest.raises(ValueError, match="model guiding_painter takes no reference image; it takes: colours for "
                                         "ranked regions, points, strokes"):
        colorizer.colorize(sketch, reference=np.zeros((32, 32, 3), np.uint8))


def test_transparent_background_and_layers(tmp_path, colorizer):
    sketch, points = drawn_sketch(50, 70)
    result = colorizer.colorize(sketch)
    assert result.background[points["background"]] and not result.background[points["circle"]]
    rgba = np.asarray(Image.open(result.save(tmp_path / "t.png", transparent=True)))
    assert rgba.shape == (50, 70, 4)
    ink = sketch < 128
    assert rgba[points["background"]][3] == 0 and rgba[points["circle"]][3] == 255
    assert (rgba[ink][:, 3] == 255).all() and np.array_equal(rgba[ink][:, 0], sketch[ink])
    opaque = np.asarray(Image.open(result.save(tmp_path / "o.png")))
    assert opaque.shape == (50, 70, 3)

    ora = read_ora(result.save(tmp_path / "t.ora"))
    assert [layer.name for layer in ora.layers] == ["lines", "flat colours", "colorized"]
    lines, flat, final = (layer.pixels for layer in ora.layers)
    assert all(layer.shape == (50, 70, 4) for layer in (lines, flat, final))
    ink_rgba = np.stack([sketch[ink]] * 3 + [np.full(ink.sum(), 255)], axis=1)
    assert np.array_equal(lines[ink], ink_rgba)  # the ink: opaque, the sketch's own pixels
    assert (lines[~ink, :3] == 0).all()  # lighter line pixels: black, alpha = darkness
    assert np.abs(lines[~ink, 3].astype(int) - (255 - sketch[~ink].astype(int))).max() <= 1
    assert len(np.unique(flat[result.regions == result.regions[points["circle"]]], axis=0)) == 1
    assert np.array_equal(final[..., :3], opaque) and np.array_equal(ora.merged, final)
    assert not ora.layers[2].visible
    with pytest.raises(ValueError, match=r"needs a \.png, \.ora or \.psd file"):
        result.save(tmp_path / "t.jpg", transparent=True)


def test_thin_lines_stay_visible_to_the_network(colorizer):
    sketch, _ = drawn_sketch(512, 512, thickness=2)
    thick = colorizer.prepare(sketch).network_sketch
    thin = Colorizer(colorizer.model, size=32, min_stroke=0.0).prepare(sketch).network_sketch
    assert thick.shape == thin.shape == (1, 1, 32, 32)
    assert thick.min() < 0.2 < thin.min()  # area-downscaled 16x, a 2 px line is a faint grey


def test_large_sketches_get_their_regions_on_a_smaller_copy(colorizer):
    sketch, points = drawn_sketch(200, 300)
    small = Colorizer(colorizer.model, size=32, region_max_side=100)
    result = small.colorize(sketch)
    assert result.regions.shape == (200, 300)
    labels = {int(result.regions[p]) for p in points.values()}
    assert len(labels) == 3  # circle, rectangle and background stay apart


def test_models_by_name_and_bad_models(tmp_path, monkeypatch, guiding_painter_dir):
    shipped = tmp_path / "shipped"
    tiny_guiding_painter().save_pretrained(shipped / "tiny")
    monkeypatch.setenv("TINCT_CHECKPOINTS", str(shipped))
    assert find_model("tiny") == shipped / "tiny"
    assert tinct.Colorizer.from_pretrained("tiny", size=32).method == "guiding_painter"
    with pytest.raises(FileNotFoundError, match=r"no model named 'nope'.*shipped models: .*\btiny\b"):
        find_model("nope")
    with pytest.raises(FileNotFoundError, match="no model folder"):
        find_model(tmp_path / "missing" / "model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no config.json"):
        Colorizer.from_pretrained(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((Path(guiding_painter_dir) / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot load the guiding_painter checkpoint"):
        Colorizer.from_pretrained(broken)
    (broken / "config.json").write_text('{"method": "rasc9"}')
    with pytest.raises(ValueError, match="unknown method 'rasc9'"):
        Colorizer.from_pretrained(broken)


def test_bad_sketches_are_named(tmp_path, colorizer):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        colorizer.colorize(tmp_path / "missing.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ImageError, match="corrupt.png"):
        colorizer.colorize(tmp_path / "corrupt.png")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        colorizer.colorize(torch.full((1, 8, 8), 2.0))
    with pytest.raises(ValueError, match=r"\(1\|3, H, W\)"):
        colorizer.colorize(torch.ones(2, 8, 8))
    with pytest.raises(TypeError, match="hints must be"):
        colorizer.colorize(torch.ones(1, 8, 8), hints=42)


@pytest.mark.skipif(not (SHIPPED / "model.safetensors").is_file(),
                    reason="no shipped model: checkpoints/guiding_painter is not trained/committed yet")
def test_shipped_model_colorizes_the_example(tmp_path):
    colorizer = Colorizer.from_pretrained("guiding_painter")
    example = REPO / "examples" / "sunflower_sketch.png"
    result = colorizer.colorize(example, regions_colors=["#f2c641"])
    original = load_image(example)
    assert result.image.shape == original.shape
    ink = torch.from_numpy(result.ink)
    assert torch.equal(result.image[:, ink], original[:, ink])
    assert len(np.unique(result.flat.reshape(3, -1).numpy(), axis=1).T) > 1  # not one colour everywhere




def test_reference_models_get_the_reference_fitted_to_the_network_size():
    colorizer = Colorizer(MeanReference((1, 3, 32, 32)), size=32)
    assert colorizer.guidance.kinds == ("reference",)
    sketch, points = drawn_sketch(40, 60)
    reference = torch.zeros(3, 50, 50)
    reference[0] = 0.8  # a plain red-ish picture
    result = colorizer.colorize(sketch, reference=reference)
    assert torch.allclose(result.flat[:, points["circle"][0], points["circle"][1]], torch.tensor([0.8, 0.0, 0.0]))
    with pytest.raises(ValueError, match="needs a reference image"):
        colorizer.colorize(sketch)
    with pytest.raises(ValueError, match="model mean_reference takes no region colours .*; it takes: a reference"):
        colorizer.colorize(sketch, reference=reference, regions_colors=["#ffffff"])


def test_a_question_colour_is_exact_in_its_regions(colorizer):
    sketch, _ = drawn_sketch(64, 64)
    prepared = colorizer.prepare(sketch)
    labels, question = prepared.regions, prepared.questions[0]
    result = colorizer.colorize(prepared, regions_colors=[RED])
    for label in np.unique(labels):
        colour = result.flat[:, torch.from_numpy(labels == label)].unique(dim=1)
        assert torch.equal(colour, torch.tensor([RED]).T) == (label in question)
    free = colorizer.colorize(prepared, regions_colors=[RED], exact_hints=False)
    assert not torch.equal(free.flat, result.flat)

@pytest.mark.parametrize(("full", "small"), [((300, 517), (70, 128)), ((60, 50), (128, 107)), ((64, 64), (64, 64))])
def test_region_mean_operator_equals_scaling_then_averaging(full, small):
    """The fast path of hint updates: one sparse product gives the region means of the
    network output scaled to full size (growing, shrinking, the same size)."""
    from tinct.colorizer import region_mean_operator
    from tinct.image import resize

    rng = np.random.default_rng(0)
    height, width = full
    labels = rng.integers(1, 9, size=(height // 6 + 1, width // 6 + 1)).repeat(6, 0).repeat(6, 1)[:height, :width]
    labels[:3] = 9  # a region with no counted pixel gets a zero row
    counted = (rng.random(full) > 0.2) & (labels != 9)
    x = torch.rand(3, *small)
    fast = region_mean_operator(labels, counted, small) @ x.reshape(3, -1).double().numpy().T
    scaled = x if tuple(small) == tuple(full) else resize(x, full)
    pixels = scaled.permute(1, 2, 0).reshape(-1, 3).double().numpy()
    flat, keep = labels.ravel(), counted.ravel()
    area = np.bincount(flat[keep], minlength=10)
    slow = np.stack([np.bincount(flat[keep], weights=pixels[keep, c], minlength=10) for c in range(3)], axis=1)
    slow = slow / np.maximum(area, 1)[:, None]
    assert fast.shape == (10, 3) and np.abs(fast - slow).max() < 1e-6
    assert np.abs(fast[9]).max() == 0 and np.abs(fast[1:9] - 0.5).max() < 0.5


def test_region_colours_are_the_means_of_the_scaled_network_output():
    """The product's region colours (one sparse product per update) are the means, over each
    region's paper pixels, of the network output scaled to the sketch's size (Result.network)."""
    colorizer = Colorizer.from_pretrained("point_hints")
    prepared = colorizer.prepare(ROOT / "examples" / "sunflower_sketch.png")
    result = colorizer.colorize(prepared, hints={"version": 2, "points": []}, exact_hints=False)
    assert prepared.means_operator is not None and result.network.shape == (3, 512, 512)
    labels, paper = result.regions, ~result.ink
    kept = ~result.background & paper  # regions the product keeps the network's colour for
    for label in np.unique(labels[kept])[:20]:
        inside = (labels == label) & paper
        expected = result.network[:, torch.from_numpy(inside)].double().mean(dim=1)
        assert torch.allclose(result.flat[:, torch.from_numpy(inside)][:, 0].double(), expected, atol=1e-5)
