"""Interactive latency of the web app (``tinct app``) in a real browser at 2048 px (prints
figures; not a test; issue 18).

The app is started in this process on 127.0.0.1 (its uploads in a temporary folder) with the
default model (``guiding_painter``, ``checkpoints/`` or the shipped weights); headless Chromium
(Debian's ``chromium``, driven by Playwright as ``tests/test_app_browser.py`` does) opens it,
uploads ``examples/sunflower_sketch.png`` scaled to 2048 x 2048 px with PIL, opens *Points &
strokes* and clicks points on the colorized picture, one after the other.

1. **Click to updated picture** (target <= 400 ms): from the browser's click on the picture to
   the new picture decoded and painted (the page's own clock: the click event, then the new
   image's ``load``, ``decode()`` and the next animation frame), median over ``--clicks``
   clicks, each waited for.
2. **Queued clicks**: ``--burst`` clicks 100 ms apart, without waiting: how many landed (all
   must) and how long until the last one's picture.
3. **Memory**: the server's (this process's) resident memory (RSS) after the sketch is opened
   and after ``--updates`` more point clicks (200 by default; it should stay flat).

    python benchmarks/app_interactive.py [--clicks 20] [--updates 200] [--size 2048] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch
from interactive import _rss_mb  # benchmarks/interactive.py, beside this script
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 400.0
TIMEOUT_MS = 120_000
LOST_S = 20  # a click whose picture does not come within this is lost

#: records, in the page, each click on the picture and each picture painted (its time and address:
#: the browser may load one picture twice, and only a new address is a new picture)
WATCH = """() => {
    window.tinctTimes = {clicks: [], painted: []};
    document.addEventListener("click", event => {
        if (event.target.closest && event.target.closest("#result")) window.tinctTimes.clicks.push(performance.now());
    }, true);
    document.addEventListener("load", event => {
        const image = event.target;
        if (!(image instanceof HTMLImageElement) || !image.closest("#result")) return;
        const src = image.currentSrc || image.src;
        image.decode().catch(() => null).then(() => requestAnimationFrame(
            () => window.tinctTimes.painted.push({time: performance.now(), src})));
    }, true);
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(times):7.1f} ms  (min {ordered[0]:.1f}, p90 {p90:.1f}, n={len(times)})"


def _positions(count: int, size: int):
    """``count`` click positions as fractions of the picture, on a grid over the flower's head."""
    for index in range(count):
        yield 0.32 + 0.36 * ((index * 7) % 19) / 18, 0.15 + 0.45 * ((index * 11) % 23) / 22


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048, help="the sketch's side in px (default: 2048)")
    parser.add_argument("--clicks", type=int, default=20, help="timed clicks, each waited for (default: 20)")
    parser.add_argument("--burst", type=int, default=4, help="clicks 100 ms apart, not waited for (default: 4)")
    parser.add_argument("--updates", type=int, default=200, help="point clicks between the memory readings")
    parser.add_argument("--model", default="guiding_painter",
                        help="a model that takes points (default: guiding_painter)")
    parser.add_argument("--threads", type=int, default=None,
                        help="the server's torch threads (default: torch's choice; 1 where another job keeps a "
                             "core busy)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no Chromium on PATH (Debian: apt-get install chromium)")
    folder = Path(tempfile.mkdtemp(prefix="tinct-bench-"))
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")  # before Gradio is imported
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from tinct.app import build_app, launch_options

    sketch_file = folder / "sunflower_2048.png"
    Image.open(REPO / "examples" / "sunflower_sketch.png").convert("RGB").resize(
        (args.size, args.size), Image.LANCZOS).save(sketch_file)
    demo = build_app(args.model, output_dir=folder / "outputs")
    demo.queue(max_size=32).launch(prevent_thread_lock=True, quiet=True, **launch_options(port=_free_port()))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.goto(demo.local_url)
            print(f"model {args.model}; sketch {args.size} x {args.size} px; "
                  f"torch {torch.get_num_threads()} thread(s); server RSS before the sketch: {_rss_mb():.0f} MB")
            start = time.perf_counter()
            page.locator("#sketch input[type=file]").set_input_files(str(sketch_file))
            expect(page.locator("#status")).to_contain_text(f"{args.size} x {args.size} px sketch",
                                                            timeout=TIMEOUT_MS)
            expect(page.locator("#result img")).to_be_visible(timeout=TIMEOUT_MS)
            print(f"opening the sketch (upload, prepare, first picture): {time.perf_counter() - start:.1f} s")
            page.get_by_role("tab", name="Points & strokes").click()
            page.wait_for_timeout(1000)
            page.evaluate(WATCH)
            picture = page.locator("#result img")
            box = picture.bounding_box()

            def click(x: float, y: float) -> None:
                page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)

            def painted() -> int:
                return page.evaluate("() => window.tinctTimes.painted.length")

            lost = []

            def timed_clicks(count: int, positions) -> list[float]:
                """Click at each position once the picture of the click before is painted; the times
                to the next picture with a new address (a click that brings none within LOST_S counts
                as lost)."""
                times = []
                for x, y in positions:
                    seen, clicked = painted(), page.evaluate("() => window.tinctTimes.clicks.length")
                    shown = picture.get_attribute("src")
                    fresh = (f"window.tinctTimes.painted.slice({seen}).find(p => !p.src.endsWith("
                             f"{json.dumps(shown.split('/')[-1])}))")
                    click(x, y)
                    try:
                        page.wait_for_function(f"() => {fresh} !== undefined", timeout=LOST_S * 1000)
                    except PlaywrightTimeout:
                        lost.append((x, y))
                        continue
                    times.append(page.evaluate(f"() => {fresh}.time - window.tinctTimes.clicks[{clicked}]"))
                    page.wait_for_function("() => document.querySelector('#result img').complete")
                    if len(times) == count:
                        break
                return times

            times = timed_clicks(args.clicks, _positions(args.clicks, args.size))
            met = "met" if statistics.median(times) <= TARGET_MS else "MISSED"
            print(f"1. click to updated picture: {_summary(times)}  target <= {TARGET_MS:.0f} ms: {met}")

            rss_start = _rss_mb()
            placed = args.clicks
            clicks_before = page.evaluate("() => window.tinctTimes.clicks.length")
            start = time.perf_counter()
            for x, y in list(_positions(placed + args.burst, args.size))[placed:]:
                click(x, y)
                page.wait_for_timeout(100)
            placed += args.burst
            with page.expect_download(timeout=TIMEOUT_MS) as saved:  # in the queue, after the clicks
                page.locator("#download-hints").click()
            landed = len(json.loads(Path(saved.value.path()).read_text())["points"])
            burst_clicks = page.evaluate("() => window.tinctTimes.clicks.length") - clicks_before
            print(f"2. {burst_clicks} clicks 100 ms apart: {landed - len(times)} of them landed; the last picture "
                  f"and the downloads after {time.perf_counter() - start:.1f} s")

            start = time.perf_counter()
            more = timed_clicks(args.updates, _positions(args.updates, args.size))
            print(f"3. server RSS after the sketch and {placed} clicks: {rss_start:.0f} MB; after {len(more)} more "
                  f"clicks ({time.perf_counter() - start:.0f} s): {_rss_mb():.0f} MB")
            print(f"   click to updated picture over those clicks: {_summary(more)}")
            print(f"   clicks that brought no new picture within {LOST_S} s (lost): {len(lost)}")
            browser.close()
    finally:
        demo.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
