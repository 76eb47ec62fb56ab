import json

import pytest
import torch

from tinct.baselines import FlatFill, OracleFill, ReferenceInPlace, fill_regions
from tinct.cli import main
from tinct.data.hints import largest_regions, random_points
from tinct.evaluate import EvalConfig, evaluate, markdown_table, write_report
from tinct.methods import load_model
from tinct.methods.base import Inputs


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
    assert result["samples"].shape == (4, 4, 3, 48, 48)
    out = write_report(result, tmp_path / "report")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["by_hints"]["3"]["psnr"]["n"] == 6
    table = (out / "results.md").read_text()
    assert "| baseline:oracle-fill |" in table and "FID unavailable" in table
    assert (out / "samples.png").exists()


def test_markdown_table_layout():
    fake = {"model": "m", "nri": {"mean": 3.5, "benchmark_psnr": 20.0, "max_hints": 30},
            "by_hints": {str(k): {"psnr": {"mean": 10.0 + k}, "ssim": {"mean": 0.5}, "cdr": {"mean": 0.9},
                                  "bleeding": {"mean": 1.0}, "fid": {"value": 12.3, "reason": None},
                                  "lpips": {"value": None, "reason": "missing file x"}} for k in (0, 5)}}
    table = markdown_table([fake])
    assert "| m | 10.00 | 15.00 | 0.500 | 0.900 | 1.00 | n/a | 12.30 | 3.50 |" in table
    assert "LPIPS unavailable: missing file x" in table and "PSNR ≥ 20.0 dB" in table


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
