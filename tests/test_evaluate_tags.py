"""The tags protocol (CWR): tag accuracy, closed and gapped line art, the table and samples."""

import math

import torch

from tinct.evaluate import EvalConfig, evaluate, markdown_table, write_report
from tinct.evaluate.tags import SAMPLE_LABELS, tags_picture, with_gaps
from tinct.methods.base import Guidance, Inputs, Method
from tinct.methods.cwr import CWR, Config
from tinct.metrics.tags import drawing_pixels, tag_accuracy, tag_color


def test_tag_colour_names():
    assert tag_color("red") == "red" and tag_color("hair_brown") == "brown" and tag_color("skin_yellow") == "yellow"
    assert tag_color("skin_medium_dark") is None


def test_tag_accuracy_counts_the_given_colours_found_on_the_drawing():
    sketch = torch.ones(1, 1, 32, 32)
    sketch[..., 4, 4:28] = sketch[..., 27, 4:28] = sketch[..., 4:28, 4] = sketch[..., 4:28, 27] = 0.0  # a square
    image = torch.ones(1, 3, 32, 32)  # white paper around it
    image[:, :, 5:27, 5:16] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]  # red left half of the square
    image[:, :, 5:27, 16:27] = torch.tensor([0.1, 0.2, 0.9])[:, None, None]  # blue right half
    drawing = drawing_pixels(sketch)
    assert drawing[0, 15, 15] and not drawing[0, 1, 1] and not drawing[0, 4, 10]  # inside; not paper, not ink
    vocabulary = ("red", "green", "blue", "white", "skin_light")
    given = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0]])  # red found, green not, the skin tone not counted
    assert tag_accuracy(image, given, vocabulary, drawing).item() == 0.5
    assert tag_accuracy(image, torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0]]), vocabulary, drawing).item() == 0.5
    assert math.isnan(tag_accuracy(image, torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]]), vocabulary, drawing).item())


def test_gaps_open_the_lines():
    sketch = torch.ones(2, 1, 48, 48)
    sketch[..., 10:38, 20:23] = 0.0
    opened = with_gaps(sketch, torch.Generator().manual_seed(0))
    assert opened.shape == sketch.shape and (opened >= sketch).all() and (opened > sketch).any()


class PaintsItsTags(Method):
    """Paints the whole picture in the colour of its first tag (grey without tags)."""

    name = "paints_its_tags"
    guidance = Guidance(tags=("red", "blue", "yellow", "green"))
    protocol = "tags"
    trainable = False

    def paint(self, inputs: Inputs) -> torch.Tensor:
        from tinct.data.tags import COLOR_RGB

        batch, _, height, width = inputs.sketch.shape
        out = torch.full((batch, 3, height, width), 0.5)
        for row, tags in enumerate(inputs.tags):
            chosen = torch.nonzero(tags > 0.5).flatten().tolist()
            if chosen:
                out[row] = (torch.tensor(COLOR_RGB[self.guidance.tags[chosen[0]]]) / 255.0)[:, None, None]
        return out


def test_tags_protocol_measures_tag_accuracy_with_and_without_tags(tmp_path):
    config = EvalConfig(size=48, limit=6, batch_size=3, samples=3)
    result = evaluate(PaintsItsTags(), config, progress=False)
    assert result["protocol"] == "tags" and result["images"] == 6 and result["lines"] == "closed"
    truth, none = (result["by_tags"][s]["network"]["tag_accuracy"] for s in ("truth", "none"))
    assert none["mean"] == 0.0  # grey finds none of the truth's colours
    assert truth["n"] > 0 and truth["mean"] > 0.3  # its first tag is everywhere
    assert result["samples"].shape == (3, len(SAMPLE_LABELS), 3, 48, 48)
    table = markdown_table([result])
    assert "| paints_its_tags | closed | truth | network |" in table and "tag acc↑" in table
    out = write_report(result, tmp_path / "report")
    assert (out / "samples.png").exists() and "tag acc" in (out / "results.md").read_text()


def test_tags_protocol_runs_a_cwr_model_on_gapped_lines(monkeypatch):
    import tinct.metrics.bleeding
    from tinct.evaluate import load_dataset
    from tinct.regions import trapped_ball

    measured_in = []  # the region maps the spread (bleeding) is measured in
    spread = tinct.metrics.bleeding.region_spread
    monkeypatch.setattr(tinct.metrics.bleeding, "region_spread",
                        lambda image, regions: measured_in.append(regions) or spread(image, regions))
    torch.manual_seed(0)
    model = CWR(Config(base_channels=8, depth=3, disc_channels=8, disc_layers=3, tag_grid=4, fusion="concat",
                       tags=("red", "blue", "yellow", "white"))).eval()
    closed = evaluate(model, EvalConfig(size=32, limit=2, batch_size=2, samples=1), progress=False)
    result = evaluate(model, EvalConfig(size=32, limit=2, batch_size=2, samples=1, gaps=True), progress=False)
    assert result["model"] == "cwr+concat" and result["lines"] == "gapped"
    sketch_closed, sketch_gapped = closed["samples"][0, 0], result["samples"][0, 0]
    assert (sketch_gapped >= sketch_closed).all() and (sketch_gapped > sketch_closed).any()  # ink erased, none added
    for setting in ("truth", "none"):
        for view in ("network", "product"):
            entry = result["by_tags"][setting][view]
            assert math.isfinite(entry["psnr"]["mean"]) and -1.0 <= entry["ssim"]["mean"] <= 1.0
    # on gapped lines, bleeding is measured in the closed sketch's regions (a gap does not merge them)
    closed_sketches = torch.stack([load_dataset("openmoji", 32, 2)[i]["sketch"] for i in range(2)])
    expected = torch.from_numpy(trapped_ball(closed_sketches.numpy(), assign_lines=False).astype("int64"))
    assert len(measured_in) == 8 and all(torch.equal(regions, expected) for regions in measured_in[4:])


def test_tags_picture_lists_names_with_swatches():
    picture = tags_picture(["red", "hair_blue"], 64)
    assert picture.shape == (3, 64, 64) and picture.min() < 0.5
    red_pixels = (picture[0] > 0.7) & (picture[1] < 0.35) & (picture[2] < 0.35)
    assert red_pixels.any()  # the red swatch
