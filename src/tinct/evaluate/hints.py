"""The ``hints`` protocol: the model's own hints, k at a time (GuidingPainter Table 1).

For every hint count asked for, PSNR, SSIM, CDR and the region colour spread (bleeding);
NRI by adding hints one at a time up to ``max_hints``; FID/LPIPS when their weights exist.
The model provides ``prepare``, ``hint_policy(batch, prepared, max_hints=, generator=)`` ->
``hints(k) = (hint_colors, hint_mask)`` and ``paint``.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from tinct.evaluate import EvalConfig, _format, _optional_metric, _summary, load_dataset
from tinct.methods.base import Inputs


def _collate(samples: list[dict]) -> dict:
    from tinct.regions import trapped_ball

    batch = {key: [s[key] for s in samples] for key in samples[0]}
    for key, values in batch.items():
        if isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
    # the sketch's own line-enclosed regions (lines unassigned = 0): what a user's sketch gives
    batch["sketch_regions"] = torch.from_numpy(
        trapped_ball(batch["sketch"].numpy(), assign_lines=False).astype(np.int64)
    )
    return batch


def _guidance_image(sketch: torch.Tensor, hint_colors: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
    """The sketch with the hints painted over it: (B, 3, H, W)."""
    return hint_colors * hint_mask + sketch.expand(-1, 3, -1, -1) * (1 - hint_mask)


def evaluate_hints(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Run ``model`` over the data of ``config`` with its own hints; returns the metrics dict."""
    from tqdm import tqdm

    from tinct.metrics.bleeding import region_spread
    from tinct.metrics.cdr import cdr, truth_clusters
    from tinct.metrics.nri import nri_from_curve
    from tinct.metrics.psnr import psnr, ssim

    counts = tuple(sorted(set(config.hint_counts)))
    if counts and (counts[0] < 0 or counts[-1] > config.max_hints):
        raise ValueError(f"hint counts must lie in [0, {config.max_hints}], got {counts}")
    dataset = load_dataset(config.data, config.size, config.limit)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, collate_fn=_collate)
    generator = torch.Generator().manual_seed(config.seed)
    per_count: dict[int, dict[str, list[torch.Tensor]]] = {k: {"psnr": [], "ssim": [], "cdr": [], "bleeding": []}
                                                           for k in counts}
    outputs_for_fid: dict[int, list[torch.Tensor]] = {k: [] for k in counts}
    reals: list[torch.Tensor] = []
    nri_values: list[torch.Tensor] = []
    samples: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"evaluate {model.display_name}", unit="batch", disable=not progress):
            target = batch["color"]
            prepared = model.prepare(batch["sketch"])
            hints = model.hint_policy(batch, prepared, max_hints=config.max_hints, generator=generator)
            truth = truth_clusters(target)
            curve = []
            for k in range(config.max_hints + 1):
                # beyond the reported counts, stop once every image has reached the benchmark
                if k > (counts[-1] if counts else 0) and curve and bool(
                    (torch.stack(curve, 1) >= config.benchmark).any(1).all()
                ):
                    curve.append(curve[-1])
                    continue
                colors, mask = hints(k)
                output = model.paint(Inputs(batch["sketch"], colors, mask, prepared=prepared)).clamp(0, 1)
                curve.append(psnr(output, target))
                if k in per_count:
                    scores = per_count[k]
                    scores["psnr"].append(curve[-1])
                    scores["ssim"].append(ssim(output, target))
                    scores["cdr"].append(cdr(output, target, truth=truth))
                    scores["bleeding"].append(region_spread(output, batch["sketch_regions"]))
                    outputs_for_fid[k].append(output)
                    if k == counts[-1] and sum(len(s) for s in samples) < config.samples:
                        guidance = _guidance_image(batch["sketch"], colors, mask)
                        samples.append(torch.stack([batch["sketch"].expand(-1, 3, -1, -1), guidance, output,
                                                    target], dim=1))
            nri_values.append(nri_from_curve(torch.stack(curve, 1), config.benchmark))
            reals.append(target)

    result: dict = {
        "model": model.display_name,
        "protocol": "hints",
        "config": asdict(config),
        "images": int(sum(len(r) for r in reals)),
        "by_hints": {},
        "nri": {"mean": float(torch.cat(nri_values).float().mean()), "benchmark_psnr": config.benchmark,
                "max_hints": config.max_hints},
    }
    real = torch.cat(reals)
    for k in counts:
        entry = {name: _summary(torch.cat(values)) for name, values in per_count[k].items()}
        fake = torch.cat(outputs_for_fid[k])
        entry["fid"] = _optional_metric("fid", real, fake, config.weights)
        entry["lpips"] = _optional_metric("lpips", real, fake, config.weights)
        result["by_hints"][str(k)] = entry
    result["samples"] = torch.cat(samples)[: config.samples] if samples else None
    return result


def hints_table(results: list[dict]) -> str:
    """Rows = models, columns = PSNR per hint count, SSIM/CDR/spread/LPIPS/FID at the largest
    count, and NRI: the layout of the papers' tables (GuidingPainter Table 1)."""
    counts = sorted({int(k) for r in results for k in r["by_hints"]})
    last = str(counts[-1])
    header = (["Method"] + [f"PSNR↑ ({k} hints)" for k in counts]
              + [f"SSIM↑ ({last})", f"CDR↑ ({last})", f"spread↓ ({last})", f"LPIPS↓ ({last})", f"FID↓ ({last})",
                 "NRI↓"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    reasons: dict[str, str] = {}
    for r in results:
        entry = r["by_hints"].get(last, {})
        row = [r["model"]] + [_format(r["by_hints"].get(str(k), {}).get("psnr", {}).get("mean")) for k in counts]
        row += [_format(entry.get("ssim", {}).get("mean"), 3), _format(entry.get("cdr", {}).get("mean"), 3),
                _format(entry.get("bleeding", {}).get("mean"))]
        for name in ("lpips", "fid"):
            value = entry.get(name, {}).get("value")
            row.append(_format(value, 3 if name == "lpips" else 2))
            if value is None and entry.get(name, {}).get("reason"):
                reasons[name.upper()] = entry[name]["reason"].splitlines()[0]
        row.append(_format(r["nri"]["mean"]))
        lines.append("| " + " | ".join(row) + " |")
    benchmark = results[0]["nri"]["benchmark_psnr"] if results else None
    notes = [f"\nNRI: hints added one at a time by each model's own policy until PSNR ≥ {benchmark} dB; "
             f"{results[0]['nri']['max_hints'] + 1 if results else ''} when never reached. "
             "spread: colour spread inside the sketch's regions (ΔE, lower = less bleeding)."]
    notes += [f"{name} unavailable: {reason}" for name, reason in reasons.items()]
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"




@torch.no_grad()
def sample_columns(model, batch: dict, *, generator: torch.Generator | None, hint_counts=(0, 3, 10)):
    """Training sample grid: the model's output with each count of its own hints."""
    prepared = model.prepare(batch["sketch"])
    hints = model.hint_policy(batch, prepared, max_hints=max(hint_counts), generator=generator)
    return [model.paint(Inputs(batch["sketch"], *hints(count), prepared=prepared)) for count in hint_counts]
