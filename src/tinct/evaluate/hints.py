"""The ``hints`` protocol: the model's own hints, k at a time (GuidingPainter Table 1).

For every hint count asked for, PSNR, SSIM, CDR and the region colour spread (bleeding);
NRI by adding hints one at a time up to ``max_hints``; FID/LPIPS when their weights exist.
The model provides ``prepare``, ``hint_policy(batch, prepared, max_hints=, generator=)`` ->
``hints(k) = (hint_colors, hint_mask)`` and ``paint``.

Every measure is taken twice (DESIGN "Metrics": the papers measure the first, users get the
second):

- ``network``: the network's output, as the papers report it (``by_hints`` and ``nri`` of
  ``metrics.json``, the keys files written before products existed have);
- ``product``: what ``tinct colorize`` returns, at the network size (:func:`product_output`):
  each trapped-ball region of the sketch (lines assigned, as :mod:`tinct.colorizer` does)
  filled with the mean network colour of its paper pixels, the lines multiplied over and the
  ink pixels copied from the sketch, the background regions paper unless a hint reaches them
  (``product.by_hints``, ``product.nri``), and the regions no hint reaches keep the colours of
  the hint-free output (the colorizer's local hints). The product of
  ``colorize`` also paints the region under a user's point (and the regions inside a ranked
  region given a colour) with the user's exact colour; here every region takes the network's
  colour, so a product row shows what the network's colours become after flattening.

Hint locality (:mod:`tinct.metrics.locality`; ``locality`` of ``metrics.json``): one more pass
per batch, outside the model's policy: one hint of a vivid colour, far from the colour the
model paints there without hints, at the deepest pixel of the largest region of the sketch
(:func:`tinct.metrics.locality.locality_hint`); the share of paper pixels outside that region
(grown by 3 px) whose colour moves by more than 10 ΔE, and the mean ΔE inside and outside, for
the network and the product. The hint reaches the model as a user's point reaches it through
:class:`tinct.colorizer.Colorizer`: a model that ranks regions (``guidance.regions``) gets the
whole region under the point filled with the colour (it is trained on filled segments and all
but ignores a lone patch), any other model a patch of :data:`tinct.hintfile.DEFAULT_POINT_SIZE`
of the image side.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from tinct.evaluate import EvalConfig, _format, _optional_metric, _summary, load_dataset
from tinct.methods.base import Inputs

VIEWS = ("network", "product")  # every measure is taken on both (module docstring)
SAMPLE_LABELS = ("sketch", "hints", "network", "product", "ground truth")  # the columns of samples.png
LOCALITY_DILATE = 3  # px the hinted region grows by before "outside" starts (DESIGN "Metrics")
LOCALITY_THRESHOLD = 10.0  # ΔE above which a pixel counts as moved


def _collate(samples: list[dict]) -> dict:
    from tinct.background import background_regions
    from tinct.regions import trapped_ball

    batch = {key: [s[key] for s in samples] for key in samples[0]}
    for key, values in batch.items():
        if isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
    # the sketch's own line-enclosed regions (lines unassigned = 0): what a user's sketch gives
    batch["sketch_regions"] = torch.from_numpy(
        trapped_ball(batch["sketch"].numpy(), assign_lines=False).astype(np.int64)
    )
    # the product's regions: the same, lines assigned to the nearest region (as tinct.colorizer)
    batch["product_regions"] = torch.from_numpy(trapped_ball(batch["sketch"].numpy()).astype(np.int64))
    # the paper around the drawing, pockets through gaps included (tinct.background), per pixel
    batch["background"] = torch.from_numpy(np.stack([
        background_regions(labels, plane[0] < 0.5)[labels]
        for labels, plane in zip(batch["product_regions"].numpy(), batch["sketch"].numpy())
    ]))
    return batch


def product_output(network: torch.Tensor, sketch: torch.Tensor, regions: torch.Tensor, *,
                   threshold: float = 0.5, background: torch.Tensor | None = None,
                   hint_mask: torch.Tensor | None = None, unhinted: torch.Tensor | None = None) -> torch.Tensor:
    """What ``tinct colorize`` makes of a network output, at the network's size: flat colours
    per region, the sketch's lines on top (:class:`tinct.colorizer.Colorizer`, step 3 and 4).

    network: (B, 3, S, S) RGB in [0, 1]; sketch: (B, 1, S, S) in [0, 1] (1 = paper);
    regions: (B, S, S) integer labels covering every pixel (``trapped_ball(sketch)``, lines
    assigned); threshold: ink is sketch < threshold. Each region takes the mean network colour
    of its paper pixels (of all its pixels when it has none); the flat colours are multiplied
    by the sketch, and ink pixels are the sketch's own grey. A region is reached by a hint
    when ``hint_mask`` (B, 1, S, S) has a hint pixel in it. background: (B, S, S) bool, the
    background regions' pixels (:func:`tinct.background.background_regions`): those regions
    stay paper (white) unless a hint reaches them, as ``tinct colorize`` keeps them.
    unhinted: (B, 3, S, S) the network's output without the hints: regions no hint reaches
    take their colour from it (the colorizer's local hints). Returns (B, 3, S, S) in [0, 1].
    """
    if network.ndim != 4 or network.shape[1] != 3:
        raise ValueError(f"network must be RGB (B, 3, S, S), got {tuple(network.shape)}")
    batch, _, height, width = network.shape
    if sketch.shape != (batch, 1, height, width):
        raise ValueError(f"sketch must be (B, 1, S, S) = {(batch, 1, height, width)}, got {tuple(sketch.shape)}")
    if regions.shape != (batch, height, width) or regions.is_floating_point():
        raise ValueError(f"regions must be integer labels (B, S, S) = {(batch, height, width)}, "
                         f"got {regions.dtype} {tuple(regions.shape)}")
    if unhinted is not None and hint_mask is None:
        raise ValueError("unhinted needs the hint_mask that tells which regions a hint reaches")
    labels = regions.long().reshape(batch, 1, -1).to(network.device)  # (B, 1, SS)
    count = int(labels.max()) + 1 if labels.numel() else 1
    ink = sketch < threshold  # (B, 1, S, S)
    region_colors = _region_means(network, labels, ink, count)  # (B, 3, count)
    hinted = None
    if hint_mask is not None:
        hinted = network.new_zeros(batch, 1, count).scatter_reduce_(
            2, labels, hint_mask.reshape(batch, 1, -1).to(network), "amax") > 0
    if unhinted is not None:
        region_colors = torch.where(hinted, region_colors, _region_means(unhinted, labels, ink, count))
    if background is not None:
        flat_background = background.reshape(batch, 1, -1).to(network)
        clear = network.new_zeros(batch, 1, count).scatter_reduce_(2, labels, flat_background, "amax") > 0
        if hinted is not None:
            clear &= ~hinted
        region_colors = torch.where(clear, torch.ones_like(region_colors), region_colors)
    flat = region_colors.gather(2, labels.expand(-1, 3, -1)).reshape(batch, 3, height, width)
    lines = sketch.expand(-1, 3, -1, -1)
    return torch.where(ink, lines, flat * lines)


def _region_means(network: torch.Tensor, labels: torch.Tensor, ink: torch.Tensor, count: int) -> torch.Tensor:
    """(B, 3, count): each region's mean colour of its paper pixels (all its pixels when it has none)."""
    batch = network.shape[0]
    pixels = network.reshape(batch, 3, -1)  # (B, 3, SS)
    means = []
    for weights in ((~ink).reshape(batch, 1, -1).to(network.dtype), torch.ones_like(pixels[:, :1])):
        sums = pixels.new_zeros(batch, 3, count).scatter_add_(2, labels.expand(-1, 3, -1), pixels * weights)
        area = pixels.new_zeros(batch, 1, count).scatter_add_(2, labels, weights)
        means.append((sums / area.clamp_min(1), area))
    (paper_mean, paper_area), (all_mean, _) = means
    return torch.where(paper_area > 0, paper_mean, all_mean)


def _guidance_image(sketch: torch.Tensor, hint_colors: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
    """The sketch with the hints painted over it: (B, 3, H, W)."""
    return hint_colors * hint_mask + sketch.expand(-1, 3, -1, -1) * (1 - hint_mask)


def _locality_hint(model, batch: dict, prepared: dict, before: torch.Tensor):
    """The locality protocol's one hint for ``batch`` (module docstring): the picked
    :class:`~tinct.metrics.locality.LocalityHint` and the ``(hint_colors, hint_mask)`` the model gets."""
    from tinct.data.hints import point_hints_at
    from tinct.hintfile import DEFAULT_POINT_SIZE
    from tinct.metrics.locality import locality_hint

    sketch = batch["sketch"]
    batch_size, _, height, width = sketch.shape
    hint = locality_hint(before, batch["sketch_regions"])
    fill = hint.colors.to(before)[:, :, None, None].expand(-1, -1, height, width).contiguous()  # (B, 3, S, S)
    side = min(height, width, max(1, round(DEFAULT_POINT_SIZE * max(height, width))))
    colors, mask = point_hints_at(fill, hint.points.to(before), patch_size=side,
                                  point_mask=(hint.label >= 0)[:, None].to(before.device))
    if model.guidance.regions:
        # as the colorizer does for such a model: the whole region under most of the patch
        owner = batch["product_regions"].to(mask.device)  # (B, S, S)
        count = int(owner.max()) + 1
        votes = torch.zeros(batch_size, count, device=owner.device)
        votes.scatter_add_(1, owner.reshape(batch_size, -1), mask.reshape(batch_size, -1).to(votes))
        chosen = votes.argmax(1)  # (B,)
        mask = ((owner == chosen[:, None, None]) & (votes.sum(1) > 0)[:, None, None])[:, None].to(before)
        colors = fill * mask
    return hint, colors, mask


def evaluate_hints(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Run ``model`` over the data of ``config`` with its own hints; returns the metrics dict
    (``by_hints`` and ``nri`` of the network's output, ``product`` with the same for the
    product's, ``locality``, and ``samples``: (N, 5, 3, S, S) in the order of ``sample_labels``)."""
    from tqdm import tqdm

    from tinct.metrics.bleeding import region_spread
    from tinct.metrics.cdr import cdr, truth_clusters
    from tinct.metrics.locality import hint_locality, paper_delta_e
    from tinct.metrics.nri import nri_from_curve
    from tinct.metrics.psnr import psnr, ssim

    counts = tuple(sorted(set(config.hint_counts)))
    if counts and (counts[0] < 0 or counts[-1] > config.max_hints):
        raise ValueError(f"hint counts must lie in [0, {config.max_hints}], got {counts}")
    dataset = load_dataset(config.data, config.size, config.limit)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, collate_fn=_collate)
    generator = torch.Generator().manual_seed(config.seed)
    per_count = {view: {k: {"psnr": [], "ssim": [], "cdr": [], "bleeding": []} for k in counts} for view in VIEWS}
    outputs_for_fid: dict[str, dict[int, list[torch.Tensor]]] = {view: {k: [] for k in counts} for view in VIEWS}
    locality: dict[str, dict[str, list[torch.Tensor]]] = {view: {"share": [], "inside": [], "outside": []}
                                                          for view in VIEWS}
    reals: list[torch.Tensor] = []
    nri_values: dict[str, list[torch.Tensor]] = {view: [] for view in VIEWS}
    paper: dict[str, list[torch.Tensor]] = {view: [] for view in VIEWS}  # background ΔE to white, no hints
    samples: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"evaluate {model.display_name}", unit="batch", disable=not progress):
            target, sketch = batch["color"], batch["sketch"]
            prepared = model.prepare(sketch)
            hints = model.hint_policy(batch, prepared, max_hints=config.max_hints, generator=generator)
            truth = truth_clusters(target)
            curves: dict[str, list[torch.Tensor]] = {view: [] for view in VIEWS}
            before: dict[str, torch.Tensor] = {}
            for k in range(config.max_hints + 1):
                # beyond the reported counts, stop once every image has reached the benchmark
                # in both views (a curve past its first reach cannot change the NRI)
                if k > (counts[-1] if counts else 0) and all(bool(
                    (torch.stack(curve, 1) >= config.benchmark).any(1).all()) for curve in curves.values()
                ):
                    for curve in curves.values():
                        curve.append(curve[-1])
                    continue
                colors, mask = hints(k)
                output = model.paint(Inputs(sketch, colors, mask, prepared=prepared)).clamp(0, 1)
                if k == 0:
                    free = output  # the hint-free output: the product's unhinted regions keep it
                views = {"network": output, "product": product_output(output, sketch, batch["product_regions"],
                                                                      background=batch["background"], hint_mask=mask,
                                                                      unhinted=free)}
                if k == 0:
                    before = views
                    for view, image in views.items():
                        paper[view].append(paper_delta_e(image, batch["background"] & (sketch[:, 0] >= 0.5)))
                for view, image in views.items():
                    curves[view].append(psnr(image, target))
                    if k in per_count[view]:
                        scores = per_count[view][k]
                        scores["psnr"].append(curves[view][-1])
                        scores["ssim"].append(ssim(image, target))
                        scores["cdr"].append(cdr(image, target, truth=truth))
                        scores["bleeding"].append(region_spread(image, batch["sketch_regions"]))
                        outputs_for_fid[view][k].append(image)
                if counts and k == counts[-1] and sum(len(s) for s in samples) < config.samples:
                    guidance = _guidance_image(sketch, colors, mask)
                    samples.append(torch.stack([sketch.expand(-1, 3, -1, -1), guidance, output, views["product"],
                                                target], dim=1))
            for view in VIEWS:
                nri_values[view].append(nri_from_curve(torch.stack(curves[view], 1), config.benchmark))
            hint, colors, mask = _locality_hint(model, batch, prepared, before["network"])
            output = model.paint(Inputs(sketch, colors, mask, prepared=prepared)).clamp(0, 1)
            after = {"network": output, "product": product_output(output, sketch, batch["product_regions"],
                                                                  background=batch["background"], hint_mask=mask,
                                                                  unhinted=free)}
            for view in VIEWS:
                measured = hint_locality(before[view], after[view], batch["sketch_regions"], hint.label,
                                         paper=sketch >= 0.5, dilate=LOCALITY_DILATE, threshold=LOCALITY_THRESHOLD)
                for name, values in measured._asdict().items():
                    locality[view][name].append(values)
            reals.append(target)

    real = torch.cat(reals)
    rows = {}
    for view in VIEWS:
        by_hints = {}
        for k in counts:
            entry = {name: _summary(torch.cat(values)) for name, values in per_count[view][k].items()}
            fake = torch.cat(outputs_for_fid[view][k])
            entry["fid"] = _optional_metric("fid", real, fake, config.weights)
            entry["lpips"] = _optional_metric("lpips", real, fake, config.weights)
            by_hints[str(k)] = entry
        rows[view] = {"by_hints": by_hints,
                      "nri": {"mean": float(torch.cat(nri_values[view]).float().mean()),
                              "benchmark_psnr": config.benchmark, "max_hints": config.max_hints},
                      "background": _summary(torch.cat(paper[view]))}
    result: dict = {
        "model": model.display_name,
        "protocol": "hints",
        "config": asdict(config),
        "images": len(real),
        **rows["network"],  # the keys of metrics.json files written before products existed
        # background: mean ΔE to white of the paper pixels of the background regions, no hints
        "product": rows["product"],
        "locality": {"dilate": LOCALITY_DILATE, "threshold": LOCALITY_THRESHOLD,
                     **{view: {name: _summary(torch.cat(values)) for name, values in locality[view].items()}
                        for view in VIEWS}},
    }
    result["samples"] = torch.cat(samples)[: config.samples] if samples else None
    result["sample_labels"] = list(SAMPLE_LABELS)
    return result


def _rows(result: dict) -> list[tuple[str, dict, dict | None]]:
    """A result's table rows: (label, {"by_hints", "nri"}, locality). One row per view
    (``model (network)``, ``model (product)``), or one row named by the model for results
    written before products existed."""
    network = {"by_hints": result["by_hints"], "nri": result["nri"], "background": result.get("background")}
    locality = result.get("locality") or {}
    if "product" not in result:
        return [(result["model"], network, locality.get("network"))]
    views = {"network": network, "product": result["product"]}
    return [(f"{result['model']} ({view})", views[view], locality.get(view)) for view in VIEWS]


def hints_table(results: list[dict]) -> str:
    """Rows = models (network and product), columns = PSNR per hint count,
    SSIM/CDR/spread/LPIPS/FID at the largest count, NRI: the layout of the papers' tables
    (GuidingPainter Table 1); then hint locality where measured."""
    counts = sorted({int(k) for r in results for k in r["by_hints"]})
    last = str(counts[-1])
    with_locality = any(r.get("locality") for r in results)
    with_background = any(r.get("background") for r in results)
    header = (["Method"] + [f"PSNR↑ ({k} hints)" for k in counts]
              + [f"SSIM↑ ({last})", f"CDR↑ ({last})", f"spread↓ ({last})", f"LPIPS↓ ({last})", f"FID↓ ({last})",
                 "NRI↓"] + (["locality↓", "ΔE in / out"] if with_locality else [])
              + (["background ΔE↓ (0)"] if with_background else []))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    reasons: dict[str, str] = {}
    for r in results:
        for label, view, locality in _rows(r):
            entry = view["by_hints"].get(last, {})
            row = [label] + [_format(view["by_hints"].get(str(k), {}).get("psnr", {}).get("mean")) for k in counts]
            row += [_format(entry.get("ssim", {}).get("mean"), 3), _format(entry.get("cdr", {}).get("mean"), 3),
                    _format(entry.get("bleeding", {}).get("mean"))]
            for name in ("lpips", "fid"):
                value = entry.get(name, {}).get("value")
                row.append(_format(value, 3 if name == "lpips" else 2))
                if value is None and entry.get(name, {}).get("reason"):
                    reasons[name.upper()] = entry[name]["reason"].splitlines()[0]
            row.append(_format(view["nri"]["mean"]))
            if with_locality:
                locality = locality or {}
                inside, outside = (_format(locality.get(name, {}).get("mean"), 1) for name in ("inside", "outside"))
                change = f"{inside} / {outside}" if (inside, outside) != ("n/a", "n/a") else "n/a"
                row += [_format(locality.get("share", {}).get("mean"), 3), change]
            if with_background:
                row.append(_format((view.get("background") or {}).get("mean"), 1))
            lines.append("| " + " | ".join(row) + " |")
    benchmark = results[0]["nri"]["benchmark_psnr"] if results else None
    notes = [f"\nNRI: hints added one at a time by each model's own policy until PSNR ≥ {benchmark} dB; "
             f"{results[0]['nri']['max_hints'] + 1 if results else ''} when never reached. "
             "spread: colour spread inside the sketch's regions (ΔE, lower = less bleeding)."]
    if any("product" in r for r in results):
        notes.append("network: the network's output (what the papers measure); product: what `tinct colorize` "
                     "returns at this size (each region of the sketch flat in the network's mean colour, the "
                     "background regions paper unless hinted, the sketch's lines on top).")
    if with_locality:
        notes.append(f"locality: one vivid hint deep inside the largest region; the share of paper pixels more than "
                     f"{LOCALITY_DILATE} px outside that region whose colour moves by more than "
                     f"{LOCALITY_THRESHOLD:g} ΔE (0 = the hint stays in its region); ΔE in / out: the mean colour "
                     "change inside the region / outside it.")
    if with_background:
        notes.append("background ΔE (0): with no hints, the mean ΔE to white of the paper pixels of the sketch's "
                     "background regions (the paper around the drawing and the pockets reached from it through "
                     "gaps in the lines); ≤ 3 looks like paper.")
    notes += [f"{name} unavailable: {reason}" for name, reason in reasons.items()]
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


@torch.no_grad()
def sample_columns(model, batch: dict, *, generator: torch.Generator | None, hint_counts=(0, 3, 10)):
    """Training sample grid: the model's output with each count of its own hints."""
    prepared = model.prepare(batch["sketch"])
    hints = model.hint_policy(batch, prepared, max_hints=max(hint_counts), generator=generator)
    return [model.paint(Inputs(batch["sketch"], *hints(count), prepared=prepared)) for count in hint_counts]
