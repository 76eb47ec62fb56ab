"""The ``tinct`` command: each subcommand is a thin function over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from tinct import __version__


def _jobs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one file, or every image of a folder mirrored into ``target``."""
    from tinct.image import is_image_file, list_images

    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise SystemExit(f"tinct: error: {source} is a folder, so the output must be a folder, not {target}")
        files = list_images(source)
        if not files:
            raise SystemExit(f"tinct: error: no images in {source}")
        return [(path, (target / path.relative_to(source)).with_suffix(".png")) for path in files]
    if not source.exists():
        raise SystemExit(f"tinct: error: no such file or folder: {source}")
    if target.is_dir():
        target = target / f"{source.stem}.png"
    elif not is_image_file(target):
        raise SystemExit(f"tinct: error: output {target} needs an image suffix such as .png")
    return [(source, target)]


def _run_jobs(jobs: list[tuple[Path, Path]], work: Callable[[Path, Path], None], *, desc: str) -> int:
    """Run ``work`` on every pair with a progress bar; keep going past failures, report them."""
    from tqdm import tqdm

    from tinct.image import ImageError

    failures: list[tuple[Path, str]] = []
    for source, target in tqdm(jobs, desc=desc, unit="image", disable=len(jobs) < 2, file=sys.stderr):
        try:
            work(source, target)
        except (ImageError, OSError, ValueError) as error:
            failures.append((source, str(error)))
    done = len(jobs) - len(failures)
    if len(jobs) > 1 or failures:
        print(f"{desc}: {done} of {len(jobs)} image(s) written", file=sys.stderr)
    for source, reason in failures:
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    return 1 if failures else 0


def _sketch(args: argparse.Namespace) -> int:
    from tinct.image import load_image, save_image
    from tinct.lines import XDoGParams, xdog

    params = XDoGParams() if args.sigma is None else XDoGParams(sigma=args.sigma)

    def work(source: Path, target: Path) -> None:
        save_image(xdog(load_image(source), params), target)

    return _run_jobs(_jobs(args.input, args.output), work, desc="sketch")


def _regions(args: argparse.Namespace) -> int:
    import numpy as np

    from tinct.image import load_image, load_sketch, save_image
    from tinct.lines import xdog
    from tinct.regions import colorize_labels, skeleton, trapped_ball

    try:
        radii = "auto" if args.radii == "auto" else tuple(int(r) for r in args.radii.split(","))
    except ValueError:
        raise SystemExit(f"tinct: error: --radii takes 'auto' or whole numbers such as 3,2,1, got {args.radii!r}") from None
    jobs = _jobs(args.input, args.output)
    # the skeletons mirror the outputs: same file names under the --skeleton path
    skeletons = dict(_jobs(args.input, args.skeleton)) if args.skeleton is not None else {}

    def work(source: Path, target: Path) -> None:
        sketch = xdog(load_image(source)) if args.from_color else load_sketch(source)
        labels = trapped_ball(sketch[0].numpy(), radii=radii, assign_lines=not args.keep_lines)
        save_image(colorize_labels(labels), target)
        if source in skeletons:  # white paper, black 1-px boundaries, like a sketch
            save_image(np.where(skeleton(labels), 0, 255).astype(np.uint8), skeletons[source])

    return _run_jobs(jobs, work, desc="regions")


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from tinct.evaluate import EvalConfig, evaluate, load_model, markdown_table, write_report

    if args.combine:
        try:
            results = [json.loads(Path(path).read_text()) for path in args.combine]
        except (OSError, ValueError) as error:
            raise SystemExit(f"tinct: error: cannot read a metrics.json: {error}") from None
        print(markdown_table(results))
        return 0
    if args.model is None or args.out is None:
        raise SystemExit("tinct: error: evaluate needs --model and --out (or --combine)")

    try:
        counts = tuple(int(k) for k in args.hints.split(","))
    except ValueError:
        raise SystemExit(f"tinct: error: --hints takes counts such as 0,1,3,5,10, got {args.hints!r}") from None
    config = EvalConfig(data=args.data, size=args.size, hint_counts=counts, max_hints=args.max_hints,
                        benchmark=args.benchmark, limit=args.limit, batch_size=args.batch_size, seed=args.seed,
                        samples=args.samples, weights=args.weights)
    try:
        model = load_model(args.model)
        result = evaluate(model, config)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"tinct: error: {error}") from None
    out = write_report(result, args.out)
    print((out / "results.md").read_text())
    print(f"wrote {out / 'metrics.json'}, {out / 'results.md'}, {out / 'samples.png'}", file=sys.stderr)
    return 0


def _train(args: argparse.Namespace) -> int:
    import logging

    from tinct.train import TrainConfig, fit, override, parse_assignments, read_overrides

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        sections = read_overrides(args.config) if args.config else {"train": {}, "model": {}}
        for section, values in parse_assignments(args.set).items():
            sections[section].update(values)
        flags = {key: getattr(args, key) for key in ("data", "sketch", "size", "batch_size", "epochs", "max_steps",
                                                     "limit", "seed", "accelerator", "devices", "strategy",
                                                     "num_workers", "checkpoint_every", "out")}
        sections["train"].update({key: value for key, value in flags.items() if value is not None})
        sections["train"].setdefault("out", f"runs/{args.method}")
        config = override(TrainConfig(), sections["train"], where="train")
        folder = fit(args.method, config, sections["model"], resume=args.resume, fast_dev_run=args.fast_dev_run)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"tinct: error: {error}") from None
    print(f"weights: {folder}/config.json + {folder}/model.safetensors", file=sys.stderr)
    return 0


def _devices(text: str):
    return text if text == "auto" else int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinct",
        description="Colorize line art. Run 'tinct COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"tinct {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sketch = commands.add_parser(
        "sketch",
        help="extract line art (XDoG) from colour images",
        description="Extract a sketch (black lines on white) from colour images with XDoG. "
        "IN may be a file or a folder (processed recursively; OUT is then a folder).",
    )
    sketch.add_argument("input", type=Path, metavar="IN", help="colour image or folder of images")
    sketch.add_argument("output", type=Path, metavar="OUT", help="output image (.png) or folder")
    sketch.add_argument("--sigma", type=float, default=None, help="XDoG blur σ in pixels (default: the pinned set)")
    sketch.set_defaults(run=_sketch)

    regions = commands.add_parser(
        "regions",
        help="split line art into flat regions (trapped-ball)",
        description="Segment line art into the regions a colorist would fill (trapped-ball fill: "
        "balls of radius 3, 2, 1 px do not pass through gaps in the lines). Writes a colour-coded "
        "region map. IN may be a file or a folder (processed recursively; OUT is then a folder).",
    )
    regions.add_argument("input", type=Path, metavar="IN", help="sketch (or colour image with --from-color) or folder")
    regions.add_argument("output", type=Path, metavar="OUT", help="colour-coded region map (.png) or folder")
    regions.add_argument("--skeleton", type=Path, default=None, metavar="PATH",
                         help="also write the 1-px region boundaries here (file, or folder for folder input)")
    regions.add_argument("--from-color", action="store_true",
                         help="IN is a colour image: extract its lines with XDoG first")
    regions.add_argument("--radii", default="auto",
                         help="ball radii in px, largest first, e.g. 3,2,1 (the classic set); 'auto' (default) "
                         "scales them with the stroke width: (3,2,1) for 2-3 px lines, larger for thick lines")
    regions.add_argument("--keep-lines", action="store_true",
                         help="leave line pixels unlabelled (black) instead of giving them to a neighbour")
    regions.set_defaults(run=_regions)

    evaluate = commands.add_parser(
        "evaluate",
        help="measure a model (PSNR, SSIM, CDR, bleeding, NRI, FID, LPIPS) on a dataset",
        description="Run a model over a dataset with 0, 1, 3, ... hints given by the model's own hint "
        "policy; write metrics.json, results.md (a table in the papers' layout) and samples.png "
        "(sketch | guidance | output | ground truth). FID and LPIPS need their published weight files "
        "(see --weights); without them they are reported as unavailable, with the reason.",
    )
    evaluate.add_argument("--model", default=None,
                          help="checkpoint folder, or baseline:flat-fill / baseline:oracle-fill")
    evaluate.add_argument("--data", default="openmoji:test",
                          help="openmoji:train|val|test or a folder of colour images (default: openmoji:test)")
    evaluate.add_argument("--size", type=int, default=128, help="image size in px (default: 128)")
    evaluate.add_argument("--hints", default="0,1,3,5,10", help="hint counts to report (default: 0,1,3,5,10)")
    evaluate.add_argument("--max-hints", type=int, default=30,
                          help="NRI: most hints tried; never reaching the benchmark counts this + 1 (default: 30)")
    evaluate.add_argument("--benchmark", type=float, default=20.0, help="NRI: PSNR to reach, dB (default: 20)")
    evaluate.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the random hint positions (default: 0)")
    evaluate.add_argument("--samples", type=int, default=8, help="images in samples.png (default: 8)")
    evaluate.add_argument("--weights", default=None,
                          help="file or folder with FID/LPIPS weights (default: $TINCT_WEIGHTS_DIR, "
                          "then ~/.cache/tinct/weights)")
    evaluate.add_argument("--out", type=Path, default=None, help="output folder")
    evaluate.add_argument("--combine", nargs="+", metavar="METRICS_JSON", default=None,
                          help="instead of evaluating: print one table from several runs' metrics.json")
    evaluate.set_defaults(run=_evaluate)

    train = commands.add_parser(
        "train",
        help="train a method (GuidingPainter, point hints, ...) with Lightning",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train METHOD on OpenMoji (default) or a folder of colour images. Writes logs (CSV, "
        "TensorBoard), a sample grid per epoch (samples/), Lightning checkpoints (checkpoints/, resumable) and "
        "the weights (model/config.json + model/model.safetensors) under --out. Settings come from the "
        "defaults, then --config YAML (sections train: and model:), then --set, then the flags below; an "
        "unknown key is an error.",
        epilog="examples:\n"
        "  tinct train guiding_painter --config configs/guiding_painter_cpu.yaml\n"
        "  tinct train point_hints --set model.base_channels=16 --epochs 2 --out runs/ph\n"
        "  tinct train guiding_painter --devices 4 --strategy ddp --batch-size 32   (4 GPUs)\n"
        "  tinct train guiding_painter --out runs/gp --resume auto                   (continue a run)",
    )
    train.add_argument("method", metavar="METHOD", help="guiding_painter or point_hints")
    train.add_argument("--config", type=Path, default=None, help="YAML file with train: and model: overrides")
    train.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override one setting, e.g. model.base_channels=16 or train.epochs=3 (repeatable)")
    train.add_argument("--data", default=None, help="openmoji (default) or a folder of colour images")
    train.add_argument("--sketch", default=None, choices=("line", "xdog"), help="OpenMoji sketches (default: line)")
    train.add_argument("--size", type=int, default=None, help="training image size in px (default: 128)")
    train.add_argument("--batch-size", type=int, default=None, help="images per step and device (default: 16)")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default: 10)")
    train.add_argument("--max-steps", type=int, default=None,
                       help="stop after this many optimiser steps (Lightning counts G and D: two per batch)")
    train.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: 0); CPU runs are exactly reproducible")
    train.add_argument("--accelerator", default=None, help="cpu, gpu or auto (default)")
    train.add_argument("--devices", type=_devices, default=None, help="number of devices or auto (default: 1)")
    train.add_argument("--strategy", default=None, help="auto (default), ddp, ddp_spawn, ...")
    train.add_argument("--num-workers", type=int, default=None, help="data loader workers (default: 0)")
    train.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default: 100)")
    train.add_argument("--out", default=None, help="run folder (default: runs/METHOD)")
    train.add_argument("--resume", default=None, metavar="CKPT|auto",
                       help="continue from a Lightning checkpoint, or 'auto' for OUT/checkpoints/last.ckpt")
    train.add_argument("--fast-dev-run", action="store_true", help="run one batch through everything, as a check")
    train.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("tinct: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
