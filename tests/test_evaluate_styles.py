"""The styles protocol (RASC): n styles per sketch, best of n against the ground truth, colour
diversity between the styles, the table and samples."""

import math

import pytest
import torch

from tinct.evaluate import EvalConfig, evaluate, markdown_table, sample_columns, write_report
from tinct.evaluate.styles import SAMPLE_STYLES, pairwise_delta_e, style_codes
from tinct.methods.base import Guidance, Inputs, Method, style_from_seed
from tinct.methods.rasc import RASC, Config


def test_diversity_is_the_mean_delta_e_over_pairs_of_styles():
    white, black = torch.ones(3, 4, 4), torch.zeros(3, 4, 4)
    mask = torch.ones(1, 4, 4, dtype=torch.bool)
    assert pairwise_delta_e(torch.stack([white, black])[None], mask).item() == pytest.approx(100.0, abs=1e-3)
    # pairs (white, black), (white, white), (black, white): 100, 0, 100
    three = torch.stack([white, black, white])[None]
    assert pairwise_delta_e(three, mask).item() == pytest.approx(200 / 3, abs=1e-3)
    # only the masked pixels count
    half = white.clone()
    half[:, :, 2:] = 0.0
    left = torch.zeros(1, 4, 4, dtype=torch.bool)
    left[..., :2] = True
    assert pairwise_delta_e(torch.stack([white, half])[None], left).item() == pytest.approx(0.0, abs=1e-4)
    assert math.isnan(pairwise_delta_e(white[None, None], mask).item())  # one style: no pair
    assert math.isnan(pairwise_delta_e(three, torch.zeros_like(mask)).item())  # no pixel
    with pytest.raises(ValueError, match=r"\(B, n, 3, H, W\)"):
        pairwise_delta_e(three[0], mask)


def test_style_codes_are_the_seeds_codes():
    codes = style_codes(3, 5)
    assert codes.shape == (3, 5) and torch.equal(codes[2:], style_from_seed(2, 5))


class PaintsItsStyle(Method):
    """Paints the whole picture in a colour read from its style code (a stand-in style model)."""

    name = "paints_its_style"
    guidance = Guidance(style_dim=3)
    protocol = "styles"
    trainable = False

    def __init__(self, ignore_style=False):
        super().__init__()
        self.ignore_style = ignore_style

    def paint(self, inputs: Inputs) -> torch.Tensor:
        batch, _, height, width = inputs.sketch.shape
        code = torch.zeros(batch, 3) if self.ignore_style or inputs.style is None else inputs.style
        return torch.sigmoid(2 * code)[:, :, None, None].expand(batch, 3, height, width).contiguous()


def test_styles_protocol_measures_best_of_n_and_diversity(tmp_path):
    config = EvalConfig(size=32, limit=4, batch_size=2, samples=3, styles=3)
    result = evaluate(PaintsItsStyle(), config, progress=False)
    assert result["protocol"] == "styles" and result["images"] == 4 and result["styles"] == 3
    assert result["config"]["styles"] == 3
    for view in ("network", "product"):
        entry = result["by_view"][view]
        assert entry["psnr_best"]["mean"] >= entry["psnr_mean"]["mean"] > 0
        assert entry["diversity"]["mean"] > 5  # three different flat colours
        assert 0 <= entry["cdr"]["mean"] <= 1 and entry["ssim"]["n"] == 4
        assert "value" in entry["fid"]
    assert result["by_view"]["network"]["bleeding"]["mean"] == pytest.approx(0.0, abs=1e-3)  # one flat colour
    shown = min(3, SAMPLE_STYLES)
    assert result["samples"].shape == (3, shown + 3, 3, 32, 32)
    assert result["sample_labels"] == ["sketch", "style 0", "style 1", "style 2", "closest (network)", "ground truth"]
    table = markdown_table([result])
    assert "| paints_its_style | network | 3 |" in table and "PSNR↑ (best of n)" in table and "diversity" in table
    out = write_report(result, tmp_path / "report")
    assert (out / "samples.png").exists() and "best of n" in (out / "results.md").read_text()
    # a model that ignores its style: no diversity, and best of n is every style's score
    same = evaluate(PaintsItsStyle(ignore_style=True), config, progress=False)["by_view"]["network"]
    assert same["diversity"]["mean"] == pytest.approx(0.0, abs=1e-4)
    assert same["psnr_best"]["mean"] == pytest.approx(same["psnr_mean"]["mean"])


def test_styles_protocol_runs_a_tiny_rasc_and_its_training_grid():
    torch.manual_seed(0)
    model = RASC(Config(base_channels=8, max_channels=32, depth=2, style_dim=16, disc_channels=8,
                        disc_layers=3)).eval()
    result = evaluate(model, EvalConfig(size=32, limit=2, batch_size=2, samples=1, styles=2), progress=False)
    assert result["model"] == "rasc" and result["sample_labels"][1:3] == ["style 0", "style 1"]
    for view in ("network", "product"):
        entry = result["by_view"][view]
        assert math.isfinite(entry["psnr_best"]["mean"]) and entry["diversity"]["mean"] > 0
    batch = {"sketch": torch.ones(2, 1, 32, 32), "color": torch.rand(2, 3, 32, 32)}
    batch["sketch"][..., 15:17] = 0.0
    columns = sample_columns(model, batch, generator=None)
    assert len(columns) == SAMPLE_STYLES and all(c.shape == (2, 3, 32, 32) for c in columns)
    assert not torch.equal(columns[0], columns[1])  # different styles


def test_the_number_of_styles_is_checked():
    with pytest.raises(ValueError, match="styles must be a whole number >= 1"):
        EvalConfig(styles=0)


def test_tinct_evaluate_takes_the_number_of_styles(tmp_path, capsys):
    import json

    from tinct.cli import main

    torch.manual_seed(0)
    model = RASC(Config(base_channels=8, max_channels=32, depth=2, style_dim=16, disc_channels=8, disc_layers=3,
                        variant="no_regions"))
    folder = model.save_pretrained(tmp_path / "rasc")
    assert main(["evaluate", "--model", str(folder), "--size", "32", "--limit", "2", "--batch-size", "2",
                 "--samples", "1", "--styles", "3", "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["model"] == "rasc-regions" and metrics["styles"] == 3 and metrics["config"]["styles"] == 3
    assert "| rasc-regions | product | 3 |" in capsys.readouterr().out
