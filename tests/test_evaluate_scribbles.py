"""The scribbles protocol (edge enhancement): one pseudo-scribble per test image, local PSNR and
CDR within K = 7 of it and full PSNR, without and with the scribble; the table and samples."""

import math

import torch
from test_edge_enhance import acting, tiny

from tinct.evaluate import (
    EvalConfig,
    evaluate,
    markdown_table,
    sample_columns,
    write_report,
)
from tinct.evaluate.scribbles import SAMPLE_LABELS, show_scribble, split_product_regions
from tinct.methods.base import Inputs
from tinct.metrics.cdr import cdr


def _halves(size=32):
    image = torch.empty(1, 3, size, size)
    image[..., : size // 2] = torch.tensor([0.85, 0.2, 0.15])[:, None, None]
    image[..., size // 2 :] = torch.tensor([0.2, 0.7, 0.25])[:, None, None]
    return image


def test_cdr_near_a_scribble_counts_only_the_edges_there():
    target = _halves(64)
    output = target.roll(3, dims=-1)  # the colour edge moved by 3 px (and a seam at the border)
    everywhere = torch.ones(1, 1, 64, 64, dtype=torch.bool)
    near = torch.zeros_like(everywhere)
    near[..., 20:40, 26:38] = True  # around the middle of the colour edge
    assert cdr(target, target, near=near).item() == 1.0
    assert 0.0 <= cdr(output, target, near=near).item() < 1.0  # the moved edge bleeds there
    away = torch.zeros_like(everywhere)
    away[..., 20:40, 8:16] = True  # no ground-truth edge there: no score, not a perfect one
    assert math.isnan(cdr(output, target, near=away).item())
    assert cdr(output, target).item() == cdr(output, target, near=None).item()


def test_scribbles_protocol_measures_without_and_with_the_scribble(tmp_path):
    config = EvalConfig(size=32, limit=6, batch_size=3, samples=2, scribble_hints=2)
    quiet, acts = tiny(calibrate=False), acting(tiny(calibrate=False))
    first = evaluate(quiet, config, progress=False)
    second = evaluate(acts, config, progress=False)
    assert first["protocol"] == "scribbles" and first["images"] == 6 and 1 <= first["scribbles"] <= 6
    assert 1.0 <= first["scribble_area"] <= 5.0  # test widths 1-5 px
    for view in ("network", "product"):
        for metric in ("local_psnr", "cdr", "psnr"):
            # the same scribbles and the same backbone: "without" is the same for every model on it
            assert first["by_view"][view]["without"][metric] == second["by_view"][view]["without"][metric]
            assert first["scribbles"] == second["scribbles"]
    # untrained add-ons (zero output conv) change nothing in the network's output (the product
    # still changes: its regions are split along the scribble); acting ones do
    assert first["by_view"]["network"]["with"] == first["by_view"]["network"]["without"]
    assert second["by_view"]["network"]["with"]["local_psnr"] != second["by_view"]["network"]["without"]["local_psnr"]
    samples = second["samples"]
    assert samples.shape == (2, len(SAMPLE_LABELS), 3, 32, 32) and second["sample_labels"] == list(SAMPLE_LABELS)
    table = markdown_table([first, second])
    assert "PSNR↑ (K=7)" in table and "CDR↑ (K=7)" in table and table.count("| edge_enhance | network |") == 4
    out = write_report(second, tmp_path / "report")
    assert {"metrics.json", "results.md", "samples.png"} <= {p.name for p in out.iterdir()}


def test_the_training_grid_shows_the_scribble_and_its_effect():
    model = acting(tiny(calibrate=False))
    batch = {"sketch": torch.ones(2, 1, 32, 32), "color": _halves().expand(2, -1, -1, -1).contiguous()}
    shown, after = sample_columns(model, batch, generator=torch.Generator().manual_seed(0))
    magenta = (shown[:, 0] > shown[:, 1] + 0.3) & (shown[:, 2] > shown[:, 1] + 0.3)
    assert magenta.any() and shown.shape == after.shape == (2, 3, 32, 32)
    plain = model.paint(Inputs(batch["sketch"]))
    assert (after - plain).abs().max() > 1e-2
    assert torch.equal(show_scribble(plain, torch.zeros(2, 1, 32, 32)), plain)


def test_the_product_view_splits_regions_along_the_scribble():
    sketch = torch.ones(1, 1, 32, 32)
    sketch[..., 4:28, 4] = sketch[..., 4:28, 27] = sketch[..., 4, 4:28] = sketch[..., 27, 4:28] = 0.0  # a box
    regions = torch.ones(1, 32, 32, dtype=torch.int64)
    regions[..., 4:28, 4:28] = 2
    scribbles = torch.zeros(1, 1, 32, 32)
    scribbles[..., 2:30, 15:17] = 1.0  # across the box, wall to wall
    split, background = split_product_regions(regions, sketch, scribbles)
    assert split[0, 16, 10] != split[0, 16, 22] and split[0, 0, 0] == 1
    assert background[0, 0, 0] and not background[0, 16, 10] and not background[0, 16, 22]


def test_cli_evaluates_an_edge_model_with_the_scribbles_protocol(tmp_path, capsys):
    import json

    from tinct.cli import main

    folder = tiny(calibrate=False).save_pretrained(tmp_path / "edge")
    code = main(["evaluate", "--model", str(folder), "--size", "32", "--limit", "3", "--batch-size", "3",
                 "--scribble-hints", "1", "--samples", "1", "--out", str(tmp_path / "eval")])
    assert code == 0 and "PSNR↑ (K=7)" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["protocol"] == "scribbles" and metrics["config"]["scribble_hints"] == 1
