"""The evaluation harness behind ``tinct evaluate``.

A model under evaluation offers two things (see :mod:`tinct.baselines`):

- ``policy(batch, max_hints=N, generator=g)`` -> ``hints(k)``: its own way of giving hints,
  where ``hints(k)`` returns ``(colors, mask)`` for the first k hints (GuidingPainter: its
  ranked segments; point-hint models and flat-fill: random points);
- ``evaluate_colorize(batch, hint_colors, hint_mask)`` -> ``(B, 3, H, W)`` in [0, 1].

For every hint count asked for, the harness measures PSNR, SSIM, CDR and the region
colour spread (bleeding); it computes NRI by adding hints one at a time up to
``max_hints``; FID and LPIPS are computed when their weight files are available and are
reported as unavailable, with the reason, otherwise. It writes ``metrics.json``,
``results.md`` (the papers' table layout) and ``samples.png``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

DEFAULT_HINT_COUNTS = (0, 1, 3, 5, 10)


@dataclass
class EvalConfig:
    data: str = "openmoji:test"
    size: int = 128
    hint_counts: tuple[int, ...] = DEFAULT_HINT_COUNTS
    max_hints: int = 30  # NRI: N_c, as in GuidingPainter; never reached counts max_hints + 1
    benchmark: float = 20.0  # NRI: PSNR (dB) to reach
    limit: int | None = None
    batch_size: int = 16
    seed: int = 0
    samples: int = 8
    weights: str | None = None  # folder or file for FID / LPIPS weights


def load_model(spec: str):
    """``baseline:NAME`` or a checkpoint folder -> a model with ``policy`` and ``evaluate_colorize``."""
    from tinct.baselines import BASELINES

    if spec.startswith("baseline:"):
        name = spec.split(":", 1)[1]
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(sorted(BASELINES))}")
        return BASELINES[name]()
    folder = Path(spec)
    if not folder.is_dir():
        raise FileNotFoundError(f"no model folder {folder} (give a checkpoint folder or baseline:NAME)")
    config_path = folder / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{folder} holds no config.json: not a tinct checkpoint")
    method = json.loads(config_path.read_text()).get("method")
    from tinct.methods import METHODS

    if method not in METHODS:
        raise ValueError(f"{config_path}: unknown method {method!r}; known methods: "
                         f"{', '.join(sorted(METHODS)) or 'none yet'}")
    return METHODS[method].from_pretrained(folder)


def load_dataset(spec: str, size: int, limit: int | None):
    """``openmoji:SPLIT`` or a folder of colour images."""
    if spec.startswith("openmoji"):
        from tinct.data.openmoji import OpenMojiDataset

        split = spec.split(":", 1)[1] if ":" in spec else "test"
        return OpenMojiDataset(split, size=size, limit=limit)
    from tinct.data.folder import FolderDataset

    if not Path(spec).is_dir():
        raise FileNotFoundError(f"--data {spec!r} is neither openmoji:SPLIT nor a folder")
    dataset = FolderDataset(spec, size=size)
    if limit is not None:
        dataset.files = dataset.files[:limit]
    return dataset


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


def evaluate(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Run ``model`` over the data of ``config``; returns the metrics dict (see module doc)."""
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
        for batch in tqdm(loader, desc=f"evaluate {model.name}", unit="batch", disable=not progress):
            target = batch["color"]
            hints = model.policy(batch, max_hints=config.max_hints, generator=generator)
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
                output = model.evaluate_colorize(batch, colors, mask).clamp(0, 1)
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
        "model": model.name,
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


def _summary(values: torch.Tensor) -> dict:
    values = values.float()
    finite = values[torch.isfinite(values)]
    mean = float(finite.mean()) if len(finite) else float("nan")
    return {"mean": mean, "std": float(finite.std()) if len(finite) > 1 else 0.0, "n": int(len(finite))}


def _optional_metric(name: str, real: torch.Tensor, fake: torch.Tensor, weights: str | None) -> dict:
    """FID / LPIPS when the weight files are there, else ``{"value": None, "reason": ...}``."""
    try:
        if name == "fid":
            from tinct.metrics.fid import fid_score

            outcome = fid_score(real, fake, weights=weights)
        else:
            from tinct.metrics.lpips import lpips_score

            outcome = lpips_score(real, fake, weights=weights)
    except ValueError as error:  # e.g. too few images for a covariance, images too small
        return {"value": None, "reason": str(error)}
    return {"value": outcome.value, "reason": outcome.reason}


def _format(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown_table(results: list[dict]) -> str:
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


def write_report(result: dict, out: str | os.PathLike) -> Path:
    """Write metrics.json, results.md and samples.png into ``out``."""
    from tinct.image import save_image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = result.pop("samples", None)
    (out / "metrics.json").write_text(json.dumps(result, indent=2, allow_nan=True) + "\n")
    (out / "results.md").write_text(f"# {result['model']} on {result['config']['data']} "
                                    f"({result['images']} images, {result['config']['size']} px)\n\n"
                                    + markdown_table([result]))
    if samples is not None:
        # rows: images; columns: sketch | guidance | output | ground truth
        rows, columns, _, height, width = samples.shape
        grid = samples.permute(2, 0, 3, 1, 4).reshape(3, rows * height, columns * width)
        save_image(grid, out / "samples.png")
    return out
