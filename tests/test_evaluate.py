import json
import logging

import pytest
import torch
from PIL import Image

from tinct.baselines import FlatFill, OracleFill, ReferenceInPlace, fill_regions
from tinct.cli import main
from tinct.data.hints import largest_regions, random_points
from tinct.evaluate import EvalConfig, evaluate, markdown_table, sample_picture, write_report
from tinct.evaluate.hints import SAMPLE_LABELS, product_output
from tinct.methods import load_model
from tinct.methods.base import Guidance, Inputs, Method


def test_fill_regions_bucket_fill():
    regions = torch.tensor([[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 3, 3]]])
    colors = torch.zeros(1, 3, 3, 4)
    mask = torch.zeros(1, 1, 3, 4)
    colors[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    colors[0, :, 1, 1] = torch.tensor([0.0, 0.0, 1.0])
    mask[0, 0, 0, 0] = mask[0, 0, 1, 1] = 1
    flat = fill_regions(colors, mask, regions)
    assert torch.allclose(flat[0, :, 0, 1], torch.tensor([0.5, 0.0, 0.5]))  # mean of the two hints in region 1
    assert torch.allclose(flat[0, :, 0, 3], torch.ones(3))  # unhinted region 2 stays white
    assert torch.allclose(flat[0, :, 2, 0], torch.ones(3))


def test_reference_in_place_fills_each_region_with_the_reference_there():
    sketch = torch.ones(1, 1, 16, 16)
    sketch[..., :, 7:9] = 0.0  # a vertical line: left and right regions
    reference = torch.zeros(1, 3, 32, 32)  # another size: resized to the sketch
    reference[:, 0, :, :16] = 1.0  # left red
    reference[:, 2, :, 16:] = 1.0  # right blue
    reference[:, 1, :16, :16] = 1.0  # the top half of the left side also green: the left mean is (1, 1/2, 0)
    out = ReferenceInPlace().paint(Inputs(sketch, reference=reference))
    assert out.shape == (1, 3, 16, 16)
    assert torch.allclose(out[0, :, 10, 2], torch.tensor([1.0, 0.5, 0.0]), atol=0.05)
    assert torch.allclose(out[0, :, 3, 13], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)
    assert (out[..., 7:9] == 0).all()  # the lines stay ink
    assert isinstance(load_model("baseline:reference-in-place"), ReferenceInPlace)


def test_largest_regions_policy_orders_by_area():
    target = torch.rand(1, 3, 4, 4)
    regions = torch.tensor([[[1, 1, 1, 0], [1, 1, 1, 0], [2, 2, 3, 0], [2, 2, 3, 0]]])
    hints = largest_regions(target, regions, max_hints=5)
    _, mask1 = hints(1)
    assert mask1[0, 0].bool().equal(regions[0] == 1)
    _, mask2 = hints(2)
    assert mask2[0, 0].bool().equal((regions[0] == 1) | (regions[0] == 2))
    colors, mask5 = hints(5)  # only three regions exist: the rest is padding
    assert mask5[0, 0].bool().equal(regions[0] > 0)
    assert torch.allclose(colors[0, :, 3, 2], target[0, :, 2:4, 2].mean(1))
    with pytest.raises(ValueError):
        hints(6)


def test_random_points_are_nested():
    target = torch.rand(2, 3, 16, 16)
    hints = random_points(target, max_hints=6, generator=torch.Generator().manual_seed(1))
    _, three = hints(3)
    _, six = hints(6)
    assert (six >= three).all() and three.sum() > 0 and hints(0)[1].sum() == 0


def test_load_model_errors(tmp_path):
    assert isinstance(load_model("baseline:flat-fill"), FlatFill)
    assert isinstance(load_model("baseline:oracle-fill"), OracleFill)
    with pytest.raises(ValueError, match="unknown baseline 'nope'"):
        load_model("baseline:nope")
    with pytest.raises(FileNotFoundError, match="no model folder"):
        load_model(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"method": "mystery"}))
    with pytest.raises(ValueError, match="unknown method 'mystery'"):
        load_model(str(tmp_path))


def test_evaluate_oracle_improves_with_hints(tmp_path):
    config = EvalConfig(size=48, hint_counts=(0, 3, 10), max_hints=10, benchmark=18.0, limit=6, batch_size=3,
                        samples=4, weights=str(tmp_path / "no-weights"))
    result = evaluate(OracleFill(), config, progress=False)
    assert result["images"] == 6
    psnr = [result["by_hints"][k]["psnr"]["mean"] for k in ("0", "3", "10")]
    assert psnr[0] < psnr[1] <= psnr[2]  # true colours in more regions can only help
    assert 0 <= result["nri"]["mean"] <= 11
    assert result["by_hints"]["10"]["fid"]["value"] is None and "not found" in result["by_hints"]["10"]["fid"]["reason"]
    assert result["samples"].shape == (4, 5, 3, 48, 48)  # sketch | hints | network | product | ground truth
    out = write_report(result, tmp_path / "report")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["by_hints"]["3"]["psnr"]["n"] == 6 and metrics["product"]["by_hints"]["3"]["psnr"]["n"] == 6
    assert metrics["warnings"] == [] and "samples" not in metrics and "sample_labels" not in metrics
    table = (out / "results.md").read_text()
    assert "| baseline:oracle-fill (network) |" in table and "| baseline:oracle-fill (product) |" in table
    assert "FID unavailable" in table and "Warning" not in table
    # labelled columns over the samples, each 48 px image enlarged 6x (nearest) to 288 px
    with Image.open(out / "samples.png") as picture:
        width, height = picture.size
        header = torch.tensor(list(picture.crop((0, 0, width, height - 4 * 288)).convert("L").getdata()))
    assert width == 5 * 288 and 20 <= height - 4 * 288 <= 60
    assert (header < 128).any() and (header > 250).float().mean() > 0.8  # dark text on a white strip


class Ramp(Method):
    """A hints model whose output is not flat: a left-to-right grey ramp, each image's mean hint
    colour blended in everywhere once there are hints (a hint that leaks over everything)."""

    name = "ramp"
    guidance = Guidance(points=True)
    protocol = "hints"

    def hint_policy(self, batch, prepared, *, max_hints, generator=None):
        return random_points(batch["color"], max_hints=max_hints, generator=generator)

    def paint(self, inputs):
        colors, mask = inputs.hints_or_none()
        width = inputs.sketch.shape[-1]
        ramp = torch.linspace(0.2, 1.0, width).expand_as(inputs.sketch).expand(-1, 3, -1, -1)
        count = mask.sum((1, 2, 3))[:, None, None, None]
        mean = colors.sum((2, 3), keepdim=True) / count.clamp_min(1)
        return torch.where(count > 0, 0.5 * ramp + 0.5 * mean, ramp) * inputs.sketch


def test_product_rows_and_locality(tmp_path):
    config = EvalConfig(size=48, hint_counts=(0, 3), max_hints=4, limit=4, batch_size=2, samples=2,
                        weights=str(tmp_path / "no-weights"))
    ramp = evaluate(Ramp(), config, progress=False)
    network, product = ramp["by_hints"]["3"], ramp["product"]["by_hints"]["3"]
    assert network["psnr"]["mean"] != product["psnr"]["mean"] and ramp["nri"]["mean"] >= 0
    assert network["bleeding"]["mean"] > 2.0 > product["bleeding"]["mean"]  # a ramp is spread; the product flat
    assert ramp["product"]["nri"]["benchmark_psnr"] == config.benchmark
    assert ramp["locality"]["network"]["share"]["mean"] > 0.9  # the hint moved everything
    # flat-fill paints the hinted region and nothing else: network and product
    flat = evaluate(FlatFill(), config, progress=False)
    for view in ("network", "product"):
        locality = flat["locality"][view]
        assert locality["share"]["mean"] == 0.0 and locality["outside"]["mean"] == 0.0
        assert locality["inside"]["mean"] > 30 and locality["share"]["n"] == 4
    table = markdown_table([ramp, flat])
    assert "| locality↓ | ΔE in / out |" in table and "more than 3 px outside" in table
    rows = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("| ")}
    assert set(rows) >= {"| ramp (network)", "| ramp (product)", "| baseline:flat-fill (network)"}
    assert rows["| baseline:flat-fill (product)"].startswith("| baseline:flat-fill (product) |")
    assert f"| 0.000 | {locality['inside']['mean']:.1f} / 0.0 |" in rows["| baseline:flat-fill (product)"]
    # with no hints the ramp tints the background; the product keeps it paper
    assert ramp["background"]["mean"] > 10 and ramp["background"]["n"] == 4
    assert ramp["product"]["background"]["mean"] < 3  # only the lines' anti-aliased rims are not white
    assert "| background ΔE↓ (0) |" in table and "≤ 3 looks like paper" in table


def test_product_keeps_unhinted_background_regions_paper():
    sketch = torch.ones(1, 1, 4, 6)
    sketch[..., 2] = 0.0
    regions = torch.tensor([[[1, 1, 1, 2, 2, 2]] * 4])
    background = regions == 2
    network = torch.full((1, 3, 4, 6), 0.3)
    out = product_output(network, sketch, regions, background=background)
    assert torch.equal(out[0, :, :, 4:], torch.ones(3, 4, 2)) and torch.allclose(out[0, :, :, :2], torch.tensor(0.3))
    hint = torch.zeros(1, 1, 4, 6)
    hint[..., 0, 5] = 1.0  # one hint pixel in the background region: the model's colour stays
    out = product_output(network, sketch, regions, background=background, hint_mask=hint)
    assert torch.allclose(out[0, :, :, 4:], torch.tensor(0.3))


def test_product_keeps_the_hint_free_colours_where_no_hint_reaches():
    sketch = torch.ones(1, 1, 4, 6)
    sketch[..., 2] = 0.0
    regions = torch.tensor([[[1, 1, 1, 2, 2, 2]] * 4])
    hinted = torch.full((1, 3, 4, 6), 0.7)  # the network's output with a hint in the left region
    free = torch.full((1, 3, 4, 6), 0.2)  # and without it
    hint = torch.zeros(1, 1, 4, 6)
    hint[..., 1, 0] = 1.0
    out = product_output(hinted, sketch, regions, hint_mask=hint, unhinted=free)
    assert torch.allclose(out[0, :, :, :2], torch.tensor(0.7)) and torch.allclose(out[0, :, :, 3:], torch.tensor(0.2))
    with pytest.raises(ValueError, match="hint_mask"):
        product_output(hinted, sketch, regions, unhinted=free)


def test_product_output_is_flat_per_region_with_the_lines_kept():
    sketch = torch.ones(1, 1, 4, 6)
    sketch[..., 2] = 0.2  # a line (column 2), assigned to the left region
    sketch[..., 3] = 0.8  # anti-aliasing: paper, darkened
    regions = torch.tensor([[[1, 1, 1, 2, 2, 2]] * 4])
    network = torch.zeros(1, 3, 4, 6)
    network[:, 0, :, 0], network[:, 0, :, 1], network[:, 0, :, 2] = 0.2, 0.6, 1.0  # red varies on the left
    network[:, 2, :, 3:] = 0.5  # blue on the right
    out = product_output(network, sketch, regions)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.4, 0.0, 0.0]))  # the mean of the paper pixels only
    assert torch.allclose(out[0, :, 3, 1], torch.tensor([0.4, 0.0, 0.0]))
    assert torch.equal(out[0, :, :, 2], torch.full((3, 4), 0.2))  # ink: the sketch's own grey
    assert torch.allclose(out[0, :, 0, 3], torch.tensor([0.0, 0.0, 0.4]))  # multiplied by the sketch
    assert torch.allclose(out[0, :, 0, 5], torch.tensor([0.0, 0.0, 0.5]))
    all_ink = product_output(network, torch.zeros_like(sketch), regions)  # no paper: all the region's pixels
    assert torch.equal(all_ink, torch.zeros_like(all_ink))
    with pytest.raises(ValueError, match="regions must be integer"):
        product_output(network, sketch, regions.float())


def test_training_size_warning(tmp_path, caplog):
    config = EvalConfig(size=32, hint_counts=(0, 1), max_hints=1, limit=2, batch_size=2, samples=0,
                        training_size=64, weights=str(tmp_path / "no-weights"))
    with caplog.at_level(logging.WARNING):
        result = evaluate(FlatFill(), config, progress=False)
    assert len(result["warnings"]) == 1 and "trained at 64 px and is evaluated at 32 px" in caplog.text
    text = (write_report(result, tmp_path / "report") / "results.md").read_text()
    assert "**Warning:**" in text and "--size 64" in text
    assert evaluate(FlatFill(), EvalConfig(size=32, hint_counts=(0,), max_hints=0, limit=1, samples=0,
                                           training_size=32), progress=False)["warnings"] == []
    with pytest.raises(ValueError, match="training_size"):
        EvalConfig(training_size=0)


def test_sample_picture_labels_and_sizes():
    samples = torch.rand(2, 5, 3, 128, 128)
    picture = sample_picture(samples, list(SAMPLE_LABELS))
    header = picture.shape[1] - 2 * 256  # 128 px samples shown at 256 px, under a header strip
    assert picture.shape[0] == 3 and picture.shape[2] == 5 * 256 and 20 <= header <= 60
    enlarged = samples[1, 0, :, -128:, :1].repeat_interleave(2, 1).repeat_interleave(2, 2)  # nearest neighbour x2
    assert torch.equal(picture[:, -256:, :2], enlarged)
    assert sample_picture(torch.rand(1, 4, 3, 256, 256)).shape == (3, 256, 4 * 256)  # no labels, no header
    with pytest.raises(ValueError, match="5 sample columns but 2 labels"):
        sample_picture(samples, ["a", "b"])


def test_markdown_table_layout():
    fake = {"model": "m", "nri": {"mean": 3.5, "benchmark_psnr": 20.0, "max_hints": 30},
            "by_hints": {str(k): {"psnr": {"mean": 10.0 + k}, "ssim": {"mean": 0.5}, "cdr": {"mean": 0.9},
                                  "bleeding": {"mean": 1.0}, "fid": {"value": 12.3, "reason": None},
                                  "lpips": {"value": None, "reason": "missing file x"}} for k in (0, 5)}}
    table = markdown_table([fake])
    assert "| m | 10.00 | 15.00 | 0.500 | 0.900 | 1.00 | n/a | 12.30 | 3.50 |" in table
    assert "LPIPS unavailable: missing file x" in table and "PSNR ≥ 20.0 dB" in table
    assert "locality" not in table and "product" not in table  # a metrics.json from before: one row, as it was
    summary = {"mean": 0.25}
    newer = {**fake, "product": {"by_hints": {k: {**v, "psnr": {"mean": 20.0}} for k, v in fake["by_hints"].items()},
                                 "nri": {**fake["nri"], "mean": 1.0}},
             "locality": {"network": {"share": summary, "inside": {"mean": 40.0}, "outside": {"mean": 2.0}},
                          "product": {"share": {"mean": 0.0}, "inside": {"mean": 41.0}, "outside": {"mean": 0.0}}}}
    table = markdown_table([fake, newer])
    assert "| m | 10.00 | 15.00 | 0.500 | 0.900 | 1.00 | n/a | 12.30 | 3.50 | n/a | n/a |" in table
    assert "| m (network) | 10.00 | 15.00 | 0.500 | 0.900 | 1.00 | n/a | 12.30 | 3.50 | 0.250 | 40.0 / 2.0 |" in table
    assert "| m (product) | 20.00 | 20.00 | 0.500 | 0.900 | 1.00 | n/a | 12.30 | 1.00 | 0.000 | 41.0 / 0.0 |" in table


def test_cli_evaluate(tmp_path, capsys, cli):
    code = main(["evaluate", "--model", "baseline:flat-fill", "--size", "32", "--limit", "2", "--hints", "0,2",
                 "--max-hints", "4", "--out", str(tmp_path / "ev")])
    assert code == 0
    assert "baseline:flat-fill" in capsys.readouterr().out
    assert (tmp_path / "ev" / "metrics.json").exists()
    cli.fails(["evaluate", "--model", "baseline:flat-fill", "--hints", "a", "--out", tmp_path], "--hints")
    cli.fails(["evaluate", "--model", "baseline:flat-fill", "--hints", "40", "--limit", "1", "--out", tmp_path],
              "hint counts must lie", code=1)


def test_cli_combine(tmp_path, capsys, cli):
    fake = {"model": "m", "nri": {"mean": 3.5, "benchmark_psnr": 20.0, "max_hints": 30},
            "by_hints": {"0": {"psnr": {"mean": 10.0}}}}
    (tmp_path / "a.json").write_text(json.dumps(fake))
    (tmp_path / "b.json").write_text(json.dumps({**fake, "model": "n"}))
    assert main(["evaluate", "--combine", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "| m | 10.00 |" in out and "| n | 10.00 |" in out
    cli.fails(["evaluate", "--model", "baseline:flat-fill"], "needs --model and --out")


def test_the_locality_hint_reaches_a_model_as_a_user_point_does():
    from types import SimpleNamespace

    from tinct.evaluate.hints import _locality_hint

    sketch = torch.ones(1, 1, 16, 16)
    sketch[..., 8] = 0.0  # a vertical line: regions 1 (left) and 2 (right)
    regions = torch.ones(1, 16, 16, dtype=torch.long)
    regions[..., 8], regions[..., 9:] = 0, 2
    product_regions = regions.clone()
    product_regions[..., 8] = 1  # the line goes to the left region
    batch = {"sketch": sketch, "sketch_regions": regions, "product_regions": product_regions}
    before = torch.ones(1, 3, 16, 16)
    points = SimpleNamespace(guidance=Guidance(points=True))
    hint, colors, mask = _locality_hint(points, batch, {}, before)
    assert hint.label.item() in (1, 2) and mask.sum() == 1  # a patch of 2 % of the side: one pixel here
    row, col = hint.yx[0].tolist()
    assert mask[0, 0, row, col] == 1 and torch.equal(colors[0, :, row, col], hint.colors[0])
    segments = torch.zeros(1, 2, 16, 16)
    segments[:, 0, :8], segments[:, 1, 8:] = 1, 1  # ranked segments: the top and the bottom half
    ranked = SimpleNamespace(guidance=Guidance(regions=True, points=True))
    _, colors, mask = _locality_hint(ranked, batch, {"segments": segments}, before)
    inside = product_regions[0] == product_regions[0, row, col]
    assert torch.equal(mask[0, 0].bool(), inside)  # the whole region under the point, not the segment
    assert torch.equal(colors[0][:, inside].unique(dim=1), hint.colors[0][:, None])
