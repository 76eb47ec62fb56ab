"""Dark Snail (GuidingPainter, §4.5, Fig. 4): does the model ask for the largest region first?

The canvas is cut like a snail shell, clockwise: the left half is rectangle 1, the top half
of what remains is rectangle 2, then the right half of the rest, its bottom half, its left
half, and so on, so every rectangle is half the area of the one before. ``count``
rectangles leave a last piece of the size of the smallest one, the snail's eye; it stays
blank paper (white in the ground truth), so it needs no hint. The sketch is the 1-px black
outline of every piece (and a frame round the canvas) on white. In the ground truth every
rectangle is filled with pure red, green or blue, drawn per rectangle and per sample, so no
rectangle's colour can be guessed without a hint; lines are black.

A small GuidingPainter is trained on this one layout with the official losses (plain loop:
Adam on G and D, a generator step then a discriminator step, τ annealed with progress).
Since every rectangle is an independent fair draw, the hint for rectangle r saves
reconstruction loss in proportion to its area, so the best order of asking is 1, 2, 3, ...
The paper finds its model learns it (Fig. 4a, except for the 4th segment), and that a
model trained with ``N_h = N_c`` always (Fig. 4b, ``--fixed-hints`` here) does not.

After training, the ranking of the sketch (``rank_regions``, eval mode) is compared with the
rectangles: per priority channel the piece it covers most, the purity (share of the
segment's pixels in that piece; outline pixels count against it), the coverage (share of
the piece's pixels in the segment) and every piece the channel holds most of. The verdict
takes the channels in priority order whose segment is mostly one rectangle (purity >= 0.5),
lists the rectangles they cover in order of first appearance, and says "yes" when that list
starts with the ``--judge`` largest rectangles in descending order of area. A table then
gives, on 64 fresh colourings, how often each rectangle is painted the right primary when
channels 1..k get their mean true colour as hints (chance 1/3): what each hint buys. Beware
that one hint can carry several colours: the areas halve, so the mean colour of a segment
spanning several rectangles is a binary code for all of their colours, and a model may lump
small rectangles into one segment and still paint them, or some of them, from its hint.

Defaults (one core: ~4-6 minutes with other jobs on the machine): 32 px, 5 rectangles,
N_c = 7, U-Nets of width 8 and depth 3, batch 8, 1000 steps, Adam lr 2e-3 (the paper's
2e-4 is too slow for a run this short), seed 0; the run is deterministic.

``--fixed-hints`` sets ``hint_p`` to 1e-12 instead of overriding the model: the bounded
geometric N_h is then N_c except with probability below N_c * 1e-12 per sample.

    python benchmarks/dark_snail.py [--steps 1000] [--size 32] [--count 5] [--seed 0]
                                    [--segments N_c] [--lr 2e-3] [--judge 3]
                                    [--fixed-hints] [--out snail.png]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from tinct.methods.guiding_painter import Config, GuidingPainter

FIXED_HINT_P = 1e-12  # --fixed-hints: P(N_h < N_c) <= N_c * FIXED_HINT_P per sample
PRIMARIES = torch.eye(3)  # red, green, blue (rows)
MIN_PURITY = 0.5  # a channel "covers" a rectangle when most of its pixels lie in it

# ----------------------------------------------------------------------------- the toy


def _snail_pieces(size: int, count: int) -> tuple[list[tuple[int, int, int, int]], tuple[int, int, int, int]]:
    """The ``count`` rectangles and the leftover piece, each as (top, left, height, width)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    width_cuts, height_cuts = (count + 1) // 2, count // 2
    if size % (2**width_cuts) or size % (2**height_cuts) or size // 2**width_cuts < 2:
        raise ValueError(
            f"size must be a multiple of {2**width_cuts} with pieces at least 2 px wide for count = {count}, got {size}"
        )
    top, left, height, width = 0, 0, size, size  # what is left to cut
    rectangles = []
    for index in range(count):
        side = index % 4  # clockwise: left, top, right, bottom
        if side in (0, 2):
            width //= 2
            cut_left = left if side == 0 else left + width
            rectangles.append((top, cut_left, height, width))
            left = left + width if side == 0 else left
        else:
            height //= 2
            cut_top = top if side == 1 else top + height
            rectangles.append((cut_top, left, height, width))
            top = top + height if side == 1 else top
    return rectangles, (top, left, height, width)


def snail_rectangles(size: int, count: int) -> list[tuple[int, int, int, int]]:
    """The snail's rectangles on a ``size x size`` canvas, largest first: (top, left, height, width).

    Rectangle i + 1 has half the area of rectangle i; they are cut clockwise (left half, top
    half of the rest, right half, bottom half, ...). Together with the leftover piece (the
    size of the last rectangle, not returned) they tile the canvas. Raises ``ValueError`` when
    ``size`` does not halve ``count`` times into pieces at least 2 px wide.
    """
    return _snail_pieces(size, count)[0]


def snail_labels(size: int, count: int) -> torch.Tensor:
    """(size, size) long map: 0 on the outlines, i in 1..count inside rectangle i, and
    ``count + 1`` inside the leftover piece (blank paper in the ground truth).

    Each piece draws its top row and left column; the canvas's last row and column close
    the frame, so neighbouring pieces share a 1-px line.
    """
    rectangles, rest = _snail_pieces(size, count)
    labels = torch.zeros(size, size, dtype=torch.long)
    for label, (top, left, height, width) in enumerate([*rectangles, rest], start=1):
        labels[top : top + height, left : left + width] = label
    for top, left, height, width in [*rectangles, rest]:
        labels[top, left : left + width] = 0
        labels[top : top + height, left] = 0
    labels[-1, :] = 0
    labels[:, -1] = 0
    return labels


def snail_batch(batch_size: int, size: int, count: int, generator: torch.Generator | None = None) -> dict:
    """A batch of the toy: the same sketch, fresh colours.

    Returns ``sketch`` (B, 1, H, W) in {0, 1} (0 = ink), ``color`` (B, 3, H, W) (each
    rectangle pure red, green or blue, drawn independently per rectangle and sample; lines
    black, the leftover piece white) and ``labels`` (B, H, W) from :func:`snail_labels`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    labels = snail_labels(size, count)  # (H, W)
    choice = torch.randint(3, (batch_size, count), generator=generator)  # (B, count)
    palette = torch.cat(
        [
            torch.zeros(batch_size, 1, 3),  # 0: ink
            PRIMARIES[choice],  # 1..count: (B, count, 3)
            torch.ones(batch_size, 1, 3),  # count + 1: paper
        ],
        dim=1,
    )  # (B, count + 2, 3)
    color = palette[torch.arange(batch_size)[:, None, None], labels[None]]  # (B, H, W, 3)
    sketch = (labels > 0).float()[None, None].expand(batch_size, 1, size, size).clone()
    return {"sketch": sketch, "color": color.permute(0, 3, 1, 2).contiguous(),
            "labels": labels[None].expand(batch_size, size, size).clone()}


# ----------------------------------------------------------------------------- training


def snail_config(*, count: int, size: int, num_segments: int | None = None, fixed_hints: bool = False) -> Config:
    """A small GuidingPainter for the toy: N_c = ``num_segments`` (default count + 2: one
    per rectangle, the leftover and the lines), width 8, depth up to 3."""
    depth = max(1, min(3, int(math.log2(size)) - 2))  # 32 px -> 3 (4 px bottleneck)
    return Config(
        num_segments=count + 2 if num_segments is None else num_segments,
        base_channels=8,
        depth=depth,
        disc_channels=8,
        disc_layers=2,
        hint_p=FIXED_HINT_P if fixed_hints else Config.hint_p,
    )


def train(
    config: Config,
    *,
    steps: int,
    size: int,
    count: int,
    batch_size: int = 8,
    lr: float | None = None,
    seed: int = 0,
    log_every: int = 0,
) -> tuple[GuidingPainter, list[dict[str, float]]]:
    """Train on fresh snail batches: G step (official losses) then D step, Adam on each.

    Returns the model (train mode) and the logs of every step.
    """
    torch.manual_seed(seed)
    model = GuidingPainter(config)
    declared = model.training_steps()  # generator, then discriminator (the method contract)
    optimizers = [torch.optim.Adam(step.parameters, lr=step.lr if lr is None else lr, betas=step.betas)
                  for step in declared]
    data_generator = torch.Generator().manual_seed(seed)
    noise_generator = torch.Generator().manual_seed(seed + 1)
    history = []
    model.train()
    for step in range(steps):
        batch = snail_batch(batch_size, size, count, data_generator)
        progress = step / max(steps - 1, 1)
        carry, logs = {}, {}
        for declared_step, optimizer in zip(declared, optimizers):
            loss, step_logs, passed_on = declared_step.run(batch, carry, progress=progress, generator=noise_generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            carry, logs = {**carry, **passed_on}, {**logs, **step_logs}
        history.append(logs)
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"  step {step:5d}  " + "  ".join(f"{key} {value:.4f}" for key, value in logs.items()), flush=True)
    return model, history


# ----------------------------------------------------------------------------- the report


def region_report(segments: torch.Tensor, labels: torch.Tensor, count: int) -> list[dict]:
    """Per priority channel: the piece it covers most, purity, coverage and area rank.

    segments: (N, H, W) one-hot over N; labels: (H, W) from :func:`snail_labels`.
    Rows have ``channel`` (0-based), ``pixels``, ``label`` (0 = lines, 1..count =
    rectangle, count + 1 = leftover; None for an empty channel), ``purity``, ``coverage``
    (of the label's pixels), ``area_rank`` (1 = largest rectangle; None for lines and
    the leftover) and ``holds``: every label with most of its pixels in this channel.
    """
    if segments.ndim != 3 or labels.shape != segments.shape[-2:]:
        raise ValueError(
            f"segments must be (N, H, W) and labels (H, W), got {tuple(segments.shape)}, {tuple(labels.shape)}"
        )
    one_hot_labels = F.one_hot(labels, count + 2).permute(2, 0, 1).to(segments.dtype)  # (count + 2, H, W)
    overlap = torch.einsum("nhw,lhw->nl", segments, one_hot_labels)  # (N, count + 2)
    label_pixels = one_hot_labels.sum(dim=(1, 2))  # (count + 2,)
    areas = [height * width for _, _, height, width in snail_rectangles(labels.shape[-1], count)]
    area_rank = {label: 1 + sum(other > area for other in areas) for label, area in enumerate(areas, start=1)}
    rows = []
    for channel in range(segments.shape[0]):
        pixels = int(segments[channel].sum())
        if pixels == 0:
            rows.append({"channel": channel, "pixels": 0, "label": None, "purity": 0.0, "coverage": 0.0,
                         "area_rank": None, "holds": []})
            continue
        label = int(overlap[channel].argmax())
        rows.append({
            "channel": channel,
            "pixels": pixels,
            "label": label,
            "purity": float(overlap[channel, label]) / pixels,
            "coverage": float(overlap[channel, label] / label_pixels[label]),
            "area_rank": area_rank.get(label),
            "holds": [other for other in range(count + 2) if overlap[channel, other] > 0.5 * label_pixels[other]],
        })
    return rows


def rectangle_order(rows: list[dict], *, min_purity: float = MIN_PURITY) -> list[int]:
    """Rectangles covered (purity >= ``min_purity``) by the channels, in priority order of
    first appearance; lines, the leftover and mixed channels are skipped."""
    order = []
    for row in rows:
        if row["area_rank"] is not None and row["purity"] >= min_purity and row["label"] not in order:
            order.append(row["label"])
    return order


def verdict(rows: list[dict], *, count: int, judge: int = 3, min_purity: float = MIN_PURITY) -> tuple[bool, list[int]]:
    """"Largest region first": the first ``min(judge, count)`` covered rectangles, in
    priority order, are rectangles 1, 2, ... (descending area). Returns (yes, order)."""
    order = rectangle_order(rows, min_purity=min_purity)
    first = min(judge, count)
    return order[:first] == list(range(1, first + 1)), order


def format_report(rows: list[dict], *, count: int, size: int, judge: int = 3) -> str:
    rectangles = snail_rectangles(size, count)
    names = {0: "lines", count + 1: "leftover"}
    lines = ["channel  pixels  covers         area-rank  purity  coverage  holds (> half of)"]
    for row in rows:
        if row["label"] is None:
            lines.append(f"{row['channel'] + 1:7d}  {0:6d}  (empty)")
            continue
        label = row["label"]
        if label in names:
            name = names[label]
        else:
            _, _, height, width = rectangles[label - 1]
            name = f"rect {label} {height}x{width}"
        rank = "-" if row["area_rank"] is None else str(row["area_rank"])
        holds = ", ".join(names.get(other, f"rect {other}") for other in row["holds"]) or "-"
        lines.append(f"{row['channel'] + 1:7d}  {row['pixels']:6d}  {name:<13s} {rank:>9s}  {row['purity']:6.2f}  "
                     f"{row['coverage']:8.2f}  {holds}")
    yes, order = verdict(rows, count=count, judge=judge)
    prefix = 0
    while prefix < len(order) and order[prefix] == prefix + 1:
        prefix += 1
    lines.append(
        f"largest region first: {'yes' if yes else 'no'} (order of rectangles by channel: "
        f"{', '.join(map(str, order)) or 'none'}; judged on the first {min(judge, count)}; "
        f"{prefix} of {count} in descending-area order from the start; "
        f"{len(order)} of {count} rectangles have a channel with purity >= {MIN_PURITY})"
    )
    return "\n".join(lines)


@torch.no_grad()
def colour_accuracy(model: GuidingPainter, batch: dict, segments: torch.Tensor, count: int) -> torch.Tensor:
    """What each hint buys: (N_c + 1, count) share of samples whose rectangle r is painted
    the right primary (argmax of the painted mean colour inside r) when channels 1..k are
    hinted with their mean true colour, for k = 0..N_c (chance: 1/3).

    batch: from :func:`snail_batch`; segments: (N_c, H, W), the ranking of its sketch.
    """
    sketch, color, labels = batch["sketch"], batch["color"], batch["labels"][0]
    batch_size, num_segments = sketch.shape[0], segments.shape[0]
    segments = segments[None].expand(batch_size, -1, -1, -1)  # (B, N_c, H, W)
    means = torch.einsum("bchw,bnhw->bnc", color, segments) / segments.sum(dim=(2, 3)).clamp_min(1)[..., None]
    inside = F.one_hot(labels, count + 2).permute(2, 0, 1)[1 : count + 1].to(color)  # (count, H, W)
    truth = torch.einsum("bchw,rhw->brc", color, inside).argmax(dim=2)  # (B, count)
    accuracy = torch.zeros(num_segments + 1, count)
    for hinted in range(num_segments + 1):
        painted = model.colorize(sketch, means[:, :hinted], segments=segments)
        guess = torch.einsum("bchw,rhw->brc", painted, inside).argmax(dim=2)  # (B, count)
        accuracy[hinted] = (guess == truth).float().mean(dim=0)
    return accuracy


def save_figure(path: Path, model: GuidingPainter, sketch: torch.Tensor, color: torch.Tensor,
                segments: torch.Tensor) -> Path:
    """Top row: sketch, ground truth, then the mask of every priority channel (white = in
    the segment). Bottom row: blank, the colorization without hints, then the colorization
    with channels 1..i hinted by their mean true colour (as a user would answer). x4, 1-px gaps.

    sketch: (1, H, W); color: (3, H, W); segments: (N, H, W) one-hot.
    """
    from tinct.image import save_image

    means = torch.einsum("chw,nhw->nc", color, segments) / segments.sum(dim=(1, 2)).clamp_min(1)[:, None]  # (N, 3)
    paintings = [model.colorize(sketch[None], means[None, :hinted], segments=segments[None])[0]
                 for hinted in range(segments.shape[0] + 1)]
    top = [sketch.expand(3, -1, -1), color, *(segment[None].expand(3, -1, -1) for segment in segments)]
    bottom = [torch.ones_like(color), *paintings]
    gap = torch.full((3, sketch.shape[-2], 1), 0.5)
    rows = [torch.cat([torch.cat([panel, gap], dim=2) for panel in row], dim=2) for row in (top, bottom)]
    figure = torch.cat([rows[0], torch.full((3, 1, rows[0].shape[-1]), 0.5), rows[1]], dim=1)
    return save_image(figure.repeat_interleave(4, dim=1).repeat_interleave(4, dim=2), path)


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--count", type=int, default=5, help="rectangles (the leftover piece is extra)")
    parser.add_argument("--segments", type=int, default=None, help="N_c (default: count + 2)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam lr of G and D (paper: 2e-4; see above)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge", type=int, default=3, help="rectangles that must come in order for 'yes'")
    parser.add_argument("--fixed-hints", action="store_true", help="N_h = N_c during training (Fig. 4b)")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="save a PNG of the segments per channel")
    args = parser.parse_args()

    torch.set_num_threads(1)
    try:
        config = snail_config(count=args.count, size=args.size, num_segments=args.segments,
                              fixed_hints=args.fixed_hints)
        rectangles = snail_rectangles(args.size, args.count)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    print(f"Dark Snail: {args.size}x{args.size}, {args.count} rectangles "
          f"{', '.join(f'{h}x{w}' for _, _, h, w in rectangles)} + leftover; "
          f"steps {args.steps}, batch {args.batch_size}, lr {args.lr}, seed {args.seed}, "
          f"{'N_h = N_c (fixed)' if args.fixed_hints else f'N_h ~ bounded geometric p = {config.hint_p}'}")
    print(f"model: num_segments {config.num_segments}, base_channels {config.base_channels}, depth {config.depth}, "
          f"disc {config.disc_channels}x{config.disc_layers}, tau {config.tau_start} -> {config.tau_end}, "
          f"weights rec/adv/tv/smooth "
          f"{config.weight_rec}/{config.weight_adv}/{config.weight_tv}/{config.weight_smooth}; "
          f"torch threads {torch.get_num_threads()}")
    start = time.perf_counter()
    model, history = train(config, steps=args.steps, size=args.size, count=args.count, batch_size=args.batch_size,
                           lr=args.lr, seed=args.seed, log_every=args.log_every)
    elapsed = time.perf_counter() - start
    print(f"trained in {elapsed:.1f} s ({1000 * elapsed / max(args.steps, 1):.0f} ms/step)")

    model.eval()
    batch = snail_batch(1, args.size, args.count, torch.Generator().manual_seed(args.seed + 12345))
    segments = model.rank_regions(batch["sketch"])[0]  # (N_c, H, W)
    rows = region_report(segments, batch["labels"][0], args.count)
    print(format_report(rows, count=args.count, size=args.size, judge=args.judge))
    samples = snail_batch(64, args.size, args.count, torch.Generator().manual_seed(args.seed + 54321))
    accuracy = colour_accuracy(model, samples, segments, args.count)
    print("colour accuracy of each rectangle (64 fresh samples, chance 0.33) with channels 1..k hinted:")
    print("    k  " + "  ".join(f"rect {label}" for label in range(1, args.count + 1)))
    for hinted, row in enumerate(accuracy.tolist()):
        print(f"  {hinted:3d}  " + "  ".join(f"{value:6.2f}" for value in row))
    if args.out is not None:  # for the picture, rectangle i is red, green, blue, red, ... by i
        labels = batch["labels"][0]
        color = batch["color"][0].clone()
        for label in range(1, args.count + 1):
            color[:, labels == label] = PRIMARIES[(label - 1) % 3][:, None]
        print(f"saved {save_figure(args.out, model, batch['sketch'][0], color, segments)}")
    print(f"total {time.perf_counter() - start:.1f} s")

if __name__ == "__main__":
    main()
