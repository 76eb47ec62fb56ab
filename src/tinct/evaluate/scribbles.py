"""The ``scribbles`` protocol (edge enhancement, Kim et al. 2021, §4.3): one scribble over an
edge that colour bled across, and how much it helps there.

Per test image: the model's own hints (:meth:`~tinct.methods.base.Method.hint_policy`, the first
``EvalConfig.scribble_hints`` of them; none for a model without points) and its output
**without** a scribble — for the edge-enhancement model that is its frozen backbone's output,
exactly. On that output a pseudo-scribble is drawn (:func:`tinct.data.scribbles.scribble_and_edge`:
Canny on the a/b channels of the ground truth and of the output, one edge the output lost,
thickened to a random width of 1-5 px, the paper's test widths); hints, edge and width are
drawn from one generator seeded with ``EvalConfig.seed`` and depend only on the ground truth and
the output without a scribble, so every model on one backbone (the Table 3 ablations) meets the
same scribbles. Images without a bleeding edge are left out (the paper samples its 1,000 from
the test images that have one). Then the output **with** the scribble. Measured without and
with:

- ``local_psnr``: PSNR over the pixels within a K × K box (K = 7) of the scribble's 1-px edge
  (the same pixels whatever width was drawn; :func:`tinct.metrics.psnr.local_psnr`);
- ``cdr``: the cluster discrepancy ratio (:func:`tinct.metrics.cdr.cdr`, K = 7) over the ground
  truth's a/b edge pixels within that box (NaN, left out, for an image with none);
- ``psnr``: full-image PSNR.

Two views, as the other protocols: ``network`` (the network's output, the papers' measure) and
``product`` (what ``tinct colorize`` returns at this size, :func:`tinct.evaluate.hints.product_output`;
with the scribble, the region map is first split along it, as the colorizer does:
:func:`tinct.regions.split_regions`). ``samples``: sketch | the scribble (magenta) over the
output without it | the output with it | the product with it | ground truth.
:func:`sample_columns` gives the training grid the first two of those.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from tinct.evaluate import EvalConfig, _format, _summary, load_dataset
from tinct.methods.base import Inputs, cpu_generator

VIEWS = ("network", "product")
METRICS = ("local_psnr", "cdr", "psnr")
WINDOW = 7  # K of the paper's local scores
SCRIBBLE_COLOR = (1.0, 0.0, 1.0)  # magenta: how samples draw a scribble
SAMPLE_LABELS = ("sketch", "scribble on the output", "with the scribble", "product", "ground truth")


def show_scribble(image: torch.Tensor, scribbles: torch.Tensor) -> torch.Tensor:
    """``image`` (B, 3, H, W) in [0, 1] with ``scribbles`` (B, 1, H, W) in {0, 1} drawn over it,
    half-transparent magenta. Returns (B, 3, H, W)."""
    color = torch.tensor(SCRIBBLE_COLOR, dtype=image.dtype, device=image.device)[None, :, None, None]
    return torch.where(scribbles > 0, 0.4 * image + 0.6 * color, image)


def _guidance(model, batch: dict, prepared: dict, count: int, generator: torch.Generator):
    """(hint_colors, hint_mask) of the model's first ``count`` hints, or (None, None)."""
    guidance = model.guidance
    if not (guidance.points or guidance.regions) or count == 0:
        return None, None
    return model.hint_policy(batch, prepared, max_hints=count, generator=generator)(count)


def split_product_regions(regions: torch.Tensor, sketch: torch.Tensor, scribbles: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """The product's region map split along each image's scribble (:func:`tinct.regions.split_regions`)
    and its background found again with the scribble as a line, as :meth:`tinct.colorizer.Colorizer.walled`
    does at full size. regions (B, S, S) int; sketch (B, 1, S, S); scribbles (B, 1, S, S).
    Returns (regions (B, S, S) int64, background (B, S, S) bool)."""
    from tinct.background import background_regions
    from tinct.regions import split_regions

    labels, backgrounds = [], []
    for plane, line, wall in zip(regions.cpu().numpy(), sketch[:, 0].cpu().numpy(), scribbles[:, 0].cpu().numpy()):
        ink, wall = line < 0.5, wall > 0
        split, _ = split_regions(plane, wall, ink)
        labels.append(split.astype(np.int64))
        backgrounds.append(background_regions(split, ink | wall)[split])
    return torch.from_numpy(np.stack(labels)), torch.from_numpy(np.stack(backgrounds))


def evaluate_scribbles(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Run ``model`` over the data of ``config`` without and with a pseudo-scribble per image;
    returns the metrics dict (``by_view[view]["without" | "with"][metric]``, ``scribbles``: how
    many images had one, ``widths``: the drawn widths' mean, ``samples``, ``sample_labels``)."""
    from tqdm import tqdm

    from tinct.data.scribbles import TEST_WIDTHS, scribble_and_edge
    from tinct.evaluate.hints import _collate, product_output
    from tinct.metrics.cdr import cdr, truth_clusters
    from tinct.metrics.psnr import local_psnr, psnr, window_mask

    dataset = load_dataset(config.data, config.size, config.limit)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, collate_fn=_collate)
    generator = torch.Generator().manual_seed(config.seed)
    scores = {view: {side: {metric: [] for metric in METRICS} for side in ("without", "with")} for view in VIEWS}
    widths, samples = [], []
    images = 0
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"evaluate {model.display_name}", unit="batch", disable=not progress):
            target, sketch = batch["color"], batch["sketch"]
            images += len(target)
            prepared = model.prepare(sketch)
            hint_colors, hint_mask = _guidance(model, batch, prepared, config.scribble_hints, generator)
            before = model.paint(Inputs(sketch, hint_colors=hint_colors, hint_mask=hint_mask,
                                        prepared=prepared)).clamp(0, 1)
            scribbles, edge = scribble_and_edge(target, before, width_range=TEST_WIDTHS, generator=generator)
            chosen = edge.flatten(1).amax(1) > 0  # images with a bleeding edge
            if not bool(chosen.any()):
                continue
            target, sketch, before, scribbles, edge = (t[chosen] for t in (target, sketch, before, scribbles, edge))
            if hint_colors is not None:
                hint_colors, hint_mask = hint_colors[chosen], hint_mask[chosen]
            prepared = model.prepare(sketch)
            after = model.paint(Inputs(sketch, hint_colors=hint_colors, hint_mask=hint_mask, scribbles=scribbles,
                                       prepared=prepared)).clamp(0, 1)
            regions, background = batch["product_regions"][chosen], batch["background"][chosen]
            split, split_background = split_product_regions(regions, sketch, scribbles)
            outputs = {"network": {"without": before, "with": after},
                       "product": {"without": product_output(before, sketch, regions, background=background),
                                   "with": product_output(after, sketch, split, background=split_background)}}
            near = window_mask(edge, WINDOW)
            truth = truth_clusters(target)
            for view in VIEWS:
                for side, output in outputs[view].items():
                    entry = scores[view][side]
                    entry["local_psnr"].append(local_psnr(output, target, edge, window=WINDOW))
                    entry["cdr"].append(cdr(output, target, window=WINDOW, truth=truth, near=near))
                    entry["psnr"].append(psnr(output, target))
            widths.append(scribbles.sum(dim=(1, 2, 3)) / edge.sum(dim=(1, 2, 3)).clamp_min(1))
            if sum(len(s) for s in samples) < config.samples:
                samples.append(torch.stack([sketch.expand(-1, 3, -1, -1), show_scribble(before, scribbles), after,
                                            outputs["product"]["with"], target], dim=1))
    if not widths:
        raise ValueError(f"--data {config.data}: no test image has a bleeding edge for {model.display_name} "
                         f"to scribble over")
    by_view = {view: {side: {metric: _summary(torch.cat(values)) for metric, values in sides.items()}
                      for side, sides in scores[view].items()} for view in VIEWS}
    count = int(sum(len(w) for w in widths))
    return {"model": model.display_name, "protocol": "scribbles", "config": asdict(config), "images": images,
            "scribbles": count, "scribble_area": float(torch.cat(widths).mean()), "by_view": by_view,
            "samples": torch.cat(samples)[: config.samples] if samples else None, "sample_labels": list(SAMPLE_LABELS)}


def scribbles_table(results: list[dict]) -> str:
    """Rows = model x view x (without, with the scribble); columns: scribbles, local PSNR and
    CDR within K = 7 of the scribble's edge, full PSNR."""
    header = ["Method", "view", "scribble", "scribbles", f"PSNR↑ (K={WINDOW})", f"CDR↑ (K={WINDOW})",
              "PSNR↑ (full)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        for view, sides in r["by_view"].items():
            for side, entry in sides.items():
                row = [r["model"], view, side, str(r["scribbles"])]
                row += [_format(entry[metric]["mean"], 3 if metric == "cdr" else 2) for metric in METRICS]
                lines.append("| " + " | ".join(row) + " |")
    note = (f"\nscribbles: one pseudo-scribble per test image that has a bleeding edge (Canny on the a/b channels of "
            f"the ground truth and of the output without a scribble; one edge the output lost, 1-5 px wide, seeded); "
            f"without: the output before the scribble (for edge enhancement: its frozen backbone's, exactly); with: "
            f"the same hints plus the scribble. K={WINDOW}: pixels within a {WINDOW} x {WINDOW} box of the scribble's "
            f"1-px edge; CDR there counts the ground truth's a/b edge pixels in that box. product: each region of the "
            f"sketch flat, the background paper, the lines on top; with the scribble, the regions split along it.")
    return "\n".join(lines) + "\n" + note + "\n"


@torch.no_grad()
def sample_columns(model, batch: dict, *, generator: torch.Generator | None, hint_counts=()):
    """Training sample grid: the output without hints with a test pseudo-scribble drawn over it
    (magenta; none where the output lost no edge), then the output with that scribble."""
    from tinct.data.scribbles import TEST_WIDTHS, pseudo_scribble

    sketch, target = batch["sketch"], batch["color"]
    prepared = model.prepare(sketch)
    before = model.paint(Inputs(sketch, prepared=prepared)).clamp(0, 1)
    scribbles = pseudo_scribble(target.float(), before.float(), width_range=TEST_WIDTHS,
                                generator=cpu_generator(generator)).to(before)
    after = model.paint(Inputs(sketch, scribbles=scribbles, prepared=prepared))
    return [show_scribble(before, scribbles), after]
