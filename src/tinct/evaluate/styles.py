"""The ``styles`` protocol (RASC): the only guidance is a style, and a sketch has many.

Every test sketch is painted in ``EvalConfig.styles`` = n styles, the codes of the style seeds
0 … n − 1 (:func:`tinct.methods.base.style_from_seed`, the codes ``tinct colorize --style``
uses). A style model is not asked for the ground truth's colours (it cannot know them), so the
scores against the ground truth are **best of n**: per image, the style whose output is
closest to the ground truth (highest PSNR). For each view (``network``: the network's output;
``product``: what ``tinct colorize`` returns at this size, :func:`tinct.evaluate.hints.product_output`):

- ``psnr_best``: best-of-n PSNR; ``psnr_mean``: the mean PSNR over the n styles;
- ``ssim`` and ``cdr``: SSIM and CDR of the closest style (best of n);
- ``diversity``: per image, the mean over the n (n − 1) / 2 pairs of styles of the mean ΔE76
  (CIELAB, :func:`tinct.color.rgb_to_lab`) between the two outputs over the drawing's pixels
  (paper pixels outside the background regions, not lines: :func:`tinct.metrics.tags.drawing_pixels`);
  in the product view these are the flat colours per region. Higher = the styles differ more;
  NaN with one style;
- ``bleeding``: the colour spread inside the sketch's regions
  (:func:`tinct.metrics.bleeding.region_spread`), averaged over the n styles; lower = less bleeding;
- ``fid`` when its weights exist: all n · N outputs against the N ground truths.

``samples``: sketch | the product in the first few styles | the closest style (network) |
ground truth. :func:`sample_columns` gives the training grid a few styles.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from tinct.evaluate import EvalConfig, _format, _optional_metric, _summary, load_dataset
from tinct.methods.base import Inputs, style_from_seed

VIEWS = ("network", "product")
METRICS = ("psnr_best", "psnr_mean", "ssim", "cdr", "diversity", "bleeding")
SAMPLE_STYLES = 4  # styles shown per sketch in samples.png and in the training grid


def style_codes(count: int, style_dim: int) -> torch.Tensor:
    """The codes of style seeds 0 … count − 1: (count, style_dim)."""
    return torch.cat([style_from_seed(seed, style_dim) for seed in range(count)])


def pairwise_delta_e(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Colour diversity of n outputs per image: the mean over pairs of the mean ΔE76 over the
    pixels of ``mask``.

    images: (B, n, 3, H, W) RGB in [0, 1]; mask: (B, H, W) bool. Returns (B,) (NaN for n < 2 or
    an empty mask).
    """
    from tinct.color import rgb_to_lab

    if images.ndim != 5 or images.shape[2] != 3 or mask.shape != (images.shape[0], *images.shape[-2:]):
        raise ValueError(f"images must be (B, n, 3, H, W) and mask (B, H, W), got {tuple(images.shape)} and "
                         f"{tuple(mask.shape)}")
    batch, count = images.shape[:2]
    if count < 2:
        return torch.full((batch,), float("nan"))
    lab = rgb_to_lab(images.float().flatten(0, 1)).reshape(images.shape)  # (B, n, 3, H, W)
    weights = mask.float()
    area = weights.sum(dim=(1, 2))
    total = torch.zeros(batch)
    pairs = 0
    for first in range(count):
        for second in range(first + 1, count):
            distance = (lab[:, first] - lab[:, second]).norm(dim=1)  # (B, H, W)
            total += (distance * weights).sum(dim=(1, 2)).cpu() / area.clamp_min(1).cpu()
            pairs += 1
    return torch.where(area.cpu() > 0, total / pairs, torch.tensor(float("nan")))


def evaluate_styles(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Run ``model`` over the data of ``config`` in ``config.styles`` styles; returns the metrics
    dict (``by_view[view][metric]``, ``styles``, ``samples`` and ``sample_labels``)."""
    from tqdm import tqdm

    from tinct.evaluate.hints import _collate, product_output
    from tinct.metrics.bleeding import region_spread
    from tinct.metrics.cdr import cdr, truth_clusters
    from tinct.metrics.psnr import psnr, ssim
    from tinct.metrics.tags import drawing_pixels

    dataset = load_dataset(config.data, config.size, config.limit)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, collate_fn=_collate)
    codes = style_codes(config.styles, model.guidance.style_dim)
    shown = min(config.styles, SAMPLE_STYLES)
    scores = {view: {metric: [] for metric in METRICS} for view in VIEWS}
    fakes: dict = {view: [] for view in VIEWS}
    reals, samples = [], []
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"evaluate {model.display_name}", unit="batch", disable=not progress):
            target, sketch = batch["color"], batch["sketch"]
            size = sketch.shape[0]
            prepared = model.prepare(sketch)
            drawing = drawing_pixels(sketch)
            outputs: dict = {view: [] for view in VIEWS}
            for code in codes:
                style = code[None].expand(size, -1).to(sketch.device)
                output = model.paint(Inputs(sketch, style=style, prepared=prepared)).clamp(0, 1)
                outputs["network"].append(output)
                outputs["product"].append(product_output(output, sketch, batch["product_regions"],
                                                         background=batch["background"]))
            truth = truth_clusters(target)
            rows = torch.arange(size)
            closest = {}
            for view in VIEWS:
                stack = torch.stack(outputs[view], dim=1)  # (B, n, 3, H, W)
                per_style = torch.stack([psnr(image, target) for image in outputs[view]], dim=1)  # (B, n)
                best = per_style.argmax(dim=1)
                closest[view] = stack[rows, best]  # (B, 3, H, W)
                entry = scores[view]
                entry["psnr_best"].append(per_style.max(dim=1).values)
                entry["psnr_mean"].append(per_style.mean(dim=1))
                entry["ssim"].append(ssim(closest[view], target))
                entry["cdr"].append(cdr(closest[view], target, truth=truth))
                entry["diversity"].append(pairwise_delta_e(stack, drawing))
                entry["bleeding"].append(torch.stack([region_spread(image, batch["sketch_regions"])
                                                      for image in outputs[view]], dim=1).mean(dim=1))
                fakes[view].append(stack.flatten(0, 1))
            reals.append(target)
            if sum(len(s) for s in samples) < config.samples:
                samples.append(torch.stack([sketch.expand(-1, 3, -1, -1), *outputs["product"][:shown],
                                            closest["network"], target], dim=1))
    real = torch.cat(reals)
    by_view = {}
    for view in VIEWS:
        entry = {metric: _summary(torch.cat(values)) for metric, values in scores[view].items()}
        entry["fid"] = _optional_metric("fid", real, torch.cat(fakes[view]), config.weights)
        by_view[view] = entry
    labels = ["sketch", *(f"style {seed}" for seed in range(shown)), "closest (network)", "ground truth"]
    return {"model": model.display_name, "protocol": "styles", "config": asdict(config), "images": len(real),
            "styles": config.styles, "by_view": by_view,
            "samples": torch.cat(samples)[: config.samples] if samples else None, "sample_labels": labels}


def styles_table(results: list[dict]) -> str:
    """Rows = model x view; columns: best-of-n PSNR, mean PSNR, SSIM and CDR of the closest
    style, diversity (ΔE between styles), spread, FID."""
    header = ["Method", "view", "styles", "PSNR↑ (best of n)", "PSNR (mean)", "SSIM↑ (closest)", "CDR↑ (closest)",
              "diversity ΔE↑", "spread↓", "FID↓"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    reasons: dict[str, str] = {}
    for r in results:
        for view, entry in r["by_view"].items():
            row = [r["model"], view, str(r["styles"])]
            row += [_format(entry[metric]["mean"], 3 if metric in ("ssim", "cdr") else 2)
                    for metric in ("psnr_best", "psnr_mean", "ssim", "cdr", "diversity", "bleeding")]
            value = entry.get("fid", {}).get("value")
            row.append(_format(value))
            if value is None and entry.get("fid", {}).get("reason"):
                reasons["FID"] = entry["fid"]["reason"].splitlines()[0]
            lines.append("| " + " | ".join(row) + " |")
    notes = ["\nstyles: each sketch painted with the codes of style seeds 0 … n − 1. best of n: per image the style "
             "closest to the ground truth (highest PSNR); SSIM and CDR are that style's. diversity: mean ΔE (CIELAB) "
             "between the outputs of every pair of styles over the drawing's paper pixels (higher = more varied; on "
             "the product, the flat colours per region). spread: colour spread inside the sketch's regions (ΔE, "
             "lower = less bleeding), mean over the styles. product: each region of the sketch flat, the background "
             "paper, the lines on top. FID: all n styles of every image against the ground truths."]
    notes += [f"{name} unavailable: {reason}" for name, reason in reasons.items()]
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


@torch.no_grad()
def sample_columns(model, batch: dict, *, generator: torch.Generator | None, hint_counts=()):
    """Training sample grid: the output in the first few styles (seeds 0, 1, ...)."""
    sketch = batch["sketch"]
    prepared = model.prepare(sketch)
    codes = style_codes(SAMPLE_STYLES, model.guidance.style_dim).to(sketch.device)
    return [model.paint(Inputs(sketch, style=code[None].expand(sketch.shape[0], -1), prepared=prepared))
            for code in codes]
