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

A reference-based model (SCFT) offers ``evaluate_reference(batch, reference)`` -> ``(B, 3,
H, W)`` instead, and is measured in two settings where the answer and the correspondence
are known (:func:`evaluate_reference`): ``self`` (each image's augmented-self reference:
colour shift + TPS warp, seeded) and ``family`` (OpenMoji pairs of one drawing in two skin
tones, which share their line art). It gets PSNR, SSIM, SC-PSNR (SCFT §4.2) and FID/LPIPS
per setting; with ``visualize_attention(sketch, reference, query_yx)`` the sample grid
shows the sketch with a query cell and the reference with the cells it attends to most.
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
SC_POINTS = 64  # SC-PSNR: corresponding points per image
SC_PATCH = 9  # SC-PSNR: patch side in pixels


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
    if hasattr(model, "evaluate_reference"):
        return evaluate_reference(model, config, progress=progress)
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


def _family_pairs(dataset) -> list[tuple[int, int]]:
    """(sketch index, reference index) pairs of one drawing in two skin tones: every member of
    a family with two or more members is paired with the next (cyclically). Empty for
    datasets without families (a folder of images)."""
    families: dict[str, list[int]] = {}
    for index, emoji in enumerate(getattr(dataset, "emojis", ())):
        families.setdefault(emoji.family, []).append(index)
    return [(members[i], members[(i + 1) % len(members)])
            for members in families.values() if len(members) > 1 for i in range(len(members))]


def _valid_points(valid: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` distinct pixels per image drawn uniformly where ``valid`` (B, 1, H, W) is 1:
    (B, count, 2) pixel (x, y)."""
    weights = valid.flatten(1).float() + 1e-6  # never all zero
    index = torch.multinomial(weights, min(count, weights.shape[1]), replacement=False,
                              generator=generator)  # (B, count)
    width = valid.shape[-1]
    return torch.stack([index % width, index // width], dim=-1).float()


def warp_points(grid: torch.Tensor, valid: torch.Tensor, count: int,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Corresponding points of a warp ``reference = grid_sample(source, grid)``.

    grid: (B, H, W, 2) normalised (x, y) source positions (``align_corners=False``), valid:
    (B, 1, H, W). Draws ``count`` reference pixels where valid (:func:`_valid_points`) and
    returns ``(source_points, reference_points)``, both (B, count, 2) pixel (x, y).
    """
    batch, height, width, _ = grid.shape
    reference_points = _valid_points(valid, count, generator)
    rows, cols = reference_points[..., 1].long(), reference_points[..., 0].long()
    source = grid[torch.arange(batch)[:, None], rows, cols]  # (B, count, 2) normalised x, y
    source_points = torch.stack([((source[..., 0] + 1) * width - 1) / 2, ((source[..., 1] + 1) * height - 1) / 2],
                                dim=-1)
    return source_points, reference_points


def evaluate_reference(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Evaluate a reference-based model (``evaluate_reference(batch, reference)``).

    Settings, each with PSNR and SSIM against its ground truth, SC-PSNR (SC_PATCH-pixel
    patches around SC_POINTS corresponding points per image, :func:`tinct.metrics.sc_psnr`)
    and FID/LPIPS when their weights are available:

    - ``self``: reference = appearance shift + TPS warp of the image
      (:func:`tinct.data.reference.make_reference`, seeded by ``config.seed``); ground
      truth = the shifted image; SC-PSNR points are uniform over the reference pixels that
      sample inside the image, paired with the source positions the warp gives;
    - ``family``: sketch of one OpenMoji drawing, reference = the same drawing in another
      skin tone (same line art, so the reference is the ground truth and the
      correspondence is the identity); points uniform over the image. Skipped, with a
      reason, when the data has no such pairs.

    A model with ``evaluate_attention(batch, reference, grid, valid) -> (output, share)``
    (SCFT) is run through that instead, in one pass, and also gets ``attention``: the mean
    attention mass on the true correspondence in either setting.

    Returns the metrics dict with ``by_reference`` instead of ``by_hints``.
    """
    from kornia.geometry import create_meshgrid
    from tqdm import tqdm

    from tinct.data.reference import make_reference
    from tinct.metrics.psnr import psnr, ssim
    from tinct.metrics.scpsnr import sc_psnr

    dataset = load_dataset(config.data, config.size, config.limit)
    generator = torch.Generator().manual_seed(config.seed)
    name = getattr(model, "display_name", model.name)
    scores: dict[str, dict[str, list[torch.Tensor]]] = {
        setting: {"psnr": [], "ssim": [], "sc_psnr": [], "attention": [], "fake": [], "real": []}
        for setting in ("self", "family")}
    pairs = _family_pairs(dataset)
    # sample rows: half from each setting when both exist
    quota = {"self": config.samples - (config.samples // 2 if pairs else 0), "family": config.samples // 2}
    samples: dict[str, list[torch.Tensor]] = {"self": [], "family": []}
    visualize = getattr(model, "visualize_attention", None)
    attention = getattr(model, "evaluate_attention", None)

    def measure(setting: str, batch: dict, reference: torch.Tensor, truth: torch.Tensor,
                output_points: torch.Tensor, reference_points: torch.Tensor,
                grid: torch.Tensor, valid: torch.Tensor) -> None:
        entry = scores[setting]
        if attention is not None:  # SCFT: the output and how much attention lands on the true correspondence
            output, share = attention(batch, reference, grid, valid)
            entry["attention"].append(share)
        else:
            output = model.evaluate_reference(batch, reference)
        output = output.clamp(0, 1)
        entry["psnr"].append(psnr(output, truth))
        entry["ssim"].append(ssim(output, truth))
        entry["sc_psnr"].append(sc_psnr(output, reference, output_points, reference_points, patch_size=SC_PATCH))
        entry["fake"].append(output)
        entry["real"].append(truth)
        if sum(len(rows) for rows in samples[setting]) < quota[setting]:
            sketch = batch["sketch"]
            if visualize is not None:  # paper Fig. 7, with the image centre as the query
                centre = ((sketch.shape[-2] - 1) / 2, (sketch.shape[-1] - 1) / 2)
                shown_sketch, shown_reference = visualize(sketch, reference, centre)
            else:
                shown_sketch, shown_reference = sketch.expand(-1, 3, -1, -1), reference
            samples[setting].append(torch.stack([shown_sketch, shown_reference, output, truth], dim=1))

    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, collate_fn=_collate_images)
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"evaluate {name} (self)", unit="batch", disable=not progress):
            pair = make_reference(batch["color"], generator=generator)
            output_points, reference_points = warp_points(pair["grid"], pair["valid"], SC_POINTS, generator)
            measure("self", batch, pair["reference"], pair["target"], output_points, reference_points,
                    pair["grid"], pair["valid"])
        for start in tqdm(range(0, len(pairs), config.batch_size), desc=f"evaluate {name} (family)",
                          unit="batch", disable=not progress):
            chosen = pairs[start:start + config.batch_size]
            batch = _collate_images([dataset[i] for i, _ in chosen])
            reference = torch.stack([dataset[j]["color"] for _, j in chosen])
            height, width = reference.shape[-2:]
            everywhere = torch.ones(len(chosen), 1, height, width)
            points = _valid_points(everywhere, SC_POINTS, generator)
            identity = create_meshgrid(height, width, normalized_coordinates=True, align_corners=False)
            measure("family", batch, reference, reference, points, points,
                    identity.expand(len(chosen), -1, -1, -1), everywhere)

    result: dict = {"model": name, "config": asdict(config), "images": len(dataset), "by_reference": {}}
    for setting, entry in scores.items():
        if not entry["psnr"]:
            reason = ("no images" if setting == "self" else
                      "no pairs of one drawing in several skin tones in this data (OpenMoji only)")
            result["by_reference"][setting] = {"pairs": 0, "reason": reason}
            continue
        real, fake = torch.cat(entry["real"]), torch.cat(entry["fake"])
        result["by_reference"][setting] = {
            "pairs": len(real),
            **{metric: _summary(torch.cat(entry[metric])) for metric in ("psnr", "ssim", "sc_psnr")},
            **({"attention": _summary(torch.cat(entry["attention"]))} if entry["attention"] else {}),
            "fid": _optional_metric("fid", real, fake, config.weights),
            "lpips": _optional_metric("lpips", real, fake, config.weights),
        }
    rows = [torch.cat(samples[setting])[: quota[setting]] for setting in ("self", "family") if samples[setting]]
    result["samples"] = torch.cat(rows) if rows else None
    return result


def _collate_images(samples: list[dict]) -> dict:
    """Stack the tensors of dataset samples (no region maps: the reference settings need none)."""
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0] if isinstance(samples[0][key],
                                                                                           torch.Tensor)}


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


def reference_table(results: list[dict]) -> str:
    """Reference-based results: one row per model and setting (self / family), columns PSNR,
    SSIM, SC-PSNR, LPIPS, FID (SCFT Tables 1-2), and for attention models the attention mass
    on the true correspondence (``attn``)."""
    header = ["Method", "reference", "pairs", "PSNR↑", "SSIM↑", "SC-PSNR↑", "attn↑", "LPIPS↓", "FID↓"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    reasons: dict[str, str] = {}
    for r in results:
        for setting, entry in r["by_reference"].items():
            row = [r["model"], setting, str(entry.get("pairs", 0))]
            row += [_format(entry.get(metric, {}).get("mean"), 3 if metric in ("ssim", "attention") else 2)
                    for metric in ("psnr", "ssim", "sc_psnr", "attention")]
            for name in ("lpips", "fid"):
                value = entry.get(name, {}).get("value")
                row.append(_format(value, 3 if name == "lpips" else 2))
                if value is None and entry.get(name, {}).get("reason"):
                    reasons[name.upper()] = entry[name]["reason"].splitlines()[0]
            if entry.get("reason"):
                reasons[f"{r['model']} {setting}"] = entry["reason"]
            lines.append("| " + " | ".join(row) + " |")
    notes = [f"\nself: the image's own colour-shifted, TPS-warped copy as reference (ground truth = the shifted "
             f"image); family: the same OpenMoji drawing in another skin tone (ground truth = the reference). "
             f"SC-PSNR: {SC_PATCH}×{SC_PATCH} patches around {SC_POINTS} corresponding points per image. "
             f"attn (attention models): the attention mass within one cell of the true correspondence, "
             f"averaged over cells (uniform attention gives about 9 / cells: 0.035 on a 16×16 grid)."]
    notes += [f"{name} unavailable: {reason}" for name, reason in reasons.items()]
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


def markdown_table(results: list[dict]) -> str:
    """Rows = models, columns = PSNR per hint count, SSIM/CDR/spread/LPIPS/FID at the largest
    count, and NRI: the layout of the papers' tables (GuidingPainter Table 1). Results of
    reference-based models get their own table (:func:`reference_table`)."""
    by_reference = [r for r in results if "by_reference" in r]
    results = [r for r in results if "by_reference" not in r]
    if by_reference:
        table = reference_table(by_reference)
        return markdown_table(results) + "\n" + table if results else table
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
