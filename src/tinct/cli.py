"""The ``tinct`` command: each subcommand is a thin function over the library."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinct import __version__
from tinct.batch import UsageError

# the shipped models (checkpoints/), named in --help without loading anything
SHIPPED_NAMES = "guiding_painter, point_hints, scft, scft_skeleton, cwr_dual, cwr_concat, rasc, edge_enhance"


def _max_pixels(args: argparse.Namespace) -> None:
    """Apply ``--max-pixels`` to every image this command reads (before decoding)."""
    if getattr(args, "max_pixels", None) is not None:
        import tinct.image

        tinct.image.MAX_PIXELS = args.max_pixels


def _sketch(args: argparse.Namespace) -> int:
    from tinct.batch import plan, run
    from tinct.image import load_image, save_image
    from tinct.lines import XDoGParams, extract_lines, xdog

    _max_pixels(args)
    if args.method != "xdog" and args.sigma is not None:
        raise UsageError("--sigma is an XDoG parameter: use it with --method xdog")
    params = XDoGParams() if args.sigma is None else XDoGParams(sigma=args.sigma)

    def work(source: Path, target: Path) -> None:
        image = load_image(source)
        save_image(xdog(image, params) if args.method == "xdog" else extract_lines(image), target)

    return run(plan([args.input], args.output), work, desc="sketch")


def _regions(args: argparse.Namespace) -> int:
    import numpy as np

    from tinct.batch import plan, run
    from tinct.image import load_image, load_sketch, save_image
    from tinct.lines import xdog
    from tinct.regions import colorize_labels, skeleton, trapped_ball

    _max_pixels(args)
    try:
        radii = "auto" if args.radii == "auto" else tuple(int(r) for r in args.radii.split(","))
    except ValueError:
        raise UsageError(f"--radii takes 'auto' or whole numbers such as 3,2,1, got {args.radii!r}") from None
    batch = plan([args.input], args.output)
    # the skeletons mirror the outputs: same file names under the --skeleton path
    skeletons = dict(plan([args.input], args.skeleton).jobs) if args.skeleton is not None else {}

    def work(source: Path, target: Path) -> None:
        sketch = xdog(load_image(source)) if args.from_color else load_sketch(source)
        labels = trapped_ball(sketch[0].numpy(), radii=radii, assign_lines=not args.keep_lines)
        save_image(colorize_labels(labels), target)
        if source in skeletons:  # white paper, black 1-px boundaries, like a sketch
            save_image(np.where(skeleton(labels), 0, 255).astype(np.uint8), skeletons[source])

    return run(batch, work, desc="regions")


COLORIZE_FORMATS = (".png", ".ora", ".psd")
LAYERED_FORMATS = (".ora", ".psd")  # --layers applies to these


def _numbers(text: str, flag: str, usage: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"{flag} takes {usage}, got {text!r}") from None


def _point(text: str):
    from tinct.hintfile import HintFileError, Point, parse_color

    usage = "X,Y,COLOUR with X and Y in [0, 1] and a colour such as #f2c641 or #fc4"
    parts = text.split(",", 2)
    if len(parts) != 3:
        raise UsageError(f"--point takes {usage}, got {text!r}")
    x, y = _numbers(",".join(parts[:2]), "--point", usage)
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise UsageError(f"--point takes {usage}, got {text!r}")
    try:
        return Point(x=x, y=y, color=parse_color(parts[2].strip(), "--point colour"))
    except HintFileError as error:
        raise UsageError(str(error)) from None


def _scribble(text: str):
    from tinct.hintfile import DEFAULT_STROKE_WIDTH, Scribble

    usage = "x1,y1,x2,y2,...[@WIDTH] with coordinates in [0, 1] and WIDTH a fraction of the longer side"
    coordinates, _, width = text.partition("@")
    values = _numbers(coordinates, "--scribble", usage)
    widths = _numbers(width, "--scribble", usage) if width else [DEFAULT_STROKE_WIDTH]
    if (len(widths) != 1 or not 0 < widths[0] <= 1 or len(values) < 2 or len(values) % 2
            or not all(0.0 <= v <= 1.0 for v in values)):
        raise UsageError(f"--scribble takes {usage}, got {text!r}")
    return Scribble(points=tuple(zip(values[0::2], values[1::2])), width=widths[0])


def _request(args: argparse.Namespace):
    """The one guidance request of ``tinct colorize``: the hint file, then the flags."""
    from dataclasses import replace

    from tinct.guidance import Request
    from tinct.hintfile import HintFileError, Hints, load_hints, parse_style
    from tinct.image import ImageError

    try:
        hints = load_hints(args.hints) if args.hints is not None else Hints()
        if args.colors is not None:
            colors = [None if c.strip().lower() in ("", "-", "none") else c.strip() for c in args.colors.split(",")]
            hints = hints.with_regions(colors)
        if args.tags is not None:
            hints = replace(hints, tags=tuple(t.strip() for t in args.tags.split(",") if t.strip()))
        if args.style is not None:
            hints = replace(hints, style=parse_style(args.style, "--style"))
    except HintFileError as error:
        raise UsageError(str(error)) from None
    hints = hints.merged(Hints(points=tuple(_point(text) for text in args.point),
                               scribbles=tuple(_scribble(text) for text in args.scribble)))
    try:
        return Request.build(hints, reference=args.reference)
    except (ImageError, OSError, ValueError) as error:
        raise UsageError(f"--reference: cannot read the reference image: {error}") from None


def _colorize(args: argparse.Namespace) -> int:
    from tinct.batch import plan, run
    from tinct.colorizer import Colorizer, resolve_device
    from tinct.guidance import GuidanceError
    from tinct.hintfile import save_hints

    _max_pixels(args)
    try:
        resolve_device(args.device)
    except ValueError as error:
        raise UsageError(f"--device: {error}") from None
    try:
        colorizer = Colorizer.from_pretrained(args.model, size=args.size, device=args.device,
                                              paper_background=not args.paint_background,
                                              local_hints=not args.spread_hints)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise UsageError(f"--model: cannot load the model: {error}") from None
    if args.list_tags:
        tags = colorizer.guidance.tags
        if not tags:
            raise UsageError(f"model {colorizer.method} takes no colour tags; it takes: "
                             f"{colorizer.guidance.describe()}")
        print("\n".join(tags))
        return 0
    if args.output is None or not args.input:
        raise UsageError("colorize needs IN... and -o OUT (or --list-tags)")
    if args.styles is not None and args.styles < 1:
        raise UsageError(f"--styles takes a number of styles >= 1, got {args.styles}")
    if args.styles is not None and args.style is not None:
        raise UsageError("--styles N writes the styles of seeds 0 ... N-1; give --style or --styles, not both")
    batch = plan(args.input, args.output, suffix=f".{args.format or 'png'}", file_suffixes=COLORIZE_FORMATS,
                 format_flag=args.format)
    _check_layers(args, {target.suffix.lower() for _, target in batch.jobs})
    request = _request(args)
    try:
        colorizer.check(request if args.styles is None else _with_style(request, 0))
    except GuidanceError as error:
        raise UsageError(str(error)) from None
    if args.save_hints is not None:
        if args.save_hints.resolve() in {source.resolve() for source, _ in batch.jobs}:
            raise UsageError(f"--save-hints {args.save_hints} is an input image: tinct never writes over its inputs")
        try:
            save_hints(request.hints, args.save_hints)
        except OSError as error:
            raise UsageError(f"--save-hints: cannot write {args.save_hints} ({error.strerror or error})") from None
        print(f"wrote {args.save_hints}", file=sys.stderr)

    def work(source: Path, target: Path) -> None:
        if args.styles is None:
            jobs = [(request, target)]
        else:  # name_s0.png ... name_s{N-1}.png, seeds 0 ... N-1, one region map for all
            source = colorizer.prepare(source)
            jobs = [(_with_style(request, seed), target.with_name(f"{target.stem}_s{seed}{target.suffix}"))
                    for seed in range(args.styles)]
        for guidance, path in jobs:
            result = colorizer.colorize(source, request=guidance)
            for warning in result.warnings:
                print(f"tinct: warning: {path}: {warning}", file=sys.stderr)
            result.save(path, transparent=args.transparent, layers=args.layers or "single")

    return run(batch, work, desc="colorize")


def _check_layers(args: argparse.Namespace, suffixes: set[str]) -> None:
    """``--layers`` needs layered outputs, and ``per-color`` a .psd (the outputs' ``suffixes``)."""
    if args.layers is None:
        return
    flat = sorted(suffixes - set(LAYERED_FORMATS))
    if flat:
        raise UsageError(f"--layers {args.layers}: only layered files (.ora, .psd) have layers, and the output is "
                         f"{'/'.join(flat)}; write -o FILE.psd or FILE.ora (or --format psd for a folder)")
    if args.layers == "per-color" and suffixes - {".psd"}:
        raise UsageError("--layers per-color: one layer per flat colour is written to .psd files only, and the "
                         "output is .ora; write -o FILE.psd (or --format psd for a folder)")


def _with_style(request, seed: int):
    """``request`` with the style seed ``seed`` (``--styles``)."""
    from dataclasses import replace

    return replace(request, hints=replace(request.hints, style=seed))


def _training_size(model: str) -> int | None:
    """The size a checkpoint was trained at (its ``train_config.json``), None when unknown."""
    import json

    from tinct.methods import find_model

    if model.startswith("baseline:"):
        return None
    try:
        values = json.loads((find_model(model) / "train_config.json").read_text())
    except (OSError, ValueError):
        return None
    size = values.get("size") if isinstance(values, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from tinct.evaluate import EvalConfig, evaluate, markdown_table, write_report
    from tinct.methods import load_model

    if args.combine:
        try:
            results = [json.loads(Path(path).read_text()) for path in args.combine]
        except (OSError, ValueError) as error:
            raise UsageError(f"--combine: cannot read a metrics.json: {error}") from None
        print(markdown_table(results))
        return 0
    if args.model is None or args.out is None:
        raise UsageError("evaluate needs --model and --out (or --combine)")

    try:
        counts = tuple(int(k) for k in args.hints.split(","))
    except ValueError:
        raise UsageError(f"--hints takes counts such as 0,1,3,5,10, got {args.hints!r}") from None
    config = EvalConfig(data=args.data, size=args.size, hint_counts=counts, max_hints=args.max_hints,
                        benchmark=args.benchmark, limit=args.limit, batch_size=args.batch_size, seed=args.seed,
                        samples=args.samples, weights=args.weights, training_size=_training_size(args.model),
                        gaps=args.gaps, styles=args.styles, scribble_hints=args.scribble_hints)
    model = load_model(args.model)
    result = evaluate(model, config)
    out = write_report(result, args.out)
    print((out / "results.md").read_text())
    print(f"wrote {out / 'metrics.json'}, {out / 'results.md'}, {out / 'samples.png'}", file=sys.stderr)
    return 0


def _train(args: argparse.Namespace) -> int:
    import logging

    from tinct.train import TrainConfig, fit, override, parse_assignments, read_overrides

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sections = read_overrides(args.config) if args.config else {"train": {}, "model": {}}
    for section, values in parse_assignments(args.set).items():
        sections[section].update(values)
    flags = {key: getattr(args, key) for key in ("data", "sketch", "size", "batch_size", "epochs", "max_steps",
                                                 "limit", "seed", "accelerator", "devices", "strategy",
                                                 "num_workers", "checkpoint_every", "out", "init")}
    sections["train"].update({key: value for key, value in flags.items() if value is not None})
    sections["train"].setdefault("out", f"runs/{args.method}")
    config = override(TrainConfig(), sections["train"], where="train")
    folder = fit(args.method, config, sections["model"], resume=args.resume, fast_dev_run=args.fast_dev_run)
    print(f"weights: {folder}/config.json + {folder}/model.safetensors", file=sys.stderr)
    return 0


def _app(args: argparse.Namespace) -> int:
    from tinct.app import GradioMissing, serve

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"tinct: warning: serving on {args.host}: anyone who can reach this machine can use the app",
              file=sys.stderr)
    if args.share == "on":
        print("tinct: warning: --share on makes a public link through Gradio's share servers (needs internet)",
              file=sys.stderr)
    try:
        serve(args.model, host=args.host, port=args.port, share=args.share == "on", size=args.size, device=args.device,
              max_pixels=args.max_pixels, picker=not args.no_picker, threads=args.threads)
    except GradioMissing as error:
        raise UsageError(str(error)) from None
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(f"cannot start the app: {error}") from None
    except OSError as error:  # port taken, cannot bind
        raise ValueError(f"cannot start the app: {error}") from None
    return 0


def _data(args: argparse.Namespace) -> int:
    from tinct.data import sources

    if args.action == "list":
        rows = sources.list_sources()
        print("| source | licence | items | ready | on disk | how |")
        print("|---|---|---|---|---|---|")
        print("| openmoji | CC BY-SA 4.0 | 4,495 | built in | (renders cached on use) | nothing to do |")
        for row in rows:
            size = f"{row['bytes'] / 1e6:.1f} MB" if row.get("bytes") else "-"
            print(f"| {row['name']} | {row['licence']} | {row['items']:,} | {'yes' if row['ready'] else 'no'} | {size} "
                  f"| {row['command']} |")
        return 0
    if args.name is None:
        raise UsageError("tinct data prepare needs a source name; tinct data list shows them")
    if args.name not in sources.SOURCES:
        raise UsageError(f"no source {args.name!r}; sources: {', '.join(sorted(sources.SOURCES))}")
    folder = sources.prepare(args.name, from_tarball=args.from_tarball)
    print(f"{args.name}: ready in {folder}", file=sys.stderr)
    return 0


def _pixel_budget(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number of pixels such as 25000000, got {text!r}") from None
    if value < 64:
        raise argparse.ArgumentTypeError(f"must be at least 64 pixels, got {value}")
    return value


MAX_NETWORK_SIZE = 1024  # the networks' working size: more is slow and runs out of memory on a CPU


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number such as 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _network_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number of pixels such as 128, got {text!r}") from None
    if not 8 <= value <= MAX_NETWORK_SIZE:
        raise argparse.ArgumentTypeError(f"must be between 8 and {MAX_NETWORK_SIZE} px, got {value}")
    return value


def _devices(text: str):
    return text if text == "auto" else int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinct",
        description="Colorize line art. Run 'tinct COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"tinct {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="on an error, show the full traceback (for bug reports) instead of one line")
    images = argparse.ArgumentParser(add_help=False)
    images.add_argument("--max-pixels", type=_pixel_budget, default=None, metavar="N",
                        help="largest image to read, in pixels (default: 100000000 = 100 MP, or $TINCT_MAX_PIXELS); "
                        "larger images are refused from their header, before decoding")

    sketch = commands.add_parser(
        "sketch", parents=[common, images],
        help="extract line art (dark lines and colour boundaries) from colour images",
        description="Extract a sketch (black lines on white) from colour images. IN may be a file\n"
        "or a folder (processed recursively; OUT is then a folder).\n\n"
        "methods:\n"
        "  lines  (default) line art of any colour picture: dark lines of any colour (dark relative to\n"
        "         their surroundings, up to 13 px wide) at their own width, plus thin (2 px) lines on\n"
        "         the boundaries between flat colour areas, for art without outlines; smooth shading\n"
        "         draws nothing. Parameters measured on OpenMoji at 256 px.\n"
        "  xdog   XDoG with the pinned parameters, as the papers' synthetic sketches: finds near-black\n"
        "         lines only (dark-coloured outlines and colour boundaries are lost). --sigma sets its\n"
        "         blur in px (the training augmentation draws it from 0.4-0.9).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sketch.add_argument("input", type=Path, metavar="IN", help="colour image or folder of images")
    sketch.add_argument("output", type=Path, metavar="OUT", help="output image (.png) or folder")
    sketch.add_argument("--method", choices=("lines", "xdog"), default="lines",
                        help="lines: tinct.lines.extract_lines (default); xdog: XDoG with the pinned parameters")
    sketch.add_argument("--sigma", type=float, default=None,
                        help="with --method xdog: XDoG blur σ in pixels (default: the pinned 0.5)")
    sketch.set_defaults(run=_sketch)

    regions = commands.add_parser(
        "regions", parents=[common, images],
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

    colorize = commands.add_parser(
        "colorize", parents=[common, images],
        help="colorize line art with a trained model (PNG, or layers as OpenRaster or PSD)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Colorize sketches at their full resolution: the model paints a small copy, every "
        "region of the full-size region map gets one flat colour, and the original lines are laid over it "
        "unchanged. IN may be files and folders (folders are processed recursively). The format follows "
        "OUT's suffix: .png, or .ora (OpenRaster: lines, flat colours and the result as layers, for Krita, "
        "GIMP, MyPaint) or .psd (Photoshop, the same layers; --layers per-color splits the flat colours into "
        "one layer per colour); for several images OUT is a folder and --format chooses. A file that fails is "
        "reported at the end and the rest still run.",
        epilog="examples:\n"
        "  tinct colorize examples/sunflower_sketch.png -o out/sunflower.png\n"
        "  tinct colorize page.png -o page.ora --colors '#f2c641,#3a7bd5' --save-hints page_hints.json\n"
        "  tinct colorize scans/ -o colored/ --hints page_hints.json --format ora --transparent\n"
        "  tinct colorize page.png -o page.psd --layers per-color   (a layer per flat colour, to recolour)\n"
        "  tinct colorize house.png -o out/house.png --model rasc --styles 6   (house_s0.png ... house_s5.png)\n"
        "  tinct colorize house.png -o out/mix.png --model rasc --style 3,9@0.5\n"
        "  tinct colorize cat.png -o out/cat.png --model edge_enhance --point 0.4,0.5,#f2c641 "
        "--scribble 0.52,0.40,0.55,0.61@0.01\n"
        "hint files (JSON, normalised coordinates, so they apply at any size): see docs/hints.md",
    )
    colorize.add_argument("input", type=Path, nargs="*", metavar="IN", help="sketch files or folders")
    colorize.add_argument("-o", "--output", type=Path, default=None, metavar="OUT",
                          help="output file (.png, .ora or .psd) for one input, otherwise a folder (required)")
    colorize.add_argument("--model", default="guiding_painter", metavar="NAME|DIR",
                          help="a shipped model's name (" + SHIPPED_NAMES + "), a "
                          "checkpoint folder, or baseline:flat-fill / baseline:reference-in-place (default: "
                          "guiding_painter). Each model takes its own kinds of guidance; giving another is an "
                          "error that says what it takes")
    colorize.add_argument("--size", type=_network_size, default=128,
                          help="network working size in px, the longer side (default: 128, the shipped models' "
                          "training size); the output always has the input's size")
    colorize.add_argument("--hints", type=Path, default=None, metavar="FILE",
                          help="hint file (JSON: points, strokes, region colours; see docs/hints.md)")
    colorize.add_argument("--colors", default=None, metavar="HEX,HEX,...",
                          help="colours for the areas the model asks about, in its order (the app's "
                          "'Region k of N'), e.g. '#f2c641,-,#37d' ('-' skips one; #rrggbb or #rgb; models that "
                          "rank regions: GuidingPainter); replaces the hint file's regions; a colour past the "
                          "last area is a warning")
    colorize.add_argument("--point", action="append", default=[], metavar="X,Y,HEX",
                          help="a point hint at X,Y in [0, 1] (fractions of width and height), e.g. "
                          "0.4,0.3,#f2c641 (repeatable; added to the hint file's points)")
    colorize.add_argument("--reference", type=Path, default=None, metavar="IMG",
                          help="reference colour image (reference-based models: SCFT)")
    colorize.add_argument("--tags", default=None, metavar="TAG,TAG,...",
                          help="colour tags from the model's vocabulary, e.g. yellow,hair_brown (tag-based "
                          "models; --list-tags prints the vocabulary); replaces the hint file's tags")
    colorize.add_argument("--style", default=None, metavar="SEED|A,B@T",
                          help="style of a style-based model (RASC): a seed, a whole number (the same seed gives "
                          "the same picture), or A,B@T, the style between seeds A and B (T in [0, 1], linear in "
                          "the style code), e.g. 3,9@0.5; replaces the hint file's style (default: seed 0)")
    colorize.add_argument("--styles", type=int, default=None, metavar="N",
                          help="write N variations in the styles of seeds 0 ... N-1 (style-based models): OUT's "
                          "name with _s0 ... _s{N-1} before the suffix, e.g. out_s0.png")
    colorize.add_argument("--scribble", action="append", default=[], metavar="x1,y1,x2,y2,...[@W]",
                          help="a scribble over an edge where colour leaked, coordinates in [0, 1], W its width "
                          "as a fraction of the longer side (default 0.01) (models that take scribbles: "
                          "edge_enhance; repeatable; added to the hint file's scribbles). It also splits a region "
                          "of the result it crosses, e.g. over a gap in the lines, so each side gets its own colour")
    colorize.add_argument("--list-tags", action="store_true",
                          help="print the model's colour-tag vocabulary and exit")
    colorize.add_argument("--save-hints", type=Path, default=None, metavar="FILE",
                          help="write the guidance used (hint file + --colors, --point, --tags, --style, "
                          "--scribble) to FILE, for reuse")
    colorize.add_argument("--format", choices=("png", "ora", "psd"), default=None,
                          help="output format when OUT is a folder (default: png)")
    colorize.add_argument("--layers", choices=("single", "per-color"), default=None,
                          help="layered outputs (.ora, .psd) only: 'single' (default) writes one flat-colour "
                          "layer; 'per-color' (.psd) one layer per distinct flat colour, named by its hex (e.g. "
                          "'flat #3a7bd5'), each holding only that colour's pixels, to select and recolour an area "
                          "(at most 256 colours)")
    colorize.add_argument("--transparent", action="store_true",
                          help="make the background transparent: the paper around the drawing, pockets "
                          "reached from it through gaps in the lines included (unless hinted)")
    colorize.add_argument("--paint-background", action="store_true",
                          help="let the model colour the background; by default the paper around the drawing "
                          "stays paper unless a hint reaches it")
    colorize.add_argument("--spread-hints", action="store_true",
                          help="let a hint change areas it does not reach, as the network spreads it; by default "
                          "each point, stroke or region colour changes its own area and the rest keeps the "
                          "colours the model gives without hints")
    colorize.add_argument("--device", default="cpu", help="torch device for the model, e.g. cpu or cuda (default: cpu)")
    colorize.set_defaults(run=_colorize)

    evaluate = commands.add_parser(
        "evaluate", parents=[common],
        help="measure a model (PSNR, SSIM, CDR, bleeding, NRI, FID, LPIPS) on a dataset",
        description="Run a model over a dataset with 0, 1, 3, ... hints given by the model's own hint "
        "policy; write metrics.json, results.md (a table in the papers' layout) and samples.png "
        "(sketch | guidance | output | ground truth). A reference-based model (SCFT) is measured instead "
        "with two kinds of reference: the image's own colour-shifted, TPS-warped copy, and the same OpenMoji "
        "drawing in another skin tone (PSNR, SSIM, SC-PSNR, attention on the true correspondence). A style "
        "model (RASC) paints every sketch in --styles N styles (best-of-N PSNR, SSIM and CDR of the closest "
        "style, colour diversity between the styles, bleeding). An edge-enhancement model gets a scribble over "
        "an edge the colour bled across in each test image (local PSNR and CDR within 7 px of it, full PSNR, "
        "without and with the scribble). FID and "
        "LPIPS need their published weight files (see --weights); without them they are reported as "
        "unavailable, with the reason.",
    )
    evaluate.add_argument("--model", default=None,
                          help="a shipped model's name (e.g. guiding_painter), a checkpoint folder, or "
                          "baseline:flat-fill / baseline:oracle-fill (hints) / baseline:reference-in-place "
                          "(references); the model's declared protocol chooses how it is measured")
    evaluate.add_argument("--data", default="openmoji:test", metavar="SPEC",
                          help="openmoji[:SPLIT], a prepared source NAME[:SPLIT] (tinct data list), a folder (with "
                          "color/ and sketch/ subfolders: the given line art; otherwise colour images with extracted "
                          "lines), sbs:FOLDER (side-by-side pairs) or A+B (default: openmoji:test; test split unless "
                          "named)")
    evaluate.add_argument("--size", type=_network_size, default=128, help="image size in px (default: 128)")
    evaluate.add_argument("--hints", default="0,1,3,5,10", help="hint counts to report (default: 0,1,3,5,10)")
    evaluate.add_argument("--max-hints", type=int, default=30,
                          help="NRI: most hints tried; never reaching the benchmark counts this + 1 (default: 30)")
    evaluate.add_argument("--benchmark", type=float, default=20.0, help="NRI: PSNR to reach, dB (default: 20)")
    evaluate.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the random hint positions (default: 0)")
    evaluate.add_argument("--samples", type=int, default=8, help="images in samples.png (default: 8)")
    evaluate.add_argument("--gaps", action="store_true",
                          help="open the test sketches' lines first: 2-6 gaps of 2-8 px each (tags protocol)")
    evaluate.add_argument("--styles", type=int, default=8, metavar="N",
                          help="styles per sketch, seeds 0 ... N-1 (styles protocol: best-of-N PSNR, diversity; "
                          "default: 8)")
    evaluate.add_argument("--scribble-hints", type=int, default=3, metavar="K",
                          help="the model's own hints given with every scribble (scribbles protocol: edge "
                          "enhancement; default: 3)")
    evaluate.add_argument("--weights", default=None,
                          help="file or folder with FID/LPIPS weights (default: $TINCT_WEIGHTS_DIR, "
                          "then ~/.cache/tinct/weights)")
    evaluate.add_argument("--out", type=Path, default=None, help="output folder")
    evaluate.add_argument("--combine", nargs="+", metavar="METRICS_JSON", default=None,
                          help="instead of evaluating: print one table from several runs' metrics.json")
    evaluate.set_defaults(run=_evaluate)

    train = commands.add_parser(
        "train", parents=[common],
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
        "  tinct train point_hints --devices 2 --strategy ddp --accelerator cpu     (2 CPU processes)\n"
        "  tinct train guiding_painter --out runs/gp --resume auto                   (continue a run)\n"
        "  tinct train scft --config configs/scft_cpu.yaml --init runs/scft/model    (fine-tune: new schedule)",
    )
    train.add_argument("method", metavar="METHOD",
                       help="guiding_painter, point_hints, scft, cwr, rasc or edge_enhance")
    train.add_argument("--config", type=Path, default=None, help="YAML file with train: and model: overrides")
    train.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override one setting, e.g. model.base_channels=16 or train.epochs=3 (repeatable)")
    train.add_argument("--data", default=None, metavar="SPEC",
                       help="openmoji (default), a prepared source (tinct data list), a folder (color/ + sketch/ pairs, "
                       "or colour images with extracted lines), sbs:FOLDER, or a mix such as openmoji+twemoji*2")
    train.add_argument("--sketch", default=None, choices=("line", "xdog"), help="OpenMoji sketches (default: line)")
    train.add_argument("--size", type=_network_size, default=None, help="training image size in px (default: 128)")
    train.add_argument("--batch-size", type=int, default=None, help="images per step and device (default: 16)")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default: 10)")
    train.add_argument("--max-steps", type=int, default=None,
                       help="stop after this many optimiser steps (Lightning counts one per declared step and "
                       "batch: two for the GAN methods, G and D)")
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
    train.add_argument("--init", default=None, metavar="DIR",
                       help="start from the weights of an exported model folder (DIR/model.safetensors, e.g. "
                       "runs/NAME/model) with a fresh optimiser and schedule; the model settings must match")
    train.add_argument("--fast-dev-run", action="store_true", help="run one batch through everything, as a check")
    train.set_defaults(run=_train)

    app = commands.add_parser(
        "app", parents=[common],
        help="web app: colour a sketch in the browser (needs the app extra: Gradio)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Start tinct's web app (Gradio) and print its address. Upload a sketch, then:\n"
        "  Guided regions    the next region the model (GuidingPainter) asks about is shown highlighted\n"
        "                    over the sketch, with 'region k of N'; pick its colour (colour picker, hex\n"
        "                    entry, or a palette you can save and load as JSON), apply it or skip it, and\n"
        "                    the colorized image updates; undo goes back a step\n"
        "  Points & strokes  click on the sketch to place a point, or the vertices of a stroke, in the\n"
        "                    current colour\n"
        "  Reference         a colour picture to take the colours from (shown only for reference-based\n"
        "                    models such as SCFT, which open on this tab)\n"
        "  Colour tags       tick the colours the picture should have (tag models such as cwr_dual)\n"
        "  Styles            a style seed, a grid of variations to pick from, a slider between two\n"
        "                    styles (style models such as rasc)\n"
        "  Scribbles         click along an edge where colour leaked across (edge_enhance)\n"
        "A tab appears only for the guidance the model in use takes; the app opens on the one that fits.\n"
        "The model picker switches to any shipped model without a restart, keeping the sketch and the\n"
        "guidance the new model takes.\n"
        "Downloads, one click each: the result as PNG, as layered Photoshop (.psd) or OpenRaster (.ora:\n"
        "lines, flat colours, result) file, and the hints as a hint file (docs/hints.md) for\n"
        "'tinct colorize --hints'.\n\n"
        "The app binds to 127.0.0.1 (this machine only) unless --host says otherwise, and serves no file\n"
        "but its own uploads and outputs, kept in a temporary folder that is deleted when it stops (Ctrl+C).",
        epilog="examples:\n"
        "  tinct app                                   (shipped GuidingPainter, http://127.0.0.1:7860)\n"
        "  tinct app --model runs/gp/model --port 8000\n"
        "  tinct app --model point_hints --host 0.0.0.0   (reachable from the local network)\n"
        "  tinct app --model cwr_dual                  (colour tags)     tinct app --model rasc   (styles)\n"
        "needs Gradio: pip install -e \".[app]\"",
    )
    app.add_argument("--model", default="guiding_painter", metavar="NAME|DIR",
                     help="the model the app opens with: a shipped model's name (" + SHIPPED_NAMES + "), a "
                     "checkpoint folder or baseline:NAME (default: guiding_painter); the model picker lists it "
                     "with the shipped models")
    app.add_argument("--no-picker", action="store_true",
                     help="serve --model alone, without the model picker (the shipped models are not loaded)")
    app.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                     help="torch threads for the model (default: torch's choice; on a busy machine 1 is often "
                     "the fastest)")
    app.add_argument("--host", default="127.0.0.1",
                     help="address to bind (default: 127.0.0.1, this machine only; 0.0.0.0 for the whole network)")
    app.add_argument("--port", type=int, default=None,
                     help="port (default: the first free one from 7860)")
    app.add_argument("--share", choices=("off", "on"), default="off",
                     help="'on' also makes a public link through Gradio's share servers (default: off)")
    app.add_argument("--size", type=_network_size, default=128,
                     help="network working size in px (default: 128); results have the sketch's full size")
    app.add_argument("--device", default="cpu", help="torch device for the model, e.g. cpu or cuda (default: cpu)")
    app.add_argument("--max-pixels", type=_pixel_budget, default=None, metavar="N",
                     help="largest upload, in pixels (default: 25000000 = 25 MP); larger pictures are refused from "
                     "their header, before decoding, with a message in the app")
    app.set_defaults(run=_app)

    data = commands.add_parser(
        "data", parents=[common],
        help="list and prepare the datasets beyond OpenMoji (Twemoji, IconPark, Streamline Freehand)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Datasets with true line art besides the built-in OpenMoji. 'tinct data list' shows each source, "
        "its licence, size and whether it is ready; 'tinct data prepare NAME' fetches the pinned npm package "
        "(npm pack NAME@VERSION, needs Node.js) into tinct's cache ($TINCT_CACHE_DIR, default ~/.cache/tinct); "
        "--from FILE takes a tarball you downloaded yourself. A prepared source is then --data NAME[:SPLIT] for "
        "tinct evaluate and tinct train.",
        epilog="examples:\n"
        "  tinct data list\n"
        "  tinct data prepare twemoji\n"
        "  tinct data prepare iconpark --from ~/Downloads/iconify-json-icon-park-1.2.4.tgz\n"
        "  tinct evaluate --model point_hints --data twemoji:test --out runs/eval/twemoji",
    )
    data.add_argument("action", choices=("list", "prepare"), help="list the sources, or prepare one")
    data.add_argument("name", nargs="?", default=None, help="the source to prepare (see tinct data list)")
    data.add_argument("--from", dest="from_tarball", type=Path, default=None, metavar="FILE",
                      help="a tarball of the pinned package version, downloaded yourself (npm pack NAME@VERSION)")
    data.set_defaults(run=_data)
    return parser


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    """Run one command behind one error boundary: a usage error (a flag, an output path) is
    one line and exit status 2; a problem with the data, a model or a file is one line and
    exit status 1; anything else is reported as a likely bug in one line, with the traceback
    only under ``--debug``."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("tinct: interrupted", file=sys.stderr)
        return 130
    except UsageError as error:
        if debug:
            raise
        print(f"tinct: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:  # ImageError, HintFileError, GuidanceError, missing files, ...
        if debug:
            raise
        print(f"tinct: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except MemoryError:
        if debug:
            raise
        print("tinct: error: out of memory (lower --max-pixels or --size, or free memory)", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - the boundary: no traceback unless asked for
        if debug:
            raise
        print(f"tinct: error: {type(error).__name__}: {_one_line(error)} (unexpected: run again with --debug for "
              f"the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
