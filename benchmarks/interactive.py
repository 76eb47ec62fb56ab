"""Interactive latency of ``tinct.Colorizer`` on this CPU (prints figures; not a test).

1. **One hint update at 256 px** (target <= 150 ms for GuidingPainter): the sketch is
   prepared once (region map, network input and, for GuidingPainter, the region ranking:
   what an app computes when a sketch is opened); each update is then one
   ``colorize(prepared, ...)`` with a new colour (a new region colour for GuidingPainter, a
   new point for the point-hint model): the colorization network at 256 px plus the
   flat-colour composite at 256 px.
2. **One hint update at 2048 px** (target <= 150 ms, issue 18): the 2048 px sketch prepared
   once, then ``colorize(prepared, ...)`` with a new point (point hints) or new region colours
   (GuidingPainter), the network at its 128 px working size; and the process's memory (RSS)
   before and after 200 such updates (it should stay flat).
3. **A 2048 px native-resolution colorization** (target <= 2 s): ``colorize(sketch)`` end
   to end from a 2048 x 2048 sketch tensor: trapped-ball region map at full resolution, the
   network at its 128 px working size, flat colours per full-size region, the original lines
   on top. Also split into ``prepare`` and the rest, and the time to write PNG and ORA.

4. **The web app in a browser** (target <= 400 ms from click to updated picture, at 2048 px;
   the server's memory over a 200-update session): ``benchmarks/app_interactive.py``, run as
   its own process (headless Chromium and Gradio: ``.ci/run`` installs both); ``--no-browser``
   leaves it out.

Models: ``checkpoints/guiding_painter`` and ``checkpoints/point_hints`` when they exist;
otherwise randomly initialised models of the same architecture as the shipped ones
(``configs/<method>_cpu.yaml``, ``model:`` section), which run exactly as fast. The sketch
is ``examples/sunflower_sketch.png`` (512 px), scaled to 256 and 2048 px.

    python benchmarks/interactive.py [--repeats 15] [--threads N] [--no-browser]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from tinct.colorizer import Colorizer, load_model
from tinct.hintfile import Hints, Point
from tinct.image import load_sketch, resize
from tinct.methods import METHODS

REPO = Path(__file__).resolve().parents[1]
TARGET_UPDATE_MS = 150.0
TARGET_NATIVE_S = 2.0
TARGET_UPDATE_2048_MS = 150.0


def _model(method: str):
    folder = REPO / "checkpoints" / method
    if (folder / "model.safetensors").is_file():
        return load_model(folder), f"shipped weights {folder.relative_to(REPO)}"
    config_file = REPO / "configs" / f"{method}_cpu.yaml"
    overrides = {}
    if config_file.is_file():
        overrides = (yaml.safe_load(config_file.read_text()) or {}).get("model", {})
    cls = METHODS[method]
    torch.manual_seed(0)
    model = cls(cls.config_class(**overrides)).eval()
    described = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
    return model, f"RANDOM weights (no {folder.relative_to(REPO)}), architecture of {config_file.name}: {described}"


def _times(function, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        function(0)
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        function(index + 1)
        times.append(time.perf_counter() - start)
    return times


def _summary(times: list[float], unit: str = "ms") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    median = statistics.median(times) * scale
    return f"median {median:7.2f} {unit}  (min {ordered[0] * scale:.2f}, p90 {p90 * scale:.2f})"


def _hue(index: int) -> tuple[float, float, float]:
    import colorsys

    return colorsys.hsv_to_rgb((index * 0.618034) % 1.0, 0.7, 0.9)


def _updater(method: str, colorizer: Colorizer, prepared):
    """One hint update per call: new region colours (GuidingPainter) or a new point."""
    if method == "guiding_painter":
        return lambda index: colorizer.colorize(prepared, regions_colors=[_hue(index), _hue(index + 1), _hue(index + 2)])

    def update(index):
        point = Point(x=0.3 + 0.01 * (index % 40), y=0.4, color=_hue(index), size=0.02)
        colorizer.colorize(prepared, hints=Hints(points=(point,)))

    return update


def _rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per figure (default: 15)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-browser", action="store_true", help="leave out 4., the web app in a browser")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.repeats} timed runs per figure\n")

    example = load_sketch(REPO / "examples" / "sunflower_sketch.png")  # (1, 512, 512)
    sketch_256 = resize(example, (256, 256))
    sketch_2048 = resize(example, (2048, 2048))

    print("1. one hint update at 256 px (prepared sketch; network at 256 px)")
    for method in ("guiding_painter", "point_hints"):
        model, source = _model(method)
        colorizer = Colorizer(model, size=256)
        prepared = colorizer.prepare(sketch_256)
        update = _updater(method, colorizer, prepared)
        times = _times(update, args.repeats)
        target = ""
        if method == "guiding_painter":
            met = "met" if statistics.median(times) * 1000 <= TARGET_UPDATE_MS else "MISSED"
            target = f"  target <= {TARGET_UPDATE_MS:.0f} ms: {met}"
        print(f"   {method:16s} {_summary(times)}{target}")
        print(f"   {'':16s} model: {source}")
        start = time.perf_counter()
        colorizer.prepare(sketch_256)
        print(f"   {'':16s} opening the sketch (prepare, once): {(time.perf_counter() - start) * 1000:.1f} ms")

    print("\n2. one hint update at 2048 px (prepared sketch; network at 128 px)")
    for method in ("point_hints", "guiding_painter"):
        model, source = _model(method)
        colorizer = Colorizer(model, size=128)
        prepared = colorizer.prepare(sketch_2048)
        update = _updater(method, colorizer, prepared)
        times = _times(update, args.repeats)
        met = "met" if statistics.median(times) * 1000 <= TARGET_UPDATE_2048_MS else "MISSED"
        print(f"   {method:16s} {_summary(times)}  target <= {TARGET_UPDATE_2048_MS:.0f} ms: {met}")
        print(f"   {'':16s} model: {source}")
    before = _rss_mb()
    for index in range(200):
        update(index)
    print(f"   {'':16s} memory (RSS) before / after 200 more updates: {before:.0f} / {_rss_mb():.0f} MB")

    print("\n3. 2048 x 2048 native-resolution colorization (network at 128 px), end to end from a tensor")
    model, source = _model("guiding_painter")
    colorizer = Colorizer(model, size=128)
    colors = ["#f2c641", "#3a7bd5", "#6ab04c"]
    times = _times(lambda index: colorizer.colorize(sketch_2048, regions_colors=colors), max(3, args.repeats // 3),
                   warmup=1)
    met = "met" if statistics.median(times) <= TARGET_NATIVE_S else "MISSED"
    print(f"   guiding_painter  {_summary(times, 's')}  target <= {TARGET_NATIVE_S:.0f} s: {met}")
    print(f"   {'':16s} model: {source}")
    prepare_times = _times(lambda index: colorizer.prepare(sketch_2048), 3, warmup=0)
    prepared = colorizer.prepare(sketch_2048)
    rest = _times(lambda index: colorizer.colorize(prepared, regions_colors=colors), 3, warmup=0)
    print(f"   {'':16s} of which prepare (region map, network input, ranking): {_summary(prepare_times, 's')}")
    print(f"   {'':16s} network + flat colours + lines:                         {_summary(rest, 's')}")
    result = colorizer.colorize(prepared, regions_colors=colors)
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".png", ".ora"):
            start = time.perf_counter()
            result.save(Path(folder) / f"out{suffix}")
            print(f"   {'':16s} writing {suffix}: {time.perf_counter() - start:.2f} s")
    ink = torch.from_numpy(result.ink)
    kept = torch.equal(result.image[:, ink], sketch_2048.expand(3, -1, -1)[:, ink])
    print(f"   {'':16s} regions at 2048 px: {int(result.regions.max())}; line pixels kept exactly: {kept}")

    if not args.no_browser:
        print("\n4. the web app in a browser at 2048 px (benchmarks/app_interactive.py)", flush=True)
        command = [sys.executable, str(Path(__file__).with_name("app_interactive.py"))]
        if args.threads is not None:
            command += ["--threads", str(args.threads)]
        if subprocess.run(command, check=False).returncode != 0:
            print("   the browser benchmark did not finish (see above)")


if __name__ == "__main__":
    main()
