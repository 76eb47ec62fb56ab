"""The ``tags`` protocol (CWR / Tag2pix): colour tags are the only guidance.

Every test image is colorized twice: with the ground truth's own tags (``truth``:
:func:`tinct.data.tags.sample_tags` of the ground truth, the model's vocabulary only, as the
training data's tags are made) and with none (``none``). For each setting and each view
(``network``: the network's output; ``product``: what ``tinct colorize`` returns at this
size, :func:`tinct.evaluate.hints.product_output`): PSNR, SSIM, CDR, region spread (bleeding,
ΔE inside the sketch's regions), and **tag accuracy** (:mod:`tinct.metrics.tags`): the share
of the ground truth's colour tags whose colour covers at least 5 % of the output's drawing
(with no tags given, how many of them the model finds on its own). FID/LPIPS when their
weights exist.

``EvalConfig.gaps``: the test sketches get gaps first (:func:`tinct.data.gaps.erase_gaps`,
2–6 gaps of 2–8 px, seeded by ``EvalConfig.seed``): open line art, where the paper says the
region fusion matters. The regions the product fills and the metrics use are those of the
gapped sketch, as a user's open sketch gives them.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from tinct.evaluate import EvalConfig, _format, _optional_metric, _summary, load_dataset
from tinct.methods.base import Inputs

SETTINGS = ("truth", "none")
VIEWS = ("network", "product")
SAMPLE_LABELS = ("sketch", "tags", "no tags", "tags (network)", "tags (product)", "ground truth")
METRICS = ("psnr", "ssim", "cdr", "bleeding", "tag_accuracy")


def truth_tags(model, color: torch.Tensor, sketch: torch.Tensor) -> torch.Tensor:
    """(B, T) the ground truth's tags in the model's vocabulary: color (B, 3, H, W), sketch
    (B, 1, H, W) the closed line art the tags are read against (as in training)."""
    from tinct.data.tags import TAGS, sample_tags

    full = torch.stack([sample_tags(c, s) for c, s in zip(color, sketch)])  # (B, len(TAGS))
    columns = [TAGS.index(tag) for tag in model.guidance.tags]
    return full[:, columns]


def closed_regions(closed: torch.Tensor) -> torch.Tensor:
    """(B, H, W) int64: the line-enclosed regions of the closed sketches (B, 1, H, W), lines 0.
    On gapped line art the spread (bleeding) is measured in these: the gapped sketch's own
    regions merge the two sides of a gap, so a colour that stops at the missing line would
    count as spread and one that runs through it would not."""
    from tinct.regions import trapped_ball

    return torch.from_numpy(trapped_ball(closed.numpy(), assign_lines=False).astype("int64"))


def with_gaps(sketch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The sketches (B, 1, H, W) with gaps (module docstring)."""
    from tinct.data.gaps import erase_gaps

    return erase_gaps(sketch, generator=generator)[0]


def tags_picture(names: list[str], size: int) -> torch.Tensor:
    """A ``size`` px square listing tag names, each beside a swatch of its colour: (3, S, S) in [0, 1]."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from tinct.data.tags import COLOR_RGB
    from tinct.metrics.tags import tag_color

    scale = max(1, 256 // size)  # draw at >= 256 px for legible text, then shrink
    side = size * scale
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    line = max(12, side // 7)  # up to 7 tags, large enough to read in samples.png
    font = ImageFont.load_default(size=int(line * 0.7))
    if not names:
        draw.text((4, 4), "(no tags)", fill=(90, 90, 90), font=font)
    for row, name in enumerate(names[: side // line]):
        top = 4 + row * line
        color = tag_color(name)
        swatch = COLOR_RGB[color] if color else (200, 200, 200)
        draw.rectangle((4, top, 4 + line - 6, top + line - 6), fill=swatch, outline=(0, 0, 0))
        draw.text((line + 4, top), name, fill=(0, 0, 0), font=font)
    picture = np.asarray(canvas.resize((size, size), Image.LANCZOS), dtype=np.float32) / 255.0
    return torch.from_numpy(picture).permute(2, 0, 1)


def evaluate_tags(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Run ``model`` over the data of ``config`` with and without the ground truth's tags;
    returns the metrics dict (``by_tags[setting][view][metric]``, ``samples``)."""
    from tqdm import tqdm

    from tinct.evaluate.hints import _collate, product_output
    from tinct.metrics.bleeding import region_spread
    from tinct.metrics.cdr import cdr, truth_clusters
    from tinct.metrics.psnr import psnr, ssim
    from tinct.metrics.tags import drawing_pixels, tag_accuracy

    dataset = load_dataset(config.data, config.size, config.limit)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, collate_fn=lambda s: s)
    generator = torch.Generator().manual_seed(config.seed)
    vocabulary = model.guidance.tags
    scores = {s: {v: {m: [] for m in METRICS} for v in VIEWS} for s in SETTINGS}
    fakes: dict = {s: {v: [] for v in VIEWS} for s in SETTINGS}
    reals, samples = [], []
    with torch.no_grad():
        for items in tqdm(loader, desc=f"evaluate {model.display_name}", unit="batch", disable=not progress):
            closed = torch.stack([item["sketch"] for item in items])
            tags = truth_tags(model, torch.stack([item["color"] for item in items]), closed)
            if config.gaps:
                opened = with_gaps(closed, generator)
                items = [{**item, "sketch": sketch} for item, sketch in zip(items, opened)]
            batch = _collate(items)  # the (gapped) sketch's regions and background
            if config.gaps:  # bleeding is colour crossing a true line, gap or not: the closed sketch's regions
                batch["sketch_regions"] = closed_regions(closed)
            target, sketch = batch["color"], batch["sketch"]
            truth, drawing = truth_clusters(target), drawing_pixels(sketch)
            prepared = model.prepare(sketch)
            outputs = {}
            for setting in SETTINGS:
                given = tags if setting == "truth" else torch.zeros_like(tags)
                output = model.paint(Inputs(sketch, tags=given, prepared=prepared)).clamp(0, 1)
                outputs[setting] = {"network": output,
                                    "product": product_output(output, sketch, batch["product_regions"],
                                                              background=batch["background"])}
                for view, image in outputs[setting].items():
                    entry = scores[setting][view]
                    entry["psnr"].append(psnr(image, target))
                    entry["ssim"].append(ssim(image, target))
                    entry["cdr"].append(cdr(image, target, truth=truth))
                    entry["bleeding"].append(region_spread(image, batch["sketch_regions"]))
                    entry["tag_accuracy"].append(tag_accuracy(image, tags, vocabulary, drawing))
                    fakes[setting][view].append(image)
            reals.append(target)
            if sum(len(s) for s in samples) < config.samples:
                size = sketch.shape[-1]
                names = [[vocabulary[i] for i in torch.nonzero(row > 0.5).flatten().tolist()] for row in tags]
                pictures = torch.stack([tags_picture(n, size) for n in names])
                samples.append(torch.stack([sketch.expand(-1, 3, -1, -1), pictures, outputs["none"]["product"],
                                            outputs["truth"]["network"], outputs["truth"]["product"], target], 1))
    real = torch.cat(reals)
    by_tags = {}
    for setting in SETTINGS:
        by_tags[setting] = {}
        for view in VIEWS:
            entry = {metric: _summary(torch.cat(values)) for metric, values in scores[setting][view].items()}
            fake = torch.cat(fakes[setting][view])
            entry["fid"] = _optional_metric("fid", real, fake, config.weights)
            entry["lpips"] = _optional_metric("lpips", real, fake, config.weights)
            by_tags[setting][view] = entry
    return {"model": model.display_name, "protocol": "tags", "config": asdict(config), "images": len(real),
            "lines": "gapped" if config.gaps else "closed", "by_tags": by_tags,
            "samples": torch.cat(samples)[: config.samples] if samples else None,
            "sample_labels": list(SAMPLE_LABELS)}


def tags_table(results: list[dict]) -> str:
    """Rows = model x lines (closed / gapped) x tags (truth / none) x view; columns PSNR, SSIM,
    CDR, spread, tag accuracy, LPIPS, FID."""
    header = ["Method", "lines", "tags", "view", "PSNR↑", "SSIM↑", "CDR↑", "spread↓", "tag acc↑", "LPIPS↓", "FID↓"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    reasons: dict[str, str] = {}
    for r in results:
        for setting, views in r["by_tags"].items():
            for view, entry in views.items():
                row = [r["model"], r.get("lines", "closed"), setting, view]
                row += [_format(entry[metric]["mean"], 2 if metric in ("psnr", "bleeding") else 3)
                        for metric in ("psnr", "ssim", "cdr", "bleeding", "tag_accuracy")]
                for name in ("lpips", "fid"):
                    value = entry.get(name, {}).get("value")
                    row.append(_format(value, 3 if name == "lpips" else 2))
                    if value is None and entry.get(name, {}).get("reason"):
                        reasons[name.upper()] = entry[name]["reason"].splitlines()[0]
                lines.append("| " + " | ".join(row) + " |")
    notes = ["\ntags: truth = the ground truth's colour tags (the model's vocabulary), none = no tags. tag acc: the "
             "share of the ground truth's colour tags whose colour covers at least 5 % of the output's drawing "
             "(lines and the paper around the drawing not counted). spread: colour spread inside the sketch's "
             "regions (ΔE, lower = less bleeding; on gapped lines, the closed sketch's regions). gapped: 2–6 gaps of 2–8 px erased from every test sketch's "
             "lines. product: each region of the sketch flat, the background paper, the lines on top."]
    notes += [f"{name} unavailable: {reason}" for name, reason in reasons.items()]
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


@torch.no_grad()
def sample_columns(model, batch: dict, *, generator: torch.Generator | None, hint_counts=()):
    """Training sample grid: the batch's tags (names and swatches), the output without tags and
    with them."""
    sketch = batch["sketch"]
    tags = (model.select_tags(batch["tags"]) if "tags" in batch
            else truth_tags(model, batch["color"], sketch)).to(sketch.device)
    vocabulary = model.guidance.tags
    names = [[vocabulary[i] for i in torch.nonzero(row > 0.5).flatten().tolist()] for row in tags.cpu()]
    pictures = torch.stack([tags_picture(n, sketch.shape[-1]) for n in names]).to(sketch)
    prepared = model.prepare(sketch)
    return [pictures, model.paint(Inputs(sketch, tags=torch.zeros_like(tags), prepared=prepared)),
            model.paint(Inputs(sketch, tags=tags, prepared=prepared))]
