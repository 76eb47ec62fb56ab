"""The ``reference`` protocol: references whose answer and correspondence are known (SCFT §4.2).

- ``self``: reference = appearance shift + TPS warp of the image
  (:func:`tinct.data.reference.make_reference`, seeded); ground truth = the shifted image;
- ``family``: the same OpenMoji drawing in another skin tone (same line art, so the
  reference is the ground truth and the correspondence is the identity).

PSNR, SSIM, SC-PSNR and FID/LPIPS per setting; a model whose ``paint_details`` reports its
attention (SCFT) also gets ``attention``: the attention mass on the true correspondence.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from tinct.evaluate import EvalConfig, _collate_images, _format, _optional_metric, _summary, load_dataset
from tinct.methods.base import Inputs

SC_POINTS = 64  # SC-PSNR: corresponding points per image
SC_PATCH = 9  # SC-PSNR: patch side in pixels


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
    """Evaluate a reference-based model (``paint`` with ``Inputs.reference``).

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

    A model whose ``paint_details`` reports its ``attention`` (SCFT) also gets ``attention``:
    the mean attention mass on the true correspondence in either setting, from the same pass.

    Returns the metrics dict with ``by_reference`` instead of ``by_hints``.
    """
    from kornia.geometry import create_meshgrid
    from tqdm import tqdm

    from tinct.data.reference import make_reference
    from tinct.evaluate.tags import closed_regions, with_gaps
    from tinct.metrics.bleeding import region_spread
    from tinct.metrics.psnr import psnr, ssim
    from tinct.metrics.scpsnr import sc_psnr

    dataset = load_dataset(config.data, config.size, config.limit)
    generator = torch.Generator().manual_seed(config.seed)
    gap_generator = torch.Generator().manual_seed(config.seed)  # its own, so the references stay the same
    name = model.display_name
    scores: dict[str, dict[str, list[torch.Tensor]]] = {
        setting: {"psnr": [], "ssim": [], "sc_psnr": [], "bleeding": [], "attention": [], "fake": [], "real": []}
        for setting in ("self", "family")}
    pairs = _family_pairs(dataset)
    # sample rows: half from each setting when both exist
    quota = {"self": config.samples - (config.samples // 2 if pairs else 0), "family": config.samples // 2}
    samples: dict[str, list[torch.Tensor]] = {"self": [], "family": []}

    def measure(setting: str, batch: dict, reference: torch.Tensor, truth: torch.Tensor,
                output_points: torch.Tensor, reference_points: torch.Tensor,
                grid: torch.Tensor, valid: torch.Tensor) -> None:
        entry = scores[setting]
        sketch = with_gaps(batch["sketch"], gap_generator) if config.gaps else batch["sketch"]
        output, details = model.paint_details(Inputs(sketch, reference=reference, prepared=model.prepare(sketch)))
        if "attention" in details:  # how much attention lands on the true correspondence
            entry["attention"].append(attention_share(details, grid, valid))
        output = output.clamp(0, 1)
        entry["psnr"].append(psnr(output, truth))
        entry["ssim"].append(ssim(output, truth))
        entry["sc_psnr"].append(sc_psnr(output, reference, output_points, reference_points, patch_size=SC_PATCH))
        entry["bleeding"].append(region_spread(output, closed_regions(batch["sketch"])))  # the closed lines' regions
        entry["fake"].append(output)
        entry["real"].append(truth)
        if sum(len(rows) for rows in samples[setting]) < quota[setting]:
            shown_sketch, shown_reference = _shown(sketch, reference, details)
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

    result: dict = {"model": name, "protocol": "reference", "config": asdict(config), "images": len(dataset),
                    "lines": "gapped" if config.gaps else "closed", "by_reference": {}}
    for setting, entry in scores.items():
        if not entry["psnr"]:
            reason = ("no images" if setting == "self" else
                      "no pairs of one drawing in several skin tones in this data (OpenMoji only)")
            result["by_reference"][setting] = {"pairs": 0, "reason": reason}
            continue
        real, fake = torch.cat(entry["real"]), torch.cat(entry["fake"])
        result["by_reference"][setting] = {
            "pairs": len(real),
            **{metric: _summary(torch.cat(entry[metric])) for metric in ("psnr", "ssim", "sc_psnr", "bleeding")},
            **({"attention": _summary(torch.cat(entry["attention"]))} if entry["attention"] else {}),
            "fid": _optional_metric("fid", real, fake, config.weights),
            "lpips": _optional_metric("lpips", real, fake, config.weights),
        }
    rows = [torch.cat(samples[setting])[: quota[setting]] for setting in ("self", "family") if samples[setting]]
    result["samples"] = torch.cat(rows) if rows else None
    return result


def reference_table(results: list[dict]) -> str:
    """Reference-based results: one row per model and setting (self / family), columns PSNR,
    SSIM, SC-PSNR, LPIPS, FID (SCFT Tables 1-2), and for attention models the attention mass
    on the true correspondence (``attn``)."""
    header = ["Method", "lines", "reference", "pairs", "PSNR↑", "SSIM↑", "SC-PSNR↑", "spread↓", "attn↑", "LPIPS↓",
              "FID↓"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    reasons: dict[str, str] = {}
    for r in results:
        for setting, entry in r["by_reference"].items():
            row = [r["model"], r.get("lines", "closed"), setting, str(entry.get("pairs", 0))]
            row += [_format(entry.get(metric, {}).get("mean"), 3 if metric in ("ssim", "attention") else 2)
                    for metric in ("psnr", "ssim", "sc_psnr", "bleeding", "attention")]
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
             f"spread: colour spread inside the sketch's regions (ΔE, lower = less bleeding; on gapped "
             f"lines, the closed sketch's regions). gapped: 2–6 gaps of 2–8 px erased from every test sketch's lines. "
             f"attn (attention models): the attention mass within one cell of the true correspondence, "
             f"averaged over cells (uniform attention gives about 9 / cells: 0.035 on a 16×16 grid)."]
    notes += [f"{name} unavailable: {reason}" for name, reason in reasons.items()]
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"




def attention_share(details: dict, grid: torch.Tensor, valid: torch.Tensor, *, radius: int = 1) -> torch.Tensor:
    """:func:`tinct.metrics.attention.attention_near_truth` of a pass's reported attention,
    where ``reference = grid_sample(source, grid)`` (grid (B, H', W', 2), valid (B, 1, H', W'),
    as from the TPS warp). Sketch and reference must give the same attention grid. Returns (B,)."""
    from tinct.data.reference import correspondence_indices
    from tinct.metrics.attention import attention_near_truth

    if details["sketch_grid"] != details["reference_grid"]:
        raise ValueError(f"sketch and reference give different attention grids, {details['sketch_grid']} "
                         f"and {details['reference_grid']}: no cell-to-cell correspondence")
    index, ok = correspondence_indices(grid, valid, details["reference_grid"])
    return attention_near_truth(details["attention"].float(), index, ok, details["reference_grid"], radius=radius)


def _shown(sketch: torch.Tensor, reference: torch.Tensor, details: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The sketch and reference columns of a sample row: with the attention of the image
    centre drawn when the model reports one (SCFT Fig. 7), as they are otherwise."""
    if "attention" not in details:
        return sketch.expand(-1, 3, -1, -1), reference
    from tinct.visual import attention_picture

    centre = ((sketch.shape[-2] - 1) / 2, (sketch.shape[-1] - 1) / 2)
    return attention_picture(sketch, reference, details, centre)


@torch.no_grad()
def sample_columns(model, batch: dict, *, generator: torch.Generator | None, hint_counts=()):
    """Training sample grid: the augmented-self reference (with the cells the image centre
    attends to most, when the model reports attention), its result, another image's reference
    (the batch rolled by one) and its result."""
    from tinct.data.reference import make_reference
    from tinct.methods.base import cpu_generator

    sketch, color = batch["sketch"], batch["color"]
    prepared = model.prepare(sketch)
    pair = make_reference(color, generator=cpu_generator(generator))
    columns = []
    for reference in (pair["reference"], color.roll(1, dims=0)):
        output, details = model.paint_details(Inputs(sketch, reference=reference, prepared=prepared))
        columns += [_shown(sketch, reference, details)[1], output]
    return columns
