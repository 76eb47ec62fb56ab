"""The evaluation harness behind ``tinct evaluate``: one protocol per kind of guidance.

A model declares its ``protocol`` (:class:`tinct.methods.base.Method`); :func:`evaluate` runs
the one registered under that name in :data:`PROTOCOLS`:

- ``hints`` (:mod:`tinct.evaluate.hints`): the model's own hint policy gives 0, 1, 3, ...
  hints (GuidingPainter: its ranked segments; point-hint models and flat-fill: random
  points); PSNR, SSIM, CDR and bleeding per hint count, NRI, FID/LPIPS;
- ``reference`` (:mod:`tinct.evaluate.reference`): augmented-self and same-drawing
  references (SCFT §4.2): PSNR, SSIM, SC-PSNR, attention on the true correspondence when the
  model reports its attention, FID/LPIPS;
- ``tags`` (:mod:`tinct.evaluate.tags`): the ground truth's colour tags, then none (CWR):
  PSNR, SSIM, CDR, bleeding and tag accuracy, network and product, on closed or gapped lines
  (``gaps``);
- ``styles`` (:mod:`tinct.evaluate.styles`): n styles per sketch (RASC): best-of-n PSNR, SSIM
  and CDR of the style closest to the ground truth, colour diversity across the styles,
  bleeding, network and product;
- ``scribbles`` (:mod:`tinct.evaluate.scribbles`): one pseudo-scribble over an edge colour bled
  across per test image (edge enhancement): local PSNR and CDR within K = 7 of it and full PSNR,
  without and with the scribble, network and product.

FID and LPIPS are computed when their weight files are available and are reported as
unavailable, with the reason, otherwise. :func:`write_report` writes ``metrics.json``,
``results.md`` (the papers' table layout) and ``samples.png`` (columns labelled when the
protocol names them, cells of at least 256 px). A protocol also gives the columns of the
training sample grid (:func:`sample_columns`), so a method's samples show what its
evaluation measures.

A model evaluated at another size than it was trained at (``EvalConfig.training_size``, which
the caller reads from the checkpoint folder) is measured all the same, with a warning that is
logged and written into ``results.md`` (``warnings`` of ``metrics.json``).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

DEFAULT_HINT_COUNTS = (0, 1, 3, 5, 10)
MIN_SAMPLE_CELL = 256  # px: samples.png shows smaller images enlarged (nearest neighbour) to at least this


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
    training_size: int | None = None  # the model's training size (train_config.json), when known
    gaps: bool = False  # erase 2-8 px gaps from the test sketches' lines (tinct.data.gaps; tags protocol)
    styles: int = 8  # styles per sketch (seeds 0 .. styles - 1; styles protocol)
    scribble_hints: int = 3  # the model's own hints given with every scribble (scribbles protocol)

    def __post_init__(self) -> None:
        checks = {"size": (self.size, 8), "batch_size": (self.batch_size, 1), "max_hints": (self.max_hints, 0),
                  "samples": (self.samples, 0), "styles": (self.styles, 1), "scribble_hints": (self.scribble_hints, 0),
                  "limit": (1 if self.limit is None else self.limit, 1),
                  "training_size": (8 if self.training_size is None else self.training_size, 8)}
        for name, (value, least) in checks.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
        self.hint_counts = tuple(self.hint_counts)


def load_dataset(spec: str, size: int, limit: int | None):
    """The dataset ``spec`` names (:func:`tinct.data.specs.open_dataset`), its test split
    unless the spec names another."""
    from tinct.data.specs import open_dataset

    dataset = open_dataset(spec, split="test", size=size, limit=limit)
    if not len(dataset):
        raise ValueError(f"--data {spec}: no images to evaluate")
    return dataset


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


@dataclass(frozen=True)
class Protocol:
    """One way of measuring a kind of model.

    evaluate(model, config, progress) -> the metrics dict (with ``"protocol"``); table(results)
    -> a markdown table of such results; sample_columns(model, batch, generator, hint_counts)
    -> the training sample grid's columns between the sketch and the ground truth.
    """

    name: str
    evaluate: Callable[..., dict]
    table: Callable[[list[dict]], str]
    sample_columns: Callable[..., list[torch.Tensor]]


def _protocols() -> dict[str, Protocol]:
    from tinct.evaluate import hints, reference, scribbles, styles, tags

    return {"hints": Protocol("hints", hints.evaluate_hints, hints.hints_table, hints.sample_columns),
            "reference": Protocol("reference", reference.evaluate_reference, reference.reference_table,
                                  reference.sample_columns),
            "tags": Protocol("tags", tags.evaluate_tags, tags.tags_table, tags.sample_columns),
            "styles": Protocol("styles", styles.evaluate_styles, styles.styles_table, styles.sample_columns),
            "scribbles": Protocol("scribbles", scribbles.evaluate_scribbles, scribbles.scribbles_table,
                                  scribbles.sample_columns)}


def protocol(name: str) -> Protocol:
    """The protocol registered as ``name``; ValueError naming the known ones otherwise."""
    registry = _protocols()
    if name not in registry:
        raise ValueError(f"no evaluation protocol {name!r}; protocols: {', '.join(sorted(registry))}")
    return registry[name]


def size_warnings(config: EvalConfig, model_name: str) -> list[str]:
    """What to warn about the sizes of ``config``: a network size other than the training size."""
    if config.training_size is None or config.training_size == config.size:
        return []
    warning = (f"{model_name} was trained at {config.training_size} px and is evaluated at {config.size} px: "
               f"the scores measure it at a size it has not learnt (evaluate with --size {config.training_size} "
               f"to compare with its training)")
    return [warning]


def evaluate(model, config: EvalConfig, *, progress: bool = True) -> dict:
    """Run ``model`` over the data of ``config`` with the protocol it declares; returns the
    metrics dict (see the protocol's module), with ``warnings`` (a list of lines)."""
    warnings = size_warnings(config, model.display_name)
    for warning in warnings:
        log.warning(warning)
    result = protocol(model.protocol).evaluate(model, config, progress=progress)
    result["warnings"] = warnings + result.get("warnings", [])
    return result


def sample_columns(model, batch: dict, *, generator: torch.Generator | None, hint_counts=(0, 3, 10)):
    """The training sample grid's columns for ``model`` (its protocol's choice)."""
    return protocol(model.protocol).sample_columns(model, batch, generator=generator, hint_counts=hint_counts)


def _protocol_of(result: dict) -> str:
    """A result's protocol (metrics.json files written before protocols were named have
    ``by_reference`` for reference models)."""
    return result.get("protocol") or ("reference" if "by_reference" in result else "hints")


def markdown_table(results: list[dict]) -> str:
    """One table per protocol, in the papers' layouts (hints first, then references, tags, styles,
    scribbles)."""
    tables = []
    for name in ("hints", "reference", "tags", "styles", "scribbles"):
        chosen = [r for r in results if _protocol_of(r) == name]
        if chosen:
            tables.append(protocol(name).table(chosen))
    return "\n".join(tables)


def sample_picture(samples: torch.Tensor, labels: list[str] | None = None, *,
                   min_cell: int = MIN_SAMPLE_CELL) -> torch.Tensor:
    """The picture of ``samples.png``: samples (N, columns, 3, S, S) in [0, 1] as a grid (rows:
    images), each image enlarged by a whole factor (nearest neighbour) to at least ``min_cell``
    px, under a header strip that names the columns when ``labels`` (one per column) are given.
    Returns (3, H, W) in [0, 1]."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from tinct.visual import sample_grid

    if samples.ndim != 5 or samples.shape[2] != 3:
        raise ValueError(f"samples must be (N, columns, 3, S, S), got {tuple(samples.shape)}")
    columns, cell = samples.shape[1], samples.shape[-1]
    if labels is not None and len(labels) != columns:
        raise ValueError(f"{columns} sample columns but {len(labels)} labels: {labels}")
    scale = max(1, -(-min_cell // cell))  # ceil
    grid = sample_grid(samples.float().clamp(0, 1))
    grid = grid.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)  # (3, N S k, C S k)
    if not labels:
        return grid
    width = grid.shape[2] // columns
    font_size = max(10, min(24, width // 12))
    font = ImageFont.load_default(size=font_size)
    header = Image.new("RGB", (grid.shape[2], font_size * 2), "white")
    draw = ImageDraw.Draw(header)
    for index, label in enumerate(labels):
        draw.text((index * width + width / 2, font_size), label, fill="black", font=font, anchor="mm")
    strip = torch.from_numpy(np.asarray(header, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return torch.cat([strip, grid], dim=1)


def write_report(result: dict, out: str | os.PathLike) -> Path:
    """Write metrics.json, results.md (with the result's ``warnings``) and samples.png into ``out``."""
    from tinct.image import save_image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = result.pop("samples", None)
    labels = result.pop("sample_labels", None)
    (out / "metrics.json").write_text(json.dumps(result, indent=2, allow_nan=True) + "\n")
    warnings = "".join(f"> **Warning:** {line}\n\n" for line in result.get("warnings", []))
    (out / "results.md").write_text(f"# {result['model']} on {result['config']['data']} "
                                    f"({result['images']} images, {result['config']['size']} px)\n\n"
                                    + warnings + markdown_table([result]))
    if samples is not None:  # rows: images; columns: the protocol's (sketch | guidance | output(s) | truth)
        save_image(sample_picture(samples, labels), out / "samples.png")
    return out
