"""The web app in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Skipped only when Playwright, Gradio or Chromium is missing (``.ci/run`` installs all three).
"""

import base64
import io
import json
import logging
import re
import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
from colorize_helpers import MeanReference, tiny_guiding_painter
from PIL import Image

pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]"; .ci/run installs it)')
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright is not installed (pip install -e \".[dev]\"; .ci/run installs it)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)", allow_module_level=True)

from tinct.app import build_app, launch_options  # noqa: E402  (after the skips: needs nothing, but reads clearer)
from tinct.colorizer import Colorizer  # noqa: E402
from tinct.methods.base import Guidance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SKETCH = REPO / "examples" / "sunflower_sketch.png"
COLOR = "#e05a47"
# raised inside Gradio's own routes (its use of starlette), not by tinct
pytestmark = pytest.mark.filterwarnings("ignore:'HTTP_422_UNPROCESSABLE_ENTITY' is deprecated:DeprecationWarning")
TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def serve_app(tmp_path, monkeypatch):
    """Serves the app for a model on 127.0.0.1 from a background thread; returns its address."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # uploads and served copies stay in tmp
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    served = []

    def serve_app(model, **options):
        demo = build_app(model, output_dir=tmp_path / "outputs", **options)
        launch = launch_options(port=_free_port())
        assert launch["server_name"] == "127.0.0.1" and "allowed_paths" not in launch
        demo.queue().launch(prevent_thread_lock=True, quiet=True, **launch)
        served.append(demo)
        return demo.local_url

    try:
        yield serve_app
    finally:
        for demo in served:
            demo.close()


@pytest.fixture
def app_url(serve_app, tmp_path):
    """The app with a tiny random GuidingPainter."""
    return serve_app(tiny_guiding_painter().save_pretrained(tmp_path / "model"), size=64)


@contextmanager
def browser_page(url: str, *, width: int = 1600, height: int = 1200):
    """A page of headless Chromium (``width x height``, 1600 x 1200 by default) open at ``url``;
    the browser closes after."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            yield page
        finally:
            browser.close()


def _fetch(page, url: str) -> bytes:
    response = page.request.get(urljoin(page.url, url))
    assert response.ok, f"{url}: HTTP {response.status}"
    return response.body()


def _click_picture(page, x: float, y: float, size: tuple[int, int] | None = None) -> None:
    """Click pixel ``(x, y)`` (column, row) of the picture the page shows, wherever the page
    draws it inside its frame (scaled to fit, centred); size: the picture's ``(width, height)``
    (default: read from the page, once the picture has loaded)."""
    picture = page.locator("#result img")
    box = picture.bounding_box()
    natural = size or picture.evaluate("async image => { await image.decode().catch(() => null); "
                                       "return [image.naturalWidth, image.naturalHeight]; }")
    scale = min(box["width"] / natural[0], box["height"] / natural[1])
    left = (box["width"] - natural[0] * scale) / 2
    top = (box["height"] - natural[1] * scale) / 2
    picture.click(position={"x": left + (x + 0.5) * scale, "y": top + (y + 0.5) * scale})


def _new_picture(page, before: str) -> np.ndarray:
    """Wait for the page's picture to be replaced (its address was ``before``); its pixels."""
    sync_api.expect(page.locator("#result img")).not_to_have_attribute("src", before, timeout=TIMEOUT_MS)
    return _result(page)


def _download(page, kind: str) -> bytes:
    """What one click on the download button ``kind`` (png, psd, ora, hints) saves."""
    with page.expect_download(timeout=TIMEOUT_MS) as saved:
        page.locator(f"#download-{kind}").click()
    return Path(saved.value.path()).read_bytes()


def _hints(page) -> dict:
    """The hint file one click on its download button saves."""
    return json.loads(_download(page, "hints"))


def test_upload_colour_one_region_and_download(app_url, tmp_path):
    expect = sync_api.expect
    sketch = np.asarray(Image.open(SKETCH).convert("RGB"))
    assert sketch.shape == (512, 512, 3)
    with browser_page(app_url) as page:
        page.locator("#sketch input[type=file]").set_input_files(str(SKETCH))
        count = page.locator("#region-count")
        expect(count).to_contain_text(re.compile(r"Region 1 of \d+"), timeout=TIMEOUT_MS)
        total = int(re.search(r"of (\d+)", count.inner_text()).group(1))
        assert total >= 2  # the tiny model ranks several regions of the sunflower
        expect(page.locator("#result img")).to_be_visible(timeout=TIMEOUT_MS)

        # the colour goes in through the hex entry; "apply" colours region 1, the app asks about region 2
        hex_entry = page.locator("#hex input, #hex textarea").first
        hex_entry.fill(COLOR)
        hex_entry.press("Enter")
        page.locator("#apply-color").click()
        expect(count).to_contain_text(f"Region 2 of {total}", timeout=TIMEOUT_MS)

        shown = np.asarray(Image.open(io.BytesIO(_fetch(page, page.locator("#result img").get_attribute("src")))))
        assert shown.shape[:2] == (512, 512)  # the sketch's full size, not the 64 px network size
        shown = shown[..., :3]
        ink = sketch.max(axis=2) < 128
        assert ink.sum() > 1000 and np.array_equal(shown[ink], sketch[ink])  # the sketch's own lines
        assert (np.abs(shown.astype(int) - sketch.astype(int)).max(axis=2) > 8).sum() > 1000  # coloured
        magenta = (shown == (255, 0, 170)).all(axis=2)
        assert magenta.sum() > 50 and not (magenta & ink).any()  # region 2's outline, over the result

        # the points' tab draws no region: the picture is the result itself
        before = page.locator("#result img").get_attribute("src")
        page.get_by_role("tab", name="Points & strokes").click()
        result = _new_picture(page, before)
        assert not (result == (255, 0, 170)).all(axis=2).any() and np.array_equal(result[ink], sketch[ink])
        assert not ((result != shown).any(axis=2) & ink).any()  # only the marks went, never on a line

        # downloads, one click each: the hint file records exactly that one region colour; the PNG is the result
        hints = _hints(page)
        assert [c for c in hints["regions"] if c is not None] == [COLOR]
        assert hints["points"] == [] and hints["strokes"] == []
        png = np.asarray(Image.open(io.BytesIO(_download(page, "png"))))
        assert np.array_equal(png[..., :3], result)
        assert page.locator("#download-file").count() == 0 or not page.locator("#download-file").is_visible()

        # a click in the middle of the picture places a point there, in the current colour; the next
        # download holds it
        _click_picture(page, 256, 256)
        hints = _hints(page)
        (point,) = hints["points"]
        assert point["color"] == COLOR and abs(point["x"] - 0.5) < 0.02 and abs(point["y"] - 0.5) < 0.02

        # nothing outside the app's own files is served
        denied = page.request.get(urljoin(app_url, f"gradio_api/file={REPO / 'README.md'}"))
        assert denied.status == 403
        page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
    assert (tmp_path / "app.png").stat().st_size > 10_000


class MeanReferenceAndPoints(MeanReference):
    """A reference model that takes points too: two tabs, of which the reference opens first."""

    guidance = Guidance(points=True, reference=True, required=("reference",))


def test_reference_model_opens_on_its_reference_tab(serve_app):
    url = serve_app(Colorizer(MeanReferenceAndPoints(), size=32))
    expect = sync_api.expect
    with browser_page(url) as page:
        reference_tab = page.get_by_role("tab", name="Reference")
        expect(reference_tab).to_have_attribute("aria-selected", "true", timeout=TIMEOUT_MS)
        expect(page.get_by_role("tab", name="Points & strokes")).to_have_attribute("aria-selected", "false")
        assert page.get_by_role("tab").count() == 2  # no guided-regions tab
        expect(page.locator("#reference")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator("#status")).to_contain_text("it takes points, strokes, a reference image")


def test_refused_uploads_and_failures_are_short_messages_and_the_session_stays(serve_app, tmp_path, monkeypatch,
                                                                               caplog):
    from tinct.app.ui import UNEXPECTED

    caplog.set_level(logging.ERROR, logger="tinct.app")
    # the sunflower (512 x 512 = 262,144 px) fits this budget; a 600 x 600 picture does not
    url = serve_app(tiny_guiding_painter().save_pretrained(tmp_path / "model"), size=64, max_pixels=300_000)
    large = tmp_path / "large poster.png"
    Image.new("RGB", (600, 600), "white").save(large)
    expect = sync_api.expect
    with browser_page(url) as page:
        page.locator("#sketch input[type=file]").set_input_files(str(SKETCH))
        count, status = page.locator("#region-count"), page.locator("#status")
        expect(count).to_contain_text(re.compile(r"Region 1 of \d+"), timeout=TIMEOUT_MS)
        total = int(re.search(r"of (\d+)", count.inner_text()).group(1))
        page.locator("#skip-region").click()
        expect(count).to_contain_text(f"Region 2 of {total}", timeout=TIMEOUT_MS)

        # a sketch over the budget: the message names the file, the session stays
        page.locator("#sketch input[type=file]").set_input_files(str(large))
        refused = ("large poster.png is 600 x 600 px (0.36 MP); the app takes at most 0.3 MP. "
                   "Scale it down, or start the app with --max-pixels.")
        toast = page.locator("[data-testid=toast-body].error", has_text=refused)
        expect(toast).to_be_visible(timeout=TIMEOUT_MS)
        assert "gradio" not in toast.inner_text() and str(tmp_path) not in toast.inner_text()
        expect(count).to_contain_text(f"Region 2 of {total}")  # under Gradio's "Error" mark
        expect(status).to_contain_text("512 x 512 px sketch")
        toast.get_by_test_id("toast-close").click()

        # a bug in a handler: a sentence in the browser, the traceback in the server's log
        def broken(session):
            raise RuntimeError(f"secret detail in {tmp_path}")

        monkeypatch.setattr("tinct.app.modes.regions.skip_region", broken)
        page.locator("#skip-region").click()
        expect(page.locator("[data-testid=toast-body].error", has_text=UNEXPECTED)).to_be_visible(
            timeout=TIMEOUT_MS)
        assert "secret" not in page.content()
        assert "Traceback" in caplog.text and f"RuntimeError: secret detail in {tmp_path}" in caplog.text
        monkeypatch.undo()
        page.locator("#skip-region").click()  # the session before the failure goes on
        expect(count).to_contain_text(f"Region 3 of {total}", timeout=TIMEOUT_MS)


def _result(page) -> np.ndarray:
    """The colorized picture the page shows, RGB uint8 ``(H, W, 3)``."""
    return np.asarray(Image.open(io.BytesIO(_fetch(page, page.locator("#result img").get_attribute("src")))))[..., :3]


def _upload_sunflower(page) -> np.ndarray:
    """Upload the sunflower and wait for its first result; returns the sketch as RGB uint8."""
    page.locator("#sketch input[type=file]").set_input_files(str(SKETCH))
    sync_api.expect(page.locator("#status")).to_contain_text("512 x 512 px sketch", timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#result img")).to_be_visible(timeout=TIMEOUT_MS)
    return np.asarray(Image.open(SKETCH).convert("RGB"))


def _screenshot(page, path: Path) -> None:
    """A screenshot of the whole page once no event is pending (Gradio dims the outputs of one)
    and every picture has loaded."""
    page.wait_for_function("() => [...document.images].every(image => image.complete) && "
                           "!document.querySelector('.wrap.default:not(.hide), .wrap.center:not(.hide)')",
                           timeout=TIMEOUT_MS)
    page.screenshot(path=str(path), full_page=True)


def _yellowness(picture: np.ndarray, inside: np.ndarray) -> float:
    """How yellow ``picture`` is where ``inside``: mean of (R + G) / 2 - B, in [-255, 255]."""
    rgb = picture[inside].astype(float)
    return float(((rgb[:, 0] + rgb[:, 1]) / 2 - rgb[:, 2]).mean())


def test_tags_model_colours_the_flower_with_the_ticked_tag(serve_app, tmp_path):
    expect = sync_api.expect
    with browser_page(serve_app("cwr_dual")) as page:
        expect(page.get_by_role("tab", name="Colour tags")).to_have_attribute("aria-selected", "true",
                                                                            timeout=TIMEOUT_MS)
        assert page.get_by_role("tab").count() == 1  # the model takes tags only
        sketch = _upload_sunflower(page)
        status = page.locator("#status")
        expect(status).to_contain_text("No colour tags.")
        ink = sketch.max(axis=2) < 128
        head = np.zeros(ink.shape, bool)
        head[60:310, 160:420] = True  # the flower's head: petals and heart
        before = _result(page)
        painted = head & ~ink & (np.abs(before.astype(int) - 255).max(axis=2) > 0)  # paper the model painted
        assert painted.sum() > 10_000 and abs(_yellowness(before, painted)) < 40  # greyish without tags

        page.locator("#tags").get_by_label("yellow", exact=True).check()
        expect(status).to_contain_text("Tags: yellow.", timeout=TIMEOUT_MS)
        expect(page.locator("#tags").get_by_label("yellow", exact=True)).to_be_checked()
        result = _result(page)
        assert result.shape == (512, 512, 3) and np.array_equal(result[ink], sketch[ink])  # the lines, exactly
        assert _yellowness(result, painted) > 100  # the petals and the heart are yellow now
        heart = result[185, 290].astype(int)
        assert heart[0] > 150 and heart[1] > 150 and heart[2] < 100, heart

        page.locator("#tags").get_by_label("blue", exact=True).check()
        expect(status).to_contain_text("Tags: yellow, blue.", timeout=TIMEOUT_MS)
        page.locator("#undo-tags").click()
        expect(status).to_contain_text("Tags: yellow.", timeout=TIMEOUT_MS)
        expect(page.locator("#tags").get_by_label("blue", exact=True)).not_to_be_checked()
        _screenshot(page, tmp_path / "app_tags.png")
    assert (tmp_path / "app_tags.png").stat().st_size > 10_000


def test_style_model_seeds_and_variations(serve_app, tmp_path):
    expect = sync_api.expect
    with browser_page(serve_app("rasc")) as page:
        expect(page.get_by_role("tab", name="Styles")).to_have_attribute("aria-selected", "true", timeout=TIMEOUT_MS)
        sketch = _upload_sunflower(page)
        status = page.locator("#status")
        expect(status).to_contain_text("Style: seed 0.")
        ink = sketch.max(axis=2) < 128
        seed_zero = _result(page)

        seed_box = page.locator("#style-seed input")
        seed_box.fill("3")
        expect(status).to_contain_text("Style: seed 3.", timeout=TIMEOUT_MS)
        seed_three = _result(page)
        assert np.array_equal(seed_three[ink], sketch[ink])
        assert (np.abs(seed_three.astype(int) - seed_zero.astype(int)).max(axis=2) > 20).sum() > 5_000  # restyled

        page.locator("#style-variations").click()
        expect(status).to_contain_text("Seeds 3 to 8: click one to use it.", timeout=TIMEOUT_MS)
        previews = page.locator("#style-gallery img")
        expect(previews).to_have_count(6, timeout=TIMEOUT_MS)
        first = np.asarray(Image.open(io.BytesIO(_fetch(page, previews.nth(0).get_attribute("src")))))[..., :3]
        assert first.shape == (256, 256, 3)  # small previews of the 512 px sketch
        previews.nth(2).click()
        expect(status).to_contain_text("Style: seed 5.", timeout=TIMEOUT_MS)
        expect(seed_box).to_have_value("5")
        seed_five = _result(page)
        preview = np.asarray(Image.open(io.BytesIO(_fetch(page, previews.nth(2).get_attribute("src")))))[..., :3]
        small = np.asarray(Image.fromarray(seed_five).resize((256, 256), Image.BOX)).astype(int)
        assert np.abs(small - preview.astype(int)).mean() < 3  # the preview is the picture it picks

        seed_box.fill("3")  # the same seed, the same picture
        expect(status).to_contain_text("Style: seed 3.", timeout=TIMEOUT_MS)
        assert np.array_equal(_result(page), seed_three)
        # the preview clicked before is not marked as the style in use
        page.mouse.move(0, 0)
        borders = [previews.nth(i).locator("xpath=ancestor::button[1]").evaluate(
            "element => getComputedStyle(element).borderColor") for i in range(3)]
        assert borders[2] == borders[0] == borders[1], borders

        # halfway between seed 3 (A: the seed in use) and seed 8 (B)
        expect(page.locator("#style-a input")).to_have_value("3")
        page.locator("#style-b input").fill("8")  # at 0 the mix is seed A itself
        mix = page.locator("#style-mix input[type=number]")
        mix.fill("0.5")
        mix.press("Tab")  # the slider's number box takes it when it loses the focus
        expect(status).to_contain_text("Style: seeds 3 to 8 at 0.50.", timeout=TIMEOUT_MS)
        halfway = _result(page)
        assert np.array_equal(halfway[ink], sketch[ink])
        assert not np.array_equal(halfway, seed_three) and not np.array_equal(halfway, seed_five)
        _screenshot(page, tmp_path / "app_styles.png")
    assert (tmp_path / "app_styles.png").stat().st_size > 10_000


def test_scribble_model_scribbles_across_a_petal(serve_app, tmp_path):
    expect = sync_api.expect
    with browser_page(serve_app("edge_enhance")) as page:
        expect(page.get_by_role("tab", name="Points & strokes")).to_have_attribute("aria-selected", "true",
                                                                                 timeout=TIMEOUT_MS)
        sketch = _upload_sunflower(page)
        page.get_by_role("tab", name="Scribbles").click()  # in the model's queue: before the clicks
        status = page.locator("#status")
        # across the top petal, from left to right of it (pixels (250, 100) and (330, 100) of 512)
        for x, step in ((250, "1 scribble (drawing: 1 point)."), (330, "1 scribble (drawing: 2 points).")):
            _click_picture(page, x, 100)
            expect(status).to_contain_text(step, timeout=TIMEOUT_MS)
        page.locator("#end-scribble").click()
        expect(status).to_contain_text("Scribble finished", timeout=TIMEOUT_MS)

        hints = _hints(page)
        (scribble,) = hints["scribbles"]
        (x0, y0), (x1, y1) = scribble["points"]
        assert abs(x0 - 250 / 512) < 0.02 and abs(x1 - 330 / 512) < 0.02 and abs(y0 - 100 / 512) < 0.02
        assert abs(y1 - y0) < 0.01 and scribble["width"] == 0.01
        shown = _result(page)
        assert tuple(shown[round(y0 * 512), round((x0 + x1) / 2 * 512)]) == (255, 0, 170)  # drawn in magenta
        ink = sketch.max(axis=2) < 128
        assert np.array_equal(shown[ink], sketch[ink])  # over the result, under its lines
        _screenshot(page, tmp_path / "app_scribbles.png")
    assert (tmp_path / "app_scribbles.png").stat().st_size > 10_000


@contextmanager
def painted_frames(page):
    """Collects every frame Chromium paints meanwhile (its screencast), as grey uint8 arrays of the
    page's size."""
    frames, cdp = [], page.context.new_cdp_session(page)

    def take(frame):
        frames.append(frame["data"])
        cdp.send("Page.screencastFrameAck", {"sessionId": frame["sessionId"]})

    cdp.on("Page.screencastFrame", take)
    cdp.send("Page.startScreencast", {"format": "png", "everyNthFrame": 1})
    pictures = []
    try:
        yield pictures
    finally:
        cdp.send("Page.stopScreencast")
        size = page.viewport_size
        pictures += [np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("L")
                                .resize((size["width"], size["height"]))) for data in frames]


def test_fast_clicks_are_queued_and_all_land_in_order(app_url, tmp_path):
    """Four points clicked 100 ms apart on a 2048 px sketch (each update takes longer than that):
    every one lands, in the order clicked, and the picture never blanks meanwhile."""
    expect = sync_api.expect
    large = tmp_path / "sunflower_2048.png"
    Image.open(SKETCH).convert("RGB").resize((2048, 2048), Image.LANCZOS).save(large)
    with browser_page(app_url) as page:
        page.locator("#sketch input[type=file]").set_input_files(str(large))
        expect(page.locator("#status")).to_contain_text("2048 x 2048 px sketch", timeout=TIMEOUT_MS)
        expect(page.locator("#result img")).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("tab", name="Points & strokes").click()
        box = page.locator("#result img").bounding_box()
        area = (slice(round(box["y"]), round(box["y"] + box["height"])),
                slice(round(box["x"]), round(box["x"] + box["width"])))
        columns = (700, 900, 1100, 1300)
        with painted_frames(page) as frames:
            started = time.perf_counter()
            for column in columns:  # along the flower's head, left to right
                _click_picture(page, column, 700, size=(2048, 2048))  # also while the next picture loads
                page.wait_for_timeout(100)
            clicking = time.perf_counter() - started
            page.screenshot(path=str(tmp_path / "app_queued_clicks_pending.png"))
            hints = _hints(page)  # in the model's queue too: after the four clicks
        _screenshot(page, tmp_path / "app_queued_clicks.png")
    points = hints["points"]
    assert len(points) == 4, points  # none dropped (Gradio's default drops a click while one is pending)
    # in the order clicked, each where it was clicked (a CSS pixel is about 2.3 of the picture's)
    assert all(abs(point["x"] * 2048 - 0.5 - column) <= 2 for point, column in zip(points, columns, strict=True))
    assert all(abs(point["y"] * 2048 - 0.5 - 700) <= 2 for point in points)
    assert clicking < 3.0, clicking  # the clicks came faster than the updates ...
    lines = [int((frame[area] < 60).sum()) for frame in frames]  # the sketch's lines on the picture
    assert len(frames) >= 5 and lines[0] > 10_000, (len(frames), lines[:3])
    assert min(lines) > 0.9 * lines[0], lines  # ... and no painted frame lost the picture meanwhile
    assert (tmp_path / "app_queued_clicks.png").stat().st_size > 10_000


def test_points_and_strokes_on_the_picture_at_800_px(app_url, tmp_path):
    """At 800 px of window width the picture and the tab stand side by side, in view; a point
    clicked on the picture colours its area exactly, a stroke is drawn, the lines stay exact."""
    expect = sync_api.expect
    with browser_page(app_url, width=800, height=900) as page:
        sketch = _upload_sunflower(page)
        ink = sketch.max(axis=2) < 128
        picture, mode = page.locator("#result img"), page.locator("#click-mode")
        before = picture.get_attribute("src")
        page.get_by_role("tab", name="Points & strokes").click()
        _new_picture(page, before)  # the result without the region asked about
        expect(mode).to_be_visible(timeout=TIMEOUT_MS)
        shown, tab = picture.bounding_box(), mode.bounding_box()
        assert shown["x"] + shown["width"] <= tab["x"], (shown, tab)  # side by side
        assert shown["width"] >= 340 and shown["y"] + shown["height"] <= 900 and tab["y"] + tab["height"] <= 900

        # a point in the flower's heart (pixel (290, 185) of 512): its area takes the colour, exactly
        before = picture.get_attribute("src")
        _click_picture(page, 290, 185)
        result = _new_picture(page, before)
        hints = _hints(page)
        (point,) = hints["points"]
        assert point["color"] == "#f2c641"  # the palette's first colour, the picker's at the start
        assert abs(point["x"] * 512 - 290.5) < 1 and abs(point["y"] * 512 - 185.5) < 1
        assert tuple(result[185, 290]) == (0xF2, 0xC6, 0x41)
        png = np.asarray(Image.open(io.BytesIO(_download(page, "png"))))[..., :3]
        heart = np.zeros(ink.shape, bool)
        heart[170:200, 275:305] = True  # inside the heart, around the point
        assert (png[heart & ~ink] == (0xF2, 0xC6, 0x41)).all()  # the colorized result: the point's colour
        assert np.array_equal(png[ink], sketch[ink]) and np.array_equal(result[ink], sketch[ink])
        marks = (result != png).any(axis=2)
        assert marks.sum() > 20 and not (marks & ink).any()  # the point's rings, on paper only

        # a stroke of two vertices across the top petal, then ended
        page.locator("#click-mode").get_by_label("stroke").check()
        for column in (270, 310):
            before = picture.get_attribute("src")
            _click_picture(page, column, 110)
            result = _new_picture(page, before)
        page.locator("#end-stroke").click()
        expect(page.locator("#status")).to_contain_text("Stroke ended", timeout=TIMEOUT_MS)
        (stroke,) = _hints(page)["strokes"]
        vertices = [(x * 512 - 0.5, y * 512 - 0.5) for x, y in stroke["points"]]  # the clicked pixels
        assert len(vertices) == 2 and all(abs(x - column) <= 1 and abs(y - 110) <= 1  # the picture is shown
                                          for (x, y), column in zip(vertices, (270, 310), strict=True))  # scaled
        assert tuple(result[110, 290]) == (0xF2, 0xC6, 0x41) or ink[110, 290]
        assert np.array_equal(result[ink], sketch[ink])
        _screenshot(page, tmp_path / "app_points_800.png")
    assert (tmp_path / "app_points_800.png").stat().st_size > 10_000


def test_palette_swatch_sets_the_colour_and_psd_downloads_in_one_click(app_url, tmp_path):
    """The palette is one row of swatches: a click on one makes its colour the current one (the
    hex entry, the picker, the swatch marked) and the next point takes it; a colour typed marks
    its swatch. One click on *PSD* saves a layered Photoshop file."""
    from psd_tools import PSDImage

    expect = sync_api.expect
    with browser_page(app_url) as page:
        sketch = _upload_sunflower(page)
        ink = sketch.max(axis=2) < 128
        swatches = page.locator("#palette label")
        expect(swatches).to_have_count(8, timeout=TIMEOUT_MS)
        # drawn as squares of their colours, the current colour's marked
        assert swatches.nth(2).evaluate("label => getComputedStyle(label).backgroundColor") == "rgb(58, 123, 213)"
        assert swatches.nth(2).bounding_box()["width"] < 40
        expect(swatches.nth(0)).to_have_class(re.compile(r"\bselected\b"))
        hex_entry = page.locator("#hex input, #hex textarea").first

        swatches.nth(2).click()  # #3a7bd5
        expect(hex_entry).to_have_value("#3a7bd5", timeout=TIMEOUT_MS)
        expect(swatches.nth(2)).to_have_class(re.compile(r"\bselected\b"))
        expect(swatches.nth(0)).not_to_have_class(re.compile(r"\bselected\b"))
        page.wait_for_function("() => [...document.querySelectorAll('#color-picker *')].some(element => "
                               "getComputedStyle(element).backgroundColor === 'rgb(58, 123, 213)')",
                               timeout=TIMEOUT_MS)  # the picker's swatch

        picture = page.locator("#result img")
        before = picture.get_attribute("src")
        page.get_by_role("tab", name="Points & strokes").click()
        _new_picture(page, before)
        before = picture.get_attribute("src")
        _click_picture(page, 290, 185)  # the flower's heart
        result = _new_picture(page, before)
        (point,) = _hints(page)["points"]
        assert point["color"] == "#3a7bd5" and tuple(result[185, 290]) == (0x3A, 0x7B, 0xD5)

        # a colour typed marks its swatch
        hex_entry.fill("#6AB04C")
        hex_entry.press("Enter")
        expect(swatches.nth(3)).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT_MS)
        expect(swatches.nth(2)).not_to_have_class(re.compile(r"\bselected\b"))

        # one click: a layered PSD of the result
        (tmp_path / "page.psd").write_bytes(_download(page, "psd"))
        layered = PSDImage.open(tmp_path / "page.psd")
        assert (layered.width, layered.height) == (512, 512)
        assert "lines" in [layer.name for layer in layered]
        composite = np.asarray(layered.composite().convert("RGB"))
        assert np.array_equal(composite[ink], sketch[ink])
        _screenshot(page, tmp_path / "app_palette.png")
    assert (tmp_path / "app_palette.png").stat().st_size > 10_000


def _pick_model(page, name: str) -> None:
    """Choose the model ``name`` in the model picker."""
    page.locator("#model input").click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(name)} \(")).click()


def test_model_picker_switches_models_and_keeps_the_sketch(serve_app, tmp_path):
    """The picker switches between shipped models without a restart: the sketch stays, and so does
    the guidance the new model takes (a point, for the point model), the tabs follow the model."""
    expect = sync_api.expect
    url = serve_app("guiding_painter", models=["guiding_painter", "point_hints", "cwr_dual"])
    with browser_page(url) as page:
        status, picture, tabs = page.locator("#status"), page.locator("#result img"), page.get_by_role("tab")
        expect(page.get_by_role("tab", name="Guided regions")).to_have_attribute("aria-selected", "true",
                                                                               timeout=TIMEOUT_MS)
        assert tabs.count() == 2  # the tags tab is cwr_dual's: hidden
        sketch = _upload_sunflower(page)
        ink = sketch.max(axis=2) < 128
        count = page.locator("#region-count")
        expect(count).to_contain_text("Region 1 of", timeout=TIMEOUT_MS)
        page.locator("#apply-color").click()
        expect(count).to_contain_text("Region 2 of", timeout=TIMEOUT_MS)
        before = picture.get_attribute("src")
        page.get_by_role("tab", name="Points & strokes").click()
        _new_picture(page, before)  # the result without the region asked about
        before = picture.get_attribute("src")
        _click_picture(page, 290, 185)  # a point in the flower's heart, in the palette's first colour
        _new_picture(page, before)

        # to the point model: the sketch and the point stay, the region colour goes; Points stays open
        before = picture.get_attribute("src")
        _pick_model(page, "point_hints")
        expect(status).to_contain_text("Now point_hints: it takes points, strokes. Not carried over: 1 region "
                                       "colour.", timeout=TIMEOUT_MS)
        result = _new_picture(page, before)
        expect(page.get_by_role("tab", name="Points & strokes")).to_have_attribute("aria-selected", "true")
        assert tabs.count() == 1
        assert tuple(result[185, 290]) == (0xF2, 0xC6, 0x41) and np.array_equal(result[ink], sketch[ink])
        hints = _hints(page)
        assert len(hints["points"]) == 1 and not any(hints["regions"])

        # to the tag model: its tab opens, the only one; a tick colours the flower
        _pick_model(page, "cwr_dual")
        expect(status).to_contain_text("Now cwr_dual: it takes colour tags. Not carried over: 1 point.",
                                       timeout=TIMEOUT_MS)
        expect(page.get_by_role("tab", name="Colour tags")).to_have_attribute("aria-selected", "true")
        assert tabs.count() == 1
        expect(page.locator("#colours")).to_be_hidden()  # tags paint with no colour of the picker
        head = np.zeros(ink.shape, bool)
        head[60:310, 160:420] = True  # the flower's head: petals and heart
        painted = head & ~ink & (np.abs(_result(page).astype(int) - 255).max(axis=2) > 0)  # not paper
        page.locator("#tags").get_by_label("yellow", exact=True).check()
        expect(status).to_contain_text("Tags: yellow.", timeout=TIMEOUT_MS)
        result = _result(page)
        assert painted.sum() > 10_000 and _yellowness(result, painted) > 100
        assert np.array_equal(result[ink], sketch[ink])
        _screenshot(page, tmp_path / "app_model_picker.png")
    assert (tmp_path / "app_model_picker.png").stat().st_size > 10_000
