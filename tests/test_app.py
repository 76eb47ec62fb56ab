"""The web app's logic without a browser: colours, palettes, the guided-region steps, points and
strokes, colour tags, styles, scribbles, undo, pictures, downloads, the ``tinct app`` command,
the tabs each model's guidance gets and their handlers (the browser test is test_app_browser.py)."""

import io
import json
import logging
import re
import struct
import sys
import zlib

import cv2
import numpy as np
import pytest
import torch
from colorize_helpers import MeanReference, drawn_sketch, tiny_guiding_painter, tiny_point_hints
from PIL import Image
from psd_tools import PSDImage

from tinct import app
from tinct.app import (
    APP_MAX_PIXELS,
    HIGHLIGHT,
    HIGHLIGHT_ALPHA,
    SCRIBBLE,
    add_point,
    add_scribble_point,
    add_stroke_point,
    apply_color,
    clear_hints,
    clear_scribbles,
    colorize,
    draw_hints,
    draw_scribbles,
    end_scribble,
    end_stroke,
    export_files,
    guidance_status,
    highlight_region,
    launch_options,
    load_palette,
    mix_styles,
    normalize_color,
    palette_add,
    palette_remove,
    region_order,
    region_status,
    save_palette,
    set_style,
    set_tags,
    skip_region,
    start_session,
    style_previews,
    undo,
)
from tinct.app.session import View
from tinct.app.uploads import load_upload, short_message
from tinct.cli import main
from tinct.colorizer import Colorizer
from tinct.guidance import GuidanceError
from tinct.hintfile import Scribble, StyleMix, load_hints, parse_color, scribble_mask
from tinct.image import ImageError, load_image, resize
from tinct.methods import load_model
from tinct.methods.base import Guidance
from tinct.ora import read_ora

RED = "#e05a47"
BLUE = "#3a7bd5"
SUNFLOWER = "examples/sunflower_sketch.png"


@pytest.fixture(scope="module")
def shipped():
    """The shipped models by name, each loaded once (128 px, as ``tinct app`` runs them)."""
    loaded = {}

    def shipped(name):
        if name not in loaded:
            loaded[name] = Colorizer.from_pretrained(name)
        return loaded[name]

    return shipped


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer(tiny_guiding_painter(), size=32, min_question=0.0)


@pytest.fixture(scope="module")
def sketch():
    """The circle and rectangle of ``drawn_sketch`` and a small triangle between them: three
    drawn areas, so the model asks at least three questions."""
    canvas, where = drawn_sketch(60, 90)
    cv2.polylines(canvas, [np.array([(44, 6), (56, 6), (50, 16)])], True, 0, 2)
    return canvas, where


@pytest.fixture
def session(colorizer, sketch):
    return start_session(colorizer, sketch[0])


@pytest.fixture(autouse=True)
def gradio_folder(tmp_path, monkeypatch):
    """Gradio's upload and cache folder, where the app writes the pictures it shows: the test's own."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    return tmp_path / "gradio"


@pytest.mark.parametrize("text, expected", [
    ("#E05A47", "#e05a47"), ("e05a47", "#e05a47"), ("#abc", "#aabbcc"), ("#e05a47ff", "#e05a47"),
    ("rgba(224, 90, 71, 1)", "#e05a47"), ("rgb(224 90 71)", "#e05a47"), ("rgb(100%, 0%, 50%)", "#ff0080"),
    ("hsl(0, 100%, 50%)", "#ff0000"), ("hsla(240deg, 100%, 50%, 0.5)", "#0000ff"), ("  #FFFFFF ", "#ffffff"),
])
def test_colours_as_the_picker_and_users_write_them(text, expected):
    assert normalize_color(text) == expected


@pytest.mark.parametrize("text", ["", "#12345", "red", "rgb(300, 0, 0)", "rgb(1, 2)", "#ggg000", None, 3])
def test_bad_colours_are_named(text):
    with pytest.raises(ValueError, match="colour"):
        normalize_color(text)


def test_palette_add_save_load(tmp_path):
    palette = palette_add(["#F2C641", "#e05a47"], "rgba(58, 123, 213, 1)")
    assert palette == ["#f2c641", "#e05a47", "#3a7bd5"]
    assert palette_add(palette, "#E05A47") == palette  # no repeats
    path = save_palette(palette, tmp_path / "sub" / "palette.json")
    assert json.loads(path.read_text()) == {"version": 1, "colors": palette}
    assert load_palette(path) == palette
    assert palette_remove(palette, "#E05A47") == ["#f2c641", "#3a7bd5"]
    assert palette_remove(palette, "#000") == palette  # a colour not there changes nothing
    with pytest.raises(ValueError, match="at least one colour"):
        palette_remove(["#ffffff"], "#fff")
    (tmp_path / "list.json").write_text('["#fff", "#000000", "#FFFFFF"]')
    assert load_palette(tmp_path / "list.json") == ["#ffffff", "#000000"]
    (tmp_path / "bad.json").write_text('{"version": 1, "colors": ["#fff", "blue-ish"]}')
    with pytest.raises(ValueError, match=r"bad.json: colour 2: not a colour: 'blue-ish'"):
        load_palette(tmp_path / "bad.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="junk.json: not a palette file"):
        load_palette(tmp_path / "junk.json")
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(ValueError, match="non-empty list"):
        load_palette(tmp_path / "empty.json")


def test_guided_regions_apply_skip_and_undo(colorizer, session):
    assert session.order == region_order(session.prepared) == tuple(range(len(session.prepared.questions)))
    total = len(session.order)
    assert total >= 3  # the tiny model ranks several regions of the drawing
    assert region_status(session) == f"Region 1 of {total}" and session.current_region == session.order[0]

    first = apply_color(session, "#E05A47")
    rank = session.order[0]
    assert first.hints.regions[rank] == parse_color(RED) and all(c is None for c in first.hints.regions[:rank])
    assert len(first.hints.regions) == rank + 1
    assert region_status(first) == f"Region 2 of {total}" and first.current_region == session.order[1]
    assert session.hints.is_empty  # sessions are immutable: the old one is unchanged

    second = skip_region(first)
    assert second.current_region == session.order[2] and second.hints == first.hints
    third = apply_color(second, "rgb(58, 123, 213)")
    assert third.hints.regions[session.order[2]] == parse_color(BLUE)

    back = undo(undo(third))
    assert back.step == 1 and back.hints == first.hints
    start = undo(back)
    assert start.step == 0 and start.hints.is_empty and not start.history
    assert undo(start) is start  # nothing left to undo

    with pytest.raises(ValueError, match="not a colour"):
        apply_color(session, "not-a-colour")
    done = session
    for _ in range(total):
        done = skip_region(done)
    assert region_status(done) == f"All {total} regions done: refine with points and strokes, or undo."
    with pytest.raises(ValueError, match="every region"):
        apply_color(done, RED)

    # the colour reaches the network: its output changes with the region colour
    red = colorize(colorizer, first).result
    blue = colorize(colorizer, apply_color(session, BLUE)).result
    assert red.image.shape == (3, 60, 90) and red.hints == first.hints
    assert (red.network - blue.network).abs().max() > 1e-4


def test_highlight_tints_and_outlines_the_region_asked_about(colorizer, session):
    picture = highlight_region(session)
    original = np.asarray(session.prepared.original.permute(1, 2, 0) * 255).round().astype(np.uint8)
    ink = session.prepared.ink
    inside = session.prepared.question_mask(session.current_region)
    assert picture.shape == (60, 90, 3) and picture.dtype == np.uint8
    assert np.array_equal(picture[~inside | ink], original[~inside | ink])  # nothing else changes, the lines kept
    marked = inside & ~ink
    expected = np.round((1 - HIGHLIGHT_ALPHA) * original[marked] + HIGHLIGHT_ALPHA * np.array(HIGHLIGHT))
    tinted = (picture[marked] == expected).all(axis=1) | (picture[marked] == HIGHLIGHT).all(axis=1)  # or outline
    assert marked.sum() > 100 and tinted.all() and (picture[marked] == HIGHLIGHT).all(axis=1).any()

    # the app draws it over the result (which has the colours given so far), the same way
    done = colorize(colorizer, session)
    result = (done.result.image.permute(1, 2, 0) * 255).round().byte().numpy()
    over = highlight_region(done, picture=result)
    assert np.array_equal(over[~inside | ink], result[~inside | ink])
    expected = np.round((1 - HIGHLIGHT_ALPHA) * result[marked] + HIGHLIGHT_ALPHA * np.array(HIGHLIGHT))
    assert ((over[marked] == expected).all(axis=1) | (over[marked] == HIGHLIGHT).all(axis=1)).all()
    outline = (picture == HIGHLIGHT).all(axis=2) & marked
    assert outline.any() and (over[outline] == HIGHLIGHT).all()  # the same outline

    coloured = apply_color(session, "#ff0000")
    picture = highlight_region(coloured, rank=-1)  # no region highlighted: only the given colour shows
    done = session.prepared.question_mask(session.order[0])
    for later in session.order[1:]:  # a region asked about again on its own is not coloured by the first
        done &= ~session.prepared.question_mask(later)
    assert (picture[done][:, 1:] == 0).all() and np.array_equal(picture[done][:, 0], original[done][:, 0])
    assert np.array_equal(picture[~done], original[~done])


def test_points_and_strokes_from_clicks(colorizer, sketch, session):
    _, where = sketch
    row, col = where["circle"]
    pointed = add_point(session, col, row, RED, size=0.05)
    (point,) = pointed.hints.points
    assert (point.x, point.y, point.size) == ((col + 0.5) / 90, (row + 0.5) / 60, 0.05)
    result = colorize(colorizer, pointed).result
    circle = torch.from_numpy(result.regions == result.regions[row, col])
    assert torch.equal(result.flat[:, circle].unique(dim=1), torch.tensor([parse_color(RED)]).T)  # exactly
    painted = draw_hints(pointed)
    assert tuple(painted[row, col]) == (0xE0, 0x5A, 0x47) and tuple(painted[2, 2]) == (255, 255, 255)

    row, col = where["rectangle"]
    stroked = add_stroke_point(add_stroke_point(pointed, col, row, BLUE), col + 5, row + 2, BLUE)
    (stroke,) = stroked.hints.strokes
    assert stroke.points == (((col + 0.5) / 90, (row + 0.5) / 60), ((col + 5.5) / 90, (row + 2.5) / 60))
    assert stroked.stroke_open
    assert len(add_stroke_point(end_stroke(stroked), col, row, BLUE).hints.strokes) == 2  # a new stroke
    assert len(add_stroke_point(stroked, col, row, RED).hints.strokes) == 2  # another colour: a new stroke
    assert undo(stroked).hints.strokes[0].points == stroke.points[:1]  # undo takes back one vertex
    assert add_point(stroked, 1, 1, RED).stroke_open is False

    cleared = clear_hints(apply_color(stroked, RED))
    assert not cleared.hints.points and not cleared.hints.strokes and cleared.hints.regions
    assert undo(cleared).hints.strokes == stroked.hints.strokes
    with pytest.raises(ValueError, match="outside the 90 x 60 sketch"):
        add_point(session, 90, 10, RED)


def _drawing(result):
    """bool ``(H, W)``: the paper pixels inside the drawing (not the background, not a line)."""
    return ~result.background & ~result.ink


def test_colour_tags_reach_the_model_and_colour_the_flower(shipped):
    colorizer = shipped("cwr_dual")
    session = start_session(colorizer, SUNFLOWER)
    guidance = colorizer.guidance
    assert "yellow" in guidance.tags and "blue" in guidance.tags

    yellow = set_tags(session, ["yellow"], guidance)
    assert yellow.hints.tags == ("yellow",) and session.hints.tags == ()  # immutable
    assert undo(yellow).hints.tags == () and len(yellow.history) == 1
    # each tag once, in the vocabulary's order, whatever order they were ticked in
    assert set_tags(session, ["blue", "yellow", "blue"], guidance).hints.tags == ("yellow", "blue")
    assert set_tags(session, " yellow , blue", guidance).hints.tags == ("yellow", "blue")
    assert set_tags(yellow, ["yellow"], guidance) is yellow  # no change: nothing to undo
    assert set_tags(yellow, [], guidance).hints.tags == ()

    with pytest.raises(GuidanceError, match=r"^this model has no tag 'yelow' \(closest: yellow.*\); its tags: red, "):
        set_tags(session, ["yelow"], guidance)
    with pytest.raises(ValueError, match="tag name"):
        set_tags(session, ["yellow", ""], guidance)
    with pytest.raises(GuidanceError, match="this model takes no colour tags; it takes: a style"):
        set_tags(session, ["yellow"], shipped("rasc").guidance)

    # the tags reach the model: yellow makes the flower's flat colours yellow, blue bluish
    plain, yellow, blue = (colorize(colorizer, set_tags(session, tags, guidance)).result
                           for tags in ([], ["yellow"], ["blue"]))
    assert yellow.hints.tags == ("yellow",)
    drawing = _drawing(yellow)
    assert drawing.sum() > 10_000  # the petals, the heart and the leaves
    mean = {name: result.flat[:, torch.from_numpy(drawing)].mean(dim=1)
            for name, result in (("plain", plain), ("yellow", yellow), ("blue", blue))}
    yellowness = {name: float((rgb[0] + rgb[1]) / 2 - rgb[2]) for name, rgb in mean.items()}
    assert yellowness["yellow"] > 0.4 and yellowness["yellow"] > yellowness["plain"] + 0.3
    assert yellowness["blue"] < -0.05 and mean["blue"][2] > mean["yellow"][2] + 0.3
    original = load_image(SUNFLOWER)
    assert torch.equal(yellow.image[:, torch.from_numpy(yellow.ink)], original[:, torch.from_numpy(yellow.ink)])

    assert guidance_status(session, guidance) == "No colour tags."
    assert guidance_status(set_tags(session, ["blue", "yellow"], guidance), guidance) == "Tags: yellow, blue."


def test_styles_a_seed_is_a_picture_and_two_seeds_mix(shipped):
    colorizer = shipped("rasc")
    session = start_session(colorizer, SUNFLOWER)
    three = colorize(colorizer, set_style(session, 3))
    again = colorize(colorizer, set_style(start_session(colorizer, SUNFLOWER), 3))
    other = colorize(colorizer, set_style(session, 4))
    assert three.hints.style == 3 and session.hints.style is None
    assert torch.equal(three.result.image, again.result.image)  # the same seed, the same picture
    drawing = torch.from_numpy(_drawing(three.result))
    assert (three.result.flat[:, drawing] - other.result.flat[:, drawing]).abs().max() > 0.1  # another seed
    default = colorize(colorizer, session)  # no style given: the default seed, 0
    assert torch.equal(default.result.image, colorize(colorizer, set_style(session, 0)).result.image)

    assert set_style(three, 3) is three and set_style(three, "3") is three
    assert undo(set_style(three, 4)).hints.style == 3
    for bad in (-1, 2.5, "three", True):
        with pytest.raises(ValueError, match="a whole number >= 0"):
            set_style(session, bad)

    mixed = mix_styles(session, 3, 4, 0.5)
    assert mixed.hints.style == StyleMix(3, 4, 0.5) and len(mixed.history) == 1
    assert mix_styles(session, 3, 4, 0.0).hints.style == 3 and mix_styles(session, 3, 4, 1.0).hints.style == 4
    halfway = colorize(colorizer, mixed).result
    assert torch.equal(halfway.image, colorizer.colorize(session.prepared, style="3,4@0.5").image)
    assert not torch.equal(halfway.image, three.result.image) and not torch.equal(halfway.image, other.result.image)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        mix_styles(session, 3, 4, 1.5)
    assert guidance_status(mixed, colorizer.guidance) == "Style: seeds 3 to 4 at 0.50."
    assert guidance_status(session, colorizer.guidance) == "Style: seed 0."

    # the previews: each seed's own picture, scaled down; the rest of the session unchanged
    previews = style_previews(colorizer, mixed, range(3, 6), side=128)
    assert [seed for seed, _ in previews] == [3, 4, 5]
    for seed, picture in previews:
        assert picture.shape == (128, 128, 3) and picture.dtype == np.uint8
        full = colorizer.colorize(session.prepared, style=seed).image
        expected = (resize(full, (128, 128)).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        assert np.array_equal(picture, expected)
    assert not np.array_equal(previews[0][1], previews[1][1])
    assert mixed.hints.style == StyleMix(3, 4, 0.5)


def test_scribbles_from_clicks(shipped, session):
    row, col = 10, 20
    first = add_scribble_point(session, col, row, width=0.02)
    second = add_scribble_point(first, col + 30, row + 5, width=0.02)
    (scribble,) = second.hints.scribbles
    # normalised like strokes: the centre of the clicked pixel, as a fraction of the 90 x 60 sketch
    assert scribble == Scribble(points=(((col + 0.5) / 90, (row + 0.5) / 60), ((col + 30.5) / 90, (row + 5.5) / 60)),
                                width=0.02)
    assert second.scribble_open and not second.stroke_open and not second.hints.strokes
    assert len(add_scribble_point(end_scribble(second), 5, 5, width=0.02).hints.scribbles) == 2  # a new one
    assert len(add_scribble_point(second, 5, 5, width=0.03).hints.scribbles) == 2  # another width: a new one
    assert undo(second).hints.scribbles == first.hints.scribbles  # undo takes back one vertex
    assert undo(first).hints.scribbles == () and not undo(first).scribble_open
    cleared = clear_scribbles(second)
    assert cleared.hints.scribbles == () and undo(cleared).hints.scribbles == second.hints.scribbles
    stroked = add_stroke_point(second, 40, 30, BLUE)  # strokes and scribbles are drawn apart
    assert len(add_scribble_point(stroked, 41, 31, width=0.02).hints.scribbles[0].points) == 3
    with pytest.raises(ValueError, match="outside the 90 x 60 sketch"):
        add_scribble_point(session, 10, 60)
    with pytest.raises(ValueError, match="width"):
        add_scribble_point(session, 10, 10, width=0.0)

    # drawn in the marker colour over the sketch (no result yet), at their width, under the lines
    picture = draw_scribbles(second)
    mask, ink = scribble_mask(second.hints, 60, 90), second.prepared.ink
    assert (mask & ~ink).sum() > 30 and (picture[mask & ~ink] == SCRIBBLE).all()
    original = (second.prepared.original.permute(1, 2, 0) * 255).round().byte().numpy()
    assert np.array_equal(picture[~mask | ink], original[~mask | ink])

    # a model that takes scribbles: a scribble across a petal splits it; it is drawn over the result
    colorizer = shipped("edge_enhance")
    flower = start_session(colorizer, SUNFLOWER)
    petal = colorize(colorizer, flower).result.regions
    label = petal[100, 290]  # the top petal
    rows, cols = np.nonzero(petal == label)
    across = (int(rows.mean()), int(cols.min()) - 2), (int(rows.mean()), int(cols.max()) + 2)
    walled = add_scribble_point(add_scribble_point(flower, across[0][1], across[0][0], width=0.005),
                                across[1][1], across[1][0], width=0.005)
    done = colorize(colorizer, walled)
    assert done.result.hints.scribbles == walled.hints.scribbles
    assert done.result.regions.max() > petal.max()  # the petal became two regions
    assert guidance_status(done, colorizer.guidance) == "1 scribble (drawing: 2 points)."
    assert guidance_status(end_scribble(done), colorizer.guidance) == "1 scribble."
    shown = draw_scribbles(done)
    mask, ink = scribble_mask(done.hints, 512, 512), done.prepared.ink
    result = (done.result.image.permute(1, 2, 0) * 255).round().byte().numpy()
    assert (mask & ink).any()  # it crosses the petal's outline, which stays as it is
    assert (shown[mask & ~ink] == SCRIBBLE).all() and np.array_equal(shown[~mask | ink], result[~mask | ink])


def test_downloads_png_psd_ora_and_hint_file(tmp_path, colorizer, session):
    with pytest.raises(ValueError, match="nothing to download"):
        export_files(session, tmp_path)
    done = colorize(colorizer, add_point(apply_color(session, RED), 3, 4, BLUE))
    png, psd, ora, hints = export_files(done, tmp_path)
    assert png.parent == tmp_path / done.key and {png.name, psd.name, ora.name, hints.name} == {
        "colorized.png", "colorized.psd", "colorized.ora", "colorized_hints.json"}
    layered = PSDImage.open(psd)
    assert (layered.width, layered.height) == (90, 60) and "lines" in [layer.name for layer in layered]
    pixels = np.asarray(Image.open(png))
    assert pixels.shape == (60, 90, 3)
    assert np.array_equal(pixels, (done.result.image.permute(1, 2, 0) * 255).round().byte().numpy())
    layers = read_ora(ora)
    assert [layer.name for layer in layers.layers] == ["lines", "flat colours", "colorized"]
    assert np.array_equal(layers.merged[..., :3], pixels)
    assert load_hints(hints) == done.hints


def test_reference_models_wait_for_a_reference(sketch):
    colorizer = Colorizer(MeanReference(), size=32)
    session = start_session(colorizer, sketch[0])
    assert session.order == () and region_status(session).startswith("This model does not rank regions")
    assert colorize(colorizer, session).result is None
    reference = np.zeros((40, 40, 4), np.uint8)
    reference[..., 0], reference[..., 3] = 200, 255  # opaque red
    reference[:20, :, 3] = 0  # the top half transparent: white
    result = colorize(colorizer, session.__class__(prepared=session.prepared, reference=reference)).result
    row, col = sketch[1]["circle"]
    expected = torch.tensor([(200 + 255) / 2, 255 / 2, 255 / 2]) / 255
    assert torch.allclose(result.flat[:, row, col], expected, atol=0.01)


def test_launch_options_bind_this_machine_only():
    options = launch_options(port=8123)
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 8123 and options["share"] is False
    assert "allowed_paths" not in options and options["max_file_size"] == app.MAX_UPLOAD


def test_app_command(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["app", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "region k of N" in text and "127.0.0.1" in text and "--share {off,on}" in text

    monkeypatch.setitem(sys.modules, "gradio", None)  # as if Gradio were not installed
    assert main(["app"]) != 0
    assert re.fullmatch(r'tinct: error: .*needs Gradio.*pip install -e "\.\[app\]".*\n', capsys.readouterr().err)


def test_app_command_passes_its_options(monkeypatch, capsys):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    calls = []
    monkeypatch.setattr(app, "serve", lambda model, **options: calls.append((model, options)))
    assert main(["app", "--model", "some/dir", "--port", "8001"]) == 0
    model, options = calls[0]
    assert options.pop("max_pixels", None) in (None, APP_MAX_PIXELS)  # the app's own budget unless told
    assert (model, options) == ("some/dir", {"host": "127.0.0.1", "port": 8001, "share": False, "size": 128,
                                             "device": "cpu", "picker": True, "threads": None})
    assert main(["app", "--host", "0.0.0.0", "--share", "on", "--no-picker", "--threads", "1"]) == 0
    assert calls[1][1]["host"] == "0.0.0.0" and calls[1][1]["share"] is True
    assert calls[1][1]["picker"] is False and calls[1][1]["threads"] == 1
    assert "anyone who can reach this machine" in capsys.readouterr().err
    monkeypatch.undo()  # the real serve: it loads the model before it starts anything
    assert main(["app", "--model", "nope"]) != 0
    assert re.fullmatch(r"tinct: error: .*no model named 'nope'.*\n", capsys.readouterr().err)


def test_app_command_passes_its_pixel_budget(monkeypatch, capsys):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    with pytest.raises(SystemExit):
        main(["app", "--help"])
    assert "--max-pixels" in capsys.readouterr().out
    calls = []
    monkeypatch.setattr(app, "serve", lambda model, **options: calls.append(options))
    assert main(["app", "--max-pixels", "1000000"]) == 0
    assert calls[0]["max_pixels"] == 1_000_000


@pytest.mark.parametrize("device", ["bogus", "cuda", "cuda:99"])
def test_a_device_this_machine_lacks_is_one_line_before_any_server(device, monkeypatch, capsys):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ValueError) as error:
        app.build_app(Colorizer(tiny_point_hints(), size=32), device=device)
    message = str(error.value)
    assert message.startswith(f"device {device!r} is not available: ") and message.endswith("; use cpu")
    assert "\n" not in message
    if device != "bogus":
        assert "CUDA GPU" in message
    launched = []
    monkeypatch.setattr("gradio.Blocks.launch", lambda *args, **kwargs: launched.append(args))
    with pytest.raises(ValueError, match=f"device {device!r} is not available"):
        app.serve("point_hints", device=device)
    assert launched == []
    assert main(["app", "--model", "point_hints", "--device", device]) != 0
    err = capsys.readouterr().err
    assert err.startswith("tinct: error: ") and f"device {device!r} is not available: " in err
    assert "Traceback" not in err and err.count("\n") == 1


def _elements(demo):
    """The app's elements by elem_id."""
    return {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}


def _opening_tab(demo):
    gradio = pytest.importorskip("gradio")
    (tabs,) = [block for block in demo.blocks.values() if isinstance(block, gradio.Tabs)]
    return tabs.selected


def _handler(demo, elem_id, event):
    """The function wired to ``event`` of the element ``elem_id``; the sketch's and the tags' are
    called as the browser calls them, with the view the page holds at first (the opening tab, the
    model it opens with) second."""
    target = _elements(demo)[elem_id]._id
    (function,) = [fn for fn in demo.fns.values() if (target, event) in fn.targets]
    if (elem_id, event) in {("sketch", "change"), ("tags", "input")}:
        (view,) = [block.value for block in demo.blocks.values() if isinstance(getattr(block, "value", None), View)]
        return lambda first, *given: function.fn(first, view, *given)
    return function.fn


def _click(demo, session, col, row, **values):
    """A click on the picture at pixel ``(col, row)``; the controls it reads (the hex entry, the
    brush, ...) hold ``values`` by elem_id, else their first values."""
    gradio = pytest.importorskip("gradio")
    target = _elements(demo)["result"]._id
    (function,) = [fn for fn in demo.fns.values() if (target, "select") in fn.targets]
    given = [values.get(block.elem_id, block.value) for block in function.inputs[1:]]
    event = gradio.SelectData(None, {"index": [col, row], "value": None, "selected": True})
    return _shown(function.fn(event, session, *given))


def _open_tab(demo, session, tab_id):
    """What the page shows once the tab ``tab_id`` is opened."""
    (view,) = [block.value for block in demo.blocks.values() if isinstance(getattr(block, "value", None), View)]
    return _shown(_handler(demo, tab_id, "select")(session, view))


def _refused(handler, *args) -> str:
    """The message the browser shows for ``handler(*args)``, which must fail (a gr.Error: Gradio
    then changes no component, the session included)."""
    gradio = pytest.importorskip("gradio")
    with pytest.raises(gradio.Error) as error:
        handler(*args)
    return error.value.message


def _shown(shown):
    """A handler's ``{component: value}`` by elem_id (the session under "state", the view under
    "view", the seeds of the style previews under "seeds"; the picture, which the app writes as a
    PNG file, as the pixels the browser gets, uint8 ``(H, W, 3)``)."""
    gradio = pytest.importorskip("gradio")

    def name(block, value):
        if isinstance(block, gradio.State):
            if isinstance(value, View):
                return "view"
            return "state" if value is None or isinstance(value, app.Session) else "seeds"
        return block.elem_id

    def pixels(block, value):
        if block.elem_id == "result" and value is not None:
            return np.asarray(Image.open(value))
        return value

    return {name(block, value): pixels(block, value) for block, value in shown.items()}


def test_guided_model_opens_on_the_guided_tab_and_has_no_reference_tab():
    gradio = pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(Colorizer(tiny_guiding_painter(), size=32))
    assert isinstance(demo, gradio.Blocks)
    by_id = _elements(demo)
    for elem_id in ("sketch", "result", "show-sketch", "status", "region-count", "hex", "apply-color", "skip-region",
                    "undo", "click-mode", "brush", "end-stroke", "clear-hints", "undo-hints", "download-png",
                    "download-psd", "download-ora", "download-hints", "download-file", "palette", "palette-add",
                    "palette-remove",
                    "palette-save", "palette-load", "palette-file", "color-picker", "tab-guided", "tab-points"):
        assert elem_id in by_id, elem_id
    assert "tab-reference" not in by_id and "reference" not in by_id
    assert "export" not in by_id and "palette-swatches" not in by_id  # one click downloads; one palette
    assert by_id["download-file"].visible is False  # no empty file boxes
    for elem_id in ("region-view", "hint-canvas", "scribble-canvas"):  # one picture: the result
        assert elem_id not in by_id, elem_id
    assert _opening_tab(demo) == "tab-guided"
    assert "it takes colours for ranked regions, points, strokes." in by_id["status"].value


def test_reference_model_opens_on_the_reference_tab_and_has_no_other():
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(Colorizer(MeanReference(), size=32))
    by_id = _elements(demo)
    assert _opening_tab(demo) == "tab-reference"
    assert "tab-reference" in by_id and "reference" in by_id and "result" in by_id
    for elem_id in ("tab-guided", "region-count", "apply-color", "skip-region", "undo", "tab-points", "hint-canvas",
                    "click-mode", "end-stroke"):
        assert elem_id not in by_id, elem_id
    assert "mean_reference" in by_id["status"].value and "it takes a reference image." in by_id["status"].value


def test_tabs_follow_the_declared_guidance():
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    from tinct.app.modes import available_modes, opening_mode

    def tabs(**kinds):
        modes = available_modes(Guidance(**kinds))
        opening = opening_mode(modes)
        return [mode.tab_id for mode in modes], None if opening is None else opening.tab_id

    assert tabs(regions=True, points=True) == (["tab-guided", "tab-points"], "tab-guided")
    assert tabs(points=True) == (["tab-points"], "tab-points")
    assert tabs(points=True, reference=True) == (["tab-points", "tab-reference"], "tab-reference")
    assert tabs(reference=True, required=("reference",)) == (["tab-reference"], "tab-reference")
    assert tabs(tags=("red",)) == (["tab-tags"], "tab-tags")
    assert tabs(style_dim=8) == (["tab-styles"], "tab-styles")
    assert tabs(points=True, scribbles=True) == (["tab-points", "tab-scribbles"], "tab-points")
    assert tabs(scribbles=True) == (["tab-scribbles"], "tab-scribbles")
    assert tabs(regions=True, points=True, reference=True, tags=("red",), style_dim=8, scribbles=True) == (
        ["tab-guided", "tab-points", "tab-reference", "tab-tags", "tab-styles", "tab-scribbles"], "tab-reference")
    assert tabs(regions=True, tags=("red",), style_dim=8) == (["tab-guided", "tab-tags", "tab-styles"], "tab-guided")
    assert tabs() == ([], None)


def test_tags_model_opens_on_its_tags_tab_and_every_tick_colours_again(shipped, sketch, tmp_path):
    gradio = pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    colorizer = shipped("cwr_dual")
    demo = app.build_app(colorizer)
    by_id = _elements(demo)
    assert _opening_tab(demo) == "tab-tags"
    assert [b.elem_id for b in demo.blocks.values() if (b.elem_id or "").startswith("tab-")] == ["tab-tags"]
    assert by_id["tags"].choices[:3] == [("red", "red"), ("orange", "orange"), ("yellow", "yellow")]
    assert [value for _, value in by_id["tags"].choices] == list(colorizer.guidance.tags)
    assert ("skin medium light", "skin_medium_light") in by_id["tags"].choices
    assert "it takes colour tags." in by_id["status"].value

    on_sketch, on_tags = _handler(demo, "sketch", "change"), _handler(demo, "tags", "input")
    on_undo = _handler(demo, "undo-tags", "click")
    sketch_file = _png(tmp_path / "sketch.png", sketch[0])
    # ticked before the sketch: taken over by the sketch, not a change to undo
    assert _shown(on_tags(None, ["yellow"])) == {"status": "Tags taken: now upload a sketch."}
    assert _refused(on_tags, None, ["yelow"]).startswith("this model has no tag 'yelow' (closest: yellow")
    first = _shown(on_sketch(sketch_file, ["yellow"]))
    session = first["state"]
    assert session.hints.tags == ("yellow",) and not session.history and first["tags"] == ["yellow"]
    assert first["status"] == "90 x 60 px sketch, 4 flat regions. Tags: yellow."

    blue = _shown(on_tags(session, ["blue", "yellow"]))
    assert blue["state"].hints.tags == ("yellow", "blue") and blue["tags"] == ["yellow", "blue"]
    assert blue["status"].endswith("Tags: yellow, blue.")
    assert not np.array_equal(blue["result"], first["result"])  # coloured again
    back = _shown(on_undo(blue["state"]))
    assert back["tags"] == ["yellow"] and np.array_equal(back["result"], first["result"])
    fn = next(fn for fn in demo.fns.values() if fn.fn is _handler_fn(demo, "tags", "input"))
    assert fn.trigger_mode == "always_last" and fn.concurrency_id == "model"  # no tick is lost
    assert [block.elem_id for block in fn.inputs] == [None, None, "tags"]  # the session, the view, the ticks
    assert gradio.CheckboxGroup in {type(block) for block in fn.inputs}


def test_style_model_seeds_variations_and_mix_in_the_app(shipped, sketch, tmp_path):
    gradio = pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    colorizer = shipped("rasc")
    demo = app.build_app(colorizer)
    assert _opening_tab(demo) == "tab-styles"
    on_sketch, on_seed = _handler(demo, "sketch", "change"), _handler(demo, "style-seed", "input")
    on_variations, on_pick = _handler(demo, "style-variations", "click"), _handler(demo, "style-gallery", "select")
    on_mix = _handler(demo, "style-mix", "release")
    sketch_file = _png(tmp_path / "sketch.png", sketch[0])

    assert _shown(on_seed(None, 7)) == {"status": "Style seed 7 taken: now upload a sketch."}
    first = _shown(on_sketch(sketch_file, 7))
    session = first["state"]
    assert session.hints.style == 7 and not session.history and first["style-seed"] == 7
    assert first["status"] == "90 x 60 px sketch, 4 flat regions. Style: seed 7."
    assert first["style-gallery"] is None and first["seeds"] == ()  # a new sketch clears the previews

    shown = _shown(on_variations(session, 7))
    assert shown["status"] == "Seeds 7 to 12: click one to use it."
    assert shown["seeds"] == (7, 8, 9, 10, 11, 12)  # the gallery's seeds (a gr.State)
    gallery = shown["style-gallery"]
    assert [caption for _, caption in gallery] == [f"seed {seed}" for seed in range(7, 13)]
    assert all(picture.shape == (60, 90, 3) for picture, _ in gallery)  # small sketches are not scaled up
    assert np.array_equal(gallery[0][0], first["result"])

    picked = _shown(on_pick(session, shown["seeds"], gradio.SelectData(None, {"index": 2, "value": None,
                                                                                "selected": True})))
    assert picked["state"].hints.style == 9 and picked["style-seed"] == 9 and picked["style-a"] == 9
    assert np.array_equal(picked["result"], gallery[2][0])
    assert picked["status"].endswith("Style: seed 9.")

    mixed = _shown(on_mix(picked["state"], 9, 2, 0.25))
    assert mixed["state"].hints.style == StyleMix(9, 2, 0.25) and "style-seed" not in mixed
    assert mixed["status"].endswith("Style: seeds 9 to 2 at 0.25.")
    assert on_seed(mixed["state"], None) == gradio.skip()  # an emptied seed box waits for a number
    typed = _shown(on_seed(mixed["state"], 4))
    assert typed["state"].hints.style == 4 and typed["style-mix"] == 0.0 and typed["style-a"] == 4
    assert _shown(_handler(demo, "undo-style", "click")(typed["state"]))["state"].hints.style == StyleMix(9, 2, 0.25)
    assert _refused(on_variations, None, 0) == "Upload a sketch first."
    cleared = _shown(on_sketch(None))
    assert cleared["style-gallery"] is None and cleared["seeds"] == () and cleared["state"] is None


def test_scribble_model_has_points_and_scribbles_tabs(shipped, sketch, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    colorizer = shipped("edge_enhance")
    demo = app.build_app(colorizer)
    by_id = _elements(demo)
    assert _opening_tab(demo) == "tab-points"
    for elem_id in ("tab-points", "tab-scribbles", "scribble-width", "end-scribble",
                    "clear-scribbles", "undo-scribbles"):
        assert elem_id in by_id, elem_id
    for elem_id in ("tab-guided", "tab-reference", "tab-tags", "tab-styles", "tags", "style-seed"):
        assert elem_id not in by_id, elem_id
    session = _shown(_handler(demo, "sketch", "change")(_png(tmp_path / "sketch.png", sketch[0])))["state"]
    assert session.view.mode == "points"
    opened = _open_tab(demo, session, "tab-scribbles")  # the picture's clicks are the scribbles' now
    session = opened["state"]
    assert session.view.mode == "scribbles" and opened["view"] == session.view
    on_end = _handler(demo, "end-scribble", "click")

    def click(session, col, row, width=2.0):
        return _click(demo, session, col, row, **{"scribble-width": width})

    one = click(click(session, 10, 30)["state"], 80, 30)
    (scribble,) = one["state"].hints.scribbles
    assert scribble.points == ((10.5 / 90, 30.5 / 60), (80.5 / 90, 30.5 / 60)) and scribble.width == 0.02
    assert not one["state"].hints.points  # not a point: the scribbles' tab is open
    assert tuple(one["result"][30, 60]) == SCRIBBLE  # over the paper ...
    assert one["state"].prepared.ink[30, 40] and (one["result"][30, 40] == sketch[0][30, 40]).all()  # under the lines
    assert one["status"].endswith("1 scribble (drawing: 2 points).")
    ended = _shown(on_end(one["state"]))
    assert ended["status"] == "Scribble finished: the next click starts a new one." and not ended["state"].scribble_open
    assert ended["state"].hints == one["state"].hints and undo(ended["state"]).hints.scribbles[0].points == (
        (10.5 / 90, 30.5 / 60),)
    again = click(ended["state"], 45, 5)
    assert len(again["state"].hints.scribbles) == 2
    assert again["status"].endswith("2 scribbles (drawing: 1 point).")
    assert _shown(on_end(again["state"]))["state"].hints.scribbles == again["state"].hints.scribbles
    # back on the points' tab, a click is a point, and the scribbles are not drawn
    points = _open_tab(demo, again["state"], "tab-points")
    pointed = _click(demo, points["state"], 45, 50, hex="#123456")
    assert len(pointed["state"].hints.points) == 1
    assert pointed["state"].hints.scribbles == again["state"].hints.scribbles
    assert tuple(pointed["result"][30, 60]) != SCRIBBLE


def _png(path, picture):
    """Write uint8 ``picture`` as a PNG at ``path`` (folders made); returns the path as a string,
    as Gradio hands an upload to an event."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path)
    return str(path)


def _declared_png(path, width, height, rows=1):
    """A valid PNG header declaring ``width x height`` grey pixels, followed by pixel data for
    ``rows`` rows only: a few dozen bytes on disk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\xff" * width) * rows, 9)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return str(path)


def test_reference_given_before_the_sketch_is_taken_over(sketch, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    colorizer = Colorizer(MeanReference(), size=32)
    demo = app.build_app(colorizer)
    on_sketch = _handler(demo, "sketch", "change")
    sketch_file = _png(tmp_path / "sketch.png", sketch[0])
    waiting = _shown(on_sketch(sketch_file, None))
    assert waiting["state"].result is None and waiting["state"].reference is None
    assert np.array_equal(waiting["result"], np.repeat(sketch[0][..., None], 3, axis=2))  # the sketch, waiting
    assert waiting["status"] == "90 x 60 px sketch, 4 flat regions. Upload a reference picture."
    reference = np.full((20, 20, 3), (200, 40, 40), np.uint8)
    shown = _shown(on_sketch(sketch_file, _png(tmp_path / "red.png", reference)))
    row, col = sketch[1]["circle"]
    assert shown["status"] == "90 x 60 px sketch, 4 flat regions."
    assert np.abs(shown["result"][row, col].astype(int) - (200, 40, 40)).max() <= 1
    # the session keeps the reference as the network sees it (32 x 32), not a full-size copy
    assert shown["state"].reference.shape == (3, 32, 32)


def test_the_kept_reference_paints_exactly_what_the_full_picture_paints(sketch, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    colorizer = Colorizer(MeanReference(), size=32)
    demo = app.build_app(colorizer)
    on_sketch = _handler(demo, "sketch", "change")
    on_reference = _handler(demo, "reference", "upload")
    rows, cols = np.mgrid[0:70, 0:45]  # not square, not even: fitting it pads and resizes
    picture = np.stack([rows * 3, cols * 5, (rows + cols) % 256], axis=2).astype(np.uint8)
    reference_file = _png(tmp_path / "gradient.png", picture)
    session = _shown(on_sketch(_png(tmp_path / "sketch.png", sketch[0]), None))["state"]
    shown = _shown(on_reference(session, reference_file))
    full = colorizer.colorize(session.prepared, reference=picture)
    assert shown["state"].reference.shape == (3, 32, 32)
    assert torch.equal(shown["state"].result.image, full.image) and torch.equal(shown["state"].result.flat, full.flat)
    # a reference before any sketch is read at once, and waits for the sketch
    before = _shown(on_reference(None, reference_file))
    assert before == {"status": "Reference picture taken: now upload a sketch."}
    assert _refused(on_reference, None, _declared_png(tmp_path / "bomb.png", 6000, 6000)).startswith(
        "bomb.png is 6000 x 6000 px (36 MP); the app takes at most 25 MP.")


def test_uploads_are_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    bomb = _declared_png(tmp_path / "gradio" / "3f2a9c" / "bomb.png", 6000, 6000)
    assert (tmp_path / "gradio" / "3f2a9c" / "bomb.png").stat().st_size < 200  # 36 MP declared, 100 bytes on disk
    decoded = []
    monkeypatch.setattr("tinct.app.uploads.load_image", lambda *args, **kwargs: decoded.append(args))
    message = ("bomb.png is 6000 x 6000 px (36 MP); the app takes at most 25 MP. "
               "Scale it down, or start the app with --max-pixels.")
    with pytest.raises(ImageError) as error:
        load_upload(bomb)  # the app's budget by default: 25 MP
    assert str(error.value) == message and decoded == []
    # Gradio's file data names the file as the user knows it
    with pytest.raises(ImageError) as error:
        load_upload({"path": bomb, "orig_name": "my sketch.png"})
    assert str(error.value) == message.replace("bomb.png", "my sketch.png") and decoded == []
    with pytest.raises(ImageError, match=r"^bomb\.png is 6000 x 6000 px \(36 MP\); the app takes at most 0\.5 MP\."):
        load_upload(bomb, max_pixels=500_000)
    with pytest.raises(ImageError, match=r"^bomb\.png is 6000 x 6000 px \(36 MP\); the app takes at most 40,000 px\."):
        load_upload(bomb, max_pixels=40_000)
    assert APP_MAX_PIXELS == 25_000_000 == 5000 * 5000
    assert load_upload(None) is None


def test_uploads_the_app_cannot_read_name_the_file_not_the_folder(tmp_path):
    folder = tmp_path / "gradio" / "9d1e07"
    picture = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3) * 3
    loaded = load_upload(_png(folder / "small.png", picture), max_pixels=24)
    assert torch.equal(loaded, torch.from_numpy(picture).permute(2, 0, 1).float() / 255)  # exactly the budget
    with pytest.raises(ImageError, match=r"^small\.png is 4 x 6 px \(24 px\); the app takes at most 23 px\."):
        load_upload(str(folder / "small.png"), max_pixels=23)

    truncated = _declared_png(folder / "cut.png", 300, 200, rows=3)
    (folder / "notes.png").write_text("not a picture")
    nan = np.full((8, 8), np.nan, np.float32)
    Image.fromarray(nan).save(folder / "nan.tif")  # 32-bit float TIFF
    for name, reason in [("cut.png", "truncated image"), ("notes.png", "not a readable image"),
                         ("nan.tif", "non-finite values")]:
        with pytest.raises(ImageError) as error:
            load_upload(str(folder / name))
        message = str(error.value)
        assert message.startswith(f"{name}: ") and reason in message, message
        assert str(tmp_path) not in message and "9d1e07" not in message and "\n" not in message
    with pytest.raises(ImageError, match=r"^Lines\.PNG: truncated image: its pixel data ends before the last row$"):
        load_upload({"path": truncated, "orig_name": "Lines.PNG"})
    with pytest.raises(ImageError, match=r"^gone\.png is no longer on the server: upload it again$"):
        load_upload(str(folder / "gone.png"))


def test_messages_leave_folders_out():
    assert short_message(ValueError("/tmp/gradio/3f2a/sketch.png: corrupt or truncated image (broken data)\nmore")) \
        == "sketch.png: corrupt or truncated image (broken data)"
    assert short_message(ValueError(r"C:\Users\me\AppData\Local\Temp\gradio\ab\x y.png: bad")) == "x y.png: bad"
    assert short_message(ValueError("cannot write image /srv/out/9f/colorized.png (No space left)")) \
        == "cannot write image colorized.png (No space left)"
    for kept in ["values must be in [0, 1] or 1/2 of a/b", "see https://example.org/docs/hints.md",
                 "(1|3, H, W)", "rgb(100%, 0%, 50%)"]:
        assert short_message(ValueError(kept)) == kept


def test_the_picture_is_the_result_with_the_open_tabs_marks(sketch, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    from tinct.app.pictures import base_picture

    demo = app.build_app(Colorizer(tiny_guiding_painter(), size=32))
    on_sketch, on_show_sketch = _handler(demo, "sketch", "change"), _handler(demo, "show-sketch", "input")
    sketch_file = _png(tmp_path / "sketch.png", sketch[0])
    opened = _shown(on_sketch(sketch_file))
    session = opened["state"]
    assert session.view == View(mode="regions")  # the tab the app opens on
    result = (session.result.image.permute(1, 2, 0) * 255).round().byte().numpy()
    sketch_rgb = np.repeat(sketch[0][..., None], 3, axis=2)
    ink = session.prepared.ink
    # guided regions: the region asked about, over the result; the lines exactly the sketch's
    assert np.array_equal(opened["result"], highlight_region(session, picture=result))
    assert not np.array_equal(opened["result"], result) and np.array_equal(opened["result"][ink], sketch_rgb[ink])
    assert base_picture(session) is base_picture(session)  # converted once, kept while the result lives

    # "show the sketch": the same marks over the lines alone; the view stays for the next sketch
    shown = _shown(on_show_sketch(session, session.view, True))
    assert shown["view"] == View(mode="regions", sketch=True) == shown["state"].view
    assert np.array_equal(shown["result"], highlight_region(session, picture=sketch_rgb))
    again = _shown(_handler_fn(demo, "sketch", "change")(sketch_file, shown["view"]))
    assert again["state"].view == View(mode="regions", sketch=True)
    assert np.array_equal(again["result"], highlight_region(again["state"], picture=sketch_rgb))
    back = _shown(on_show_sketch(shown["state"], shown["view"], False))
    assert np.array_equal(back["result"], opened["result"])

    # a click on the picture in a tab that takes none says where clicks go, and changes nothing
    row, col = sketch[1]["circle"]
    nowhere = _click(demo, back["state"], col, row)
    assert nowhere == {"status": "A click on the picture places hints in Points & strokes: open it."}

    # points & strokes: the click is a point of the colour; it shows, ringed, on the result
    points = _open_tab(demo, back["state"], "tab-points")
    assert points["state"].view == View(mode="points") and np.array_equal(points["result"], result)  # no hints yet
    pointed = _click(demo, points["state"], col, row, hex=RED, brush=10.0)
    done = pointed["state"]
    assert len(done.hints.points) == 1
    painted = (done.result.image.permute(1, 2, 0) * 255).round().byte().numpy()
    assert tuple(painted[row, col]) == tuple(pointed["result"][row, col]) == (0xE0, 0x5A, 0x47)
    assert np.array_equal(pointed["result"], draw_hints(done, painted))
    assert np.array_equal(pointed["result"][ink], sketch_rgb[ink])  # the lines stay exactly
    changed = (pointed["result"] != painted).any(axis=2)
    assert changed.any() and (changed & ink).sum() == 0  # the marks: the point's rings, on paper only
    far = np.zeros_like(changed)
    far[max(0, row - 10):row + 11, max(0, col - 10):col + 11] = True
    assert not (changed & ~far).any()  # nothing else is drawn

    # opening a tab before any sketch keeps the view for the next one
    (view,) = [block.value for block in demo.blocks.values() if isinstance(getattr(block, "value", None), View)]
    assert _shown(_handler(demo, "tab-points", "select")(None, view)) == {"view": View(mode="points")}


def _handler_fn(demo, elem_id, event):
    """The function wired to ``event`` of ``elem_id``, as Gradio calls it (all its inputs)."""
    target = _elements(demo)[elem_id]._id
    (function,) = [fn for fn in demo.fns.values() if (target, event) in fn.targets]
    return function.fn


def test_every_click_is_queued_in_order_and_the_picture_stays(sketch, tmp_path, gradio_folder):
    gradio = pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    from tinct.app.ui import PICTURES_KEPT

    demo = app.build_app(Colorizer(tiny_guiding_painter(), size=32))
    by_fn = {fn.fn: fn for fn in demo.fns.values() if fn.fn is not None}
    for elem_id, event in [("result", "select"), ("apply-color", "click"), ("skip-region", "click"),
                           ("undo", "click"), ("end-stroke", "click"), ("clear-hints", "click"),
                           ("undo-hints", "click"), ("download-png", "click"), ("download-psd", "click"),
                           ("download-hints", "click"), ("tab-points", "select"),
                           ("show-sketch", "input")]:
        fn = by_fn[_handler_fn(demo, elem_id, event)]
        # Gradio's default ("once") drops a click given while the one before is painted
        assert fn.trigger_mode == "multiple", elem_id
        assert fn.concurrency_id == "model" and fn.concurrency_limit == 1, elem_id  # one at a time, in order
        assert fn.show_progress == "minimal", elem_id  # no "processing" cover over the picture
    assert by_fn[_handler_fn(demo, "sketch", "change")].show_progress == "minimal"

    # each update is a new file (the browser caches none); the session's older ones are removed
    session = _shown(_handler(demo, "sketch", "change")(_png(tmp_path / "sketch.png", sketch[0])))["state"]
    session = _open_tab(demo, session, "tab-points")["state"]
    for step in range(PICTURES_KEPT + 3):
        session = _click(demo, session, 10 + step, 30, hex=BLUE)["state"]
    assert len(session.hints.points) == PICTURES_KEPT + 3
    # a click the browser could not place (no picture size while the next loads; the page's script holds
    # those) is a message, not an error
    on_click = _handler_fn(demo, "result", "select")
    unplaced = gradio.SelectData(None, {"index": [None, None], "value": None, "selected": True})
    assert _shown(on_click(unplaced, session, BLUE, "point", 2.0)) == {
        "status": "That click came while the picture was changing: click again."}
    kept = sorted((gradio_folder / "tinct-pictures" / session.key).glob("*.png"))
    assert len(kept) == PICTURES_KEPT
    assert np.array_equal(np.asarray(Image.open(kept[-1])), _app_of(demo).marked_picture(session))


def _app_of(demo):
    """The :class:`~tinct.app.ui.App` whose handlers ``demo`` runs."""
    import inspect

    return inspect.getclosurevars(_handler_fn(demo, "download-png", "click").__wrapped__).nonlocals["app"]


def test_pictures_are_sent_as_lossless_png(tmp_path):
    from tinct.app.pictures import png_bytes

    rng = np.random.default_rng(0)
    for shape in [(1, 1, 3), (7, 5, 3), (64, 33, 3)]:
        picture = rng.integers(0, 256, shape, dtype=np.uint8)
        data = png_bytes(picture)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), picture)
        (tmp_path / "p.png").write_bytes(data)
        assert np.array_equal(cv2.imread(str(tmp_path / "p.png"))[..., ::-1], picture)  # another decoder too
    with pytest.raises(ValueError, match=r"uint8 \(H, W, 3\)"):
        png_bytes(np.zeros((4, 4), np.uint8))


def test_point_model_has_only_the_points_tab(sketch, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(Colorizer(tiny_point_hints(), size=32))
    by_id = _elements(demo)
    assert _opening_tab(demo) == "tab-points"
    for elem_id in ("tab-points", "result", "click-mode", "brush", "end-stroke", "clear-hints", "undo-hints"):
        assert elem_id in by_id, elem_id
    for elem_id in ("tab-guided", "region-count", "apply-color", "skip-region", "tab-reference", "reference"):
        assert elem_id not in by_id, elem_id
    on_sketch = _handler(demo, "sketch", "change")
    session = _shown(on_sketch(_png(tmp_path / "sketch.png", sketch[0])))["state"]
    row, col = sketch[1]["circle"]
    shown = _click(demo, session, col, row, hex="#abc", brush=5.0)
    (point,) = shown["state"].hints.points
    assert (point.x, point.y, point.size) == ((col + 0.5) / 90, (row + 0.5) / 60, 0.05)
    result = (shown["state"].result.image.permute(1, 2, 0) * 255).round().byte().numpy()
    assert tuple(shown["result"][row, col]) == (0xAA, 0xBB, 0xCC) == tuple(result[row, col])
    on_click = _handler(demo, "result", "select")
    fn = next(fn for fn in demo.fns.values() if fn.fn is on_click)
    assert fn.collects_event_data  # Gradio passes the click
    assert [block.elem_id for block in fn.inputs] == [None, "hex", "click-mode", "brush"]


def test_short_hex_is_read_by_the_one_parser(colorizer, session):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    assert normalize_color("#abc") == "#aabbcc"
    demo = app.build_app(colorizer)
    by_id = _elements(demo)
    on_hex = _handler(demo, "hex", "submit")
    assert on_hex("#abc", list(app.DEFAULT_PALETTE)) == {by_id["color-picker"]: "#aabbcc", by_id["hex"]: "#aabbcc",
                                                        by_id["palette"]: None}
    on_apply = _handler(demo, "apply-color", "click")
    shown = _shown(on_apply(session, "#abc"))
    rank = session.order[0]
    assert shown["state"].hints.regions[rank] == parse_color("#aabbcc") == (0xAA / 255, 0xBB / 255, 0xCC / 255)
    assert shown["region-count"] == f"Region 2 of {len(session.order)}" and shown["result"].shape == (60, 90, 3)


def test_palette_swatches_set_the_colour_and_follow_it(colorizer, session, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(colorizer, output_dir=tmp_path / "out")
    by_id = _elements(demo)
    palette = by_id["palette"]
    first = list(app.DEFAULT_PALETTE)
    assert [value for _, value in palette.choices] == first and palette.value == first[0]  # the current colour
    # a swatch clicked is the current colour: the picker and the hex entry
    assert _shown(_handler(demo, "palette", "input")("#3a7bd5")) == {"color-picker": "#3a7bd5", "hex": "#3a7bd5"}
    # a colour typed sets the picker and marks its swatch (none when the palette lacks it)
    on_hex = _handler(demo, "hex", "submit")
    assert _shown(on_hex("#E05A47", first)) == {"color-picker": "#e05a47", "hex": "#e05a47", "palette": "#e05a47"}
    assert _shown(on_hex("#123", first))["palette"] is None
    assert _shown(_handler(demo, "color-picker", "input")("#6AB04C", first)) == {"hex": "#6ab04c",
                                                                                 "palette": "#6ab04c"}
    # add and remove the current colour
    added = _shown(_handler(demo, "palette-add", "click")(first, "#123"))
    assert added["palette"]["choices"] == first + ["#112233"] and added["palette"]["value"] == "#112233"
    assert added["seeds"] == first + ["#112233"]  # the palette kept (a gr.State) for saving
    removed = _shown(_handler(demo, "palette-remove", "click")(first, "#e05a47"))
    assert "#e05a47" not in removed["palette"]["choices"] and removed["palette"]["value"] is None
    assert _refused(_handler(demo, "palette-remove", "click"), ["#ffffff"], "#fff") == (
        "the palette keeps at least one colour")

    # a download button writes its file on the click (the page then saves it)
    done = _shown(_handler(demo, "apply-color", "click")(session, "#abc"))["state"]
    assert _refused(_handler(demo, "download-psd", "click"), None) == "Upload a sketch first."
    path = _shown(_handler(demo, "download-psd", "click")(done))["download-file"]
    assert path.endswith("colorized.psd") and "lines" in [layer.name for layer in PSDImage.open(path)]
    hints = load_hints(_shown(_handler(demo, "download-hints", "click")(done))["download-file"])
    assert hints == done.hints


def test_a_sketch_over_the_budget_is_refused_and_the_session_stays(colorizer, sketch, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(colorizer)  # the app's own budget: 25 MP
    on_sketch, on_apply = _handler(demo, "sketch", "change"), _handler(demo, "apply-color", "click")
    first = _shown(on_sketch(_png(tmp_path / "sketch.png", sketch[0])))
    coloured = _shown(on_apply(first["state"], RED))
    bomb = _declared_png(tmp_path / "gradio" / "5be0" / "poster.png", 6000, 6000)
    assert _refused(on_sketch, bomb) == ("poster.png is 6000 x 6000 px (36 MP); the app takes at most 25 MP. "
                                         "Scale it down, or start the app with --max-pixels.")
    # nothing was shown for the refused sketch: the colouring goes on where it was
    after = _shown(on_apply(coloured["state"], BLUE))
    assert after["region-count"] == f"Region 3 of {len(first['state'].order)}"
    assert after["state"].hints.regions[first["state"].order[0]] == parse_color(RED)
    assert after["result"].shape == (60, 90, 3)
    # so are truncated pictures and files that are no picture, named by their own name
    truncated = _declared_png(tmp_path / "gradio" / "77aa" / "lines.png", 90, 60, rows=2)
    assert _refused(on_sketch, truncated) == "lines.png: truncated image: its pixel data ends before the last row"
    (tmp_path / "gradio" / "77aa" / "notes.png").write_text("text")
    message = _refused(on_sketch, {"path": str(tmp_path / "gradio" / "77aa" / "notes.png"),
                                   "orig_name": "<img src=x onerror=alert(1)>.png"})
    # the file's own name, escaped: Gradio shows messages as HTML
    assert message.startswith("&lt;img src=x onerror=alert(1)&gt;.png: not a readable image")
    assert str(tmp_path) not in message


def test_the_pixel_budget_is_settable(colorizer, sketch, tmp_path):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    sketch_file = _png(tmp_path / "sketch.png", sketch[0])  # 90 x 60 = 5,400 px
    tight = app.build_app(colorizer, max_pixels=90 * 60 - 1)
    assert _refused(_handler(tight, "sketch", "change"), sketch_file) == (
        "sketch.png is 90 x 60 px (5,400 px); the app takes at most 5,399 px. "
        "Scale it down, or start the app with --max-pixels.")
    enough = app.build_app(colorizer, max_pixels=90 * 60)
    assert _shown(_handler(enough, "sketch", "change")(sketch_file))["state"].prepared.original.shape == (3, 60, 90)
    wide = app.build_app(colorizer, max_pixels=40_000_000)  # 6000 x 6000 passes the budget, then is read
    bomb = _declared_png(tmp_path / "bomb.png", 6000, 6000)
    assert _refused(_handler(wide, "sketch", "change"), bomb) == (
        "bomb.png: truncated image: its pixel data ends before the last row")
    for bad in (0, -5, 2.5, "many", True):
        with pytest.raises(ValueError, match="max_pixels must be a whole number of pixels"):
            app.build_app(colorizer, max_pixels=bad)


def test_unexpected_errors_show_a_sentence_and_log_the_traceback(colorizer, sketch, tmp_path, monkeypatch, caplog):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    from tinct.app.ui import UNEXPECTED

    demo = app.build_app(colorizer)
    on_sketch, on_skip = _handler(demo, "sketch", "change"), _handler(demo, "skip-region", "click")
    session = _shown(on_sketch(_png(tmp_path / "sketch.png", sketch[0])))["state"]

    def broken(session):
        raise RuntimeError(f"index 7 out of range in {tmp_path}/secret/cache.bin")

    monkeypatch.setattr("tinct.app.modes.regions.skip_region", broken)
    with caplog.at_level(logging.ERROR, logger="tinct.app"):
        assert _refused(on_skip, session) == UNEXPECTED
    (record,) = [r for r in caplog.records if r.name == "tinct.app"]
    assert record.levelno == logging.ERROR and "on_skip" in record.getMessage()
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "Traceback" in caplog.text and "index 7 out of range" in caplog.text and "in broken" in caplog.text

    # tinct's own errors keep their message, without folders, and are no bug: nothing is logged
    caplog.clear()
    def refused(session):
        raise ImageError(f"{tmp_path}/gradio/ab12/ref.png: holds non-finite values")

    monkeypatch.setattr("tinct.app.modes.regions.skip_region", refused)
    with caplog.at_level(logging.ERROR, logger="tinct.app"):
        assert _refused(on_skip, session) == "ref.png: holds non-finite values"
    assert not caplog.records
    # out of memory: a sentence of its own, and the log
    def too_much(*args):
        raise MemoryError

    monkeypatch.setattr("tinct.app.build.start_session", too_much)
    with caplog.at_level(logging.ERROR, logger="tinct.app"):
        assert _refused(on_sketch, str(tmp_path / "sketch.png")) == (
            "The server ran out of memory for this picture: try a smaller one.")
    assert isinstance(caplog.records[-1].exc_info[1], MemoryError)


@pytest.mark.parametrize("model", [tiny_guiding_painter, tiny_point_hints, MeanReference, "cwr_dual", "rasc",
                                   "edge_enhance"])
def test_every_handler_is_guarded_and_uploads_reach_it_as_files(model):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(Colorizer(load_model(model) if isinstance(model, str) else model(), size=32))
    by_id = _elements(demo)
    pictures = {by_id[elem_id]._id for elem_id in ("sketch", "reference") if elem_id in by_id}
    functions = [fn for fn in demo.fns.values() if fn.fn is not None]
    assert len(functions) >= 10
    for fn in functions:
        assert getattr(fn.fn, "guarded", False), fn.name
        takes_a_picture = any(block._id in pictures for block in fn.inputs)
        assert fn.preprocess is not takes_a_picture, fn.name  # Gradio decodes no picture


# ----------------------------------------------------------------------------- the model picker


def test_switching_models_keeps_the_sketch_and_the_guidance_the_new_model_takes(colorizer, sketch):
    from tinct.app import dropped_guidance, kept_hints, switch_model
    from tinct.hintfile import Hints

    guided = start_session(colorizer, sketch[0], View(mode="regions", model="guided"))
    guided = colorize(colorizer, add_point(apply_color(guided, RED), 45, 30, BLUE))
    assert guided.hints.regions[0] is not None and len(guided.history) == 2
    points = Colorizer(tiny_point_hints(), size=32)

    switched = switch_model(guided, points, View(mode="points", model="points"))
    assert switched.result is None  # prepared, not painted yet (as a new session)
    switched = colorize(points, switched)
    assert switched.view == View(mode="points", model="points") and switched.key == guided.key  # same downloads folder
    assert switched.prepared is not guided.prepared and torch.equal(switched.prepared.original, guided.prepared.original)
    assert switched.hints == Hints(points=guided.hints.points) and switched.order == ()  # the region colour went
    assert switched.history == () and switched.step == 0  # undo does not cross models
    painted = points.colorize(switched.prepared, hints=switched.hints)
    assert torch.equal(switched.result.image, painted.image)  # colorized again, by the new model
    assert dropped_guidance(guided, switched) == "1 region colour"

    # a model that takes only a reference keeps nothing, and waits for one
    reference = Colorizer(MeanReference(), size=32)
    waiting = colorize(reference, switch_model(guided, reference, View(mode="reference", model="reference")))
    assert waiting.hints == Hints() and waiting.result is None
    assert dropped_guidance(guided, waiting) == "1 region colour, 1 point"
    # a session shown as another model's without preparing it again is a mistake
    with pytest.raises(ValueError, match="switch_model"):
        guided.with_view(View(mode="points", model="points"))

    given = Hints(tags=("green", "red"), style=3, scribbles=(Scribble(points=((0.1, 0.1), (0.2, 0.2))),))
    assert kept_hints(given, Guidance(tags=("red", "blue"))) == Hints(tags=("red",))  # its vocabulary, its order
    assert kept_hints(given, Guidance(style_dim=4, scribbles=True)) == Hints(style=3, scribbles=given.scribbles)


def _picker_app(shipped):
    """An app whose picker lists a guided model (it opens with), a point-hint model and the shipped
    tag model."""
    models = {"guided": Colorizer(tiny_guiding_painter(), size=32, min_question=0.0),
              "points": Colorizer(tiny_point_hints(), size=32), "tags": shipped("cwr_dual")}
    return app.build_app("guided", models=models), models


def _visible(shown, elem_id):
    """Whether a tab (or box) is shown after a handler's update of it."""
    return shown[elem_id]["visible"] is True


def test_the_model_picker_lists_its_models_and_shows_the_tabs_of_the_one_in_use(shipped):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo, models = _picker_app(shipped)
    by_id = _elements(demo)
    assert by_id["model"].choices == [("guided (colours for ranked regions, points, strokes)", "guided"),
                                      ("points (points, strokes)", "points"), ("tags (colour tags)", "tags")]
    assert by_id["model"].value == "guided"
    # a tab for every mode a listed model takes; those the model in use lacks are hidden
    visible = {elem_id: by_id[elem_id].visible for elem_id in ("tab-guided", "tab-points", "tab-tags")}
    assert visible == {"tab-guided": True, "tab-points": True, "tab-tags": "hidden"}
    assert "tab-reference" not in by_id and "tab-styles" not in by_id  # no listed model takes these
    assert _opening_tab(demo) == "tab-guided"
    assert [value for _, value in by_id["tags"].choices] == list(models["tags"].guidance.tags)  # built for cwr_dual
    assert "model" not in _elements(app.build_app(models["guided"]))  # no picker unless asked for
    from tinct.app.build import build_blocks

    with pytest.raises(ValueError, match="one of the picker's"):
        build_blocks(models["points"], output_dir=None, palette=["#000000"], max_pixels=100, models=models,
                     model="guided")


def test_the_model_picker_switches_without_a_restart(shipped, sketch, tmp_path):
    gradio = pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo, models = _picker_app(shipped)
    on_model = _handler_fn(demo, "model", "input")
    on_sketch, on_apply = _handler(demo, "sketch", "change"), _handler(demo, "apply-color", "click")
    (first_view,) = [block.value for block in demo.blocks.values() if isinstance(getattr(block, "value", None), View)]
    assert first_view == View(mode="regions", model="guided")

    # before a sketch: the tabs and the status line follow the model
    before = _shown(on_model(None, first_view, "tags", []))
    assert before["view"] == View(mode="tags", model="tags") and before["state"] is None
    assert before["status"].startswith("Model: **cwr+dual**") and before["modes"]["selected"] == "tab-tags"
    assert [_visible(before, tab) for tab in ("tab-guided", "tab-points", "tab-tags")] == [False, False, True]
    assert _visible(before, "colours") is False  # tags paint with no colour of the picker

    # with a sketch, a region colour and a point given to the guided model
    sketch_file = _png(tmp_path / "sketch.png", sketch[0])
    guided = _shown(on_sketch(sketch_file, []))["state"]
    assert guided.view.model == "guided" and len(guided.order) >= 3
    guided = _shown(on_apply(guided, RED))["state"]
    guided = _click(demo, _open_tab(demo, guided, "tab-points")["state"], 45, 30, hex=BLUE)["state"]
    assert guided.hints.points and guided.view.mode == "points"

    # to the point model: the point stays, the region colour goes (and the status says so); the
    # points tab stays open
    switched = _shown(on_model(guided, guided.view, "points", []))
    session = switched["state"]
    assert session.view == View(mode="points", model="points") == switched["view"]
    assert session.hints.points == guided.hints.points and not any(session.hints.regions)
    assert switched["status"].startswith("Now **points**: it takes points, strokes. Not carried over: 1 region colour.")
    assert [_visible(switched, tab) for tab in ("tab-guided", "tab-points", "tab-tags")] == [False, True, False]
    assert switched["modes"]["selected"] == "tab-points" and _visible(switched, "colours") is True
    painted = models["points"].colorize(session.prepared, hints=session.hints)
    assert torch.equal(session.result.image, painted.image)  # painted by the new model
    ink = sketch[0] < 128
    assert np.array_equal(switched["result"][ink], np.repeat(sketch[0][ink][:, None], 3, axis=1))  # lines exact
    assert on_model(session, session.view, "points", []) == gradio.skip()  # the same model: nothing to do

    # another user's session keeps its own model: their next click is the guided model's
    other = _shown(on_apply(guided, BLUE))["state"]
    assert other.view.model == "guided" and other.hints.regions[1] == parse_color(BLUE)

    # to the tag model: the tags ticked in its (hidden) tab are taken; the point goes
    tagged = _shown(on_model(session, session.view, "tags", ["yellow"]))
    assert tagged["state"].hints.tags == ("yellow",) and tagged["state"].view.mode == "tags"
    assert tagged["tags"]["value"] == ["yellow"] and len(tagged["tags"]["choices"]) == len(models["tags"].guidance.tags)
    assert "Not carried over: 1 point." in tagged["status"] and tagged["status"].endswith("Tags: yellow.")
    # and back to the guided model: it asks its questions from the first again
    back = _shown(on_model(tagged["state"], tagged["state"].view, "guided", ["yellow"]))
    assert back["state"].view == View(mode="regions", model="guided") and back["state"].step == 0
    assert back["region-count"].startswith("Region 1 of") and "Not carried over: 1 colour tag." in back["status"]
    assert "tags" not in back  # the tags stay ticked in their hidden tab
    assert _refused(on_model, back["state"], back["state"].view, "nope", []) == "no model 'nope' in this app"


def test_the_app_command_lists_the_shipped_models_in_its_picker(tmp_path):
    from tinct.app import picker_models
    from tinct.methods.pretrained import find_model, shipped_models

    names = shipped_models()
    assert "cwr_dual" in names and "guiding_painter" in names
    assert picker_models("cwr_dual") == ("cwr_dual", names)
    assert picker_models(find_model("rasc")) == ("rasc", names)  # a shipped model's folder: by its name
    folder = tiny_point_hints().save_pretrained(tmp_path / "mine")
    assert picker_models(folder) == (str(folder), [str(folder), *names])  # one's own checkpoint first
