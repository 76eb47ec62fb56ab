"""The web app's logic without a browser: colours, palettes, the guided-region steps, points and
strokes, undo, pictures, downloads, the ``tinct app`` command, the tabs each model's guidance
gets and their handlers (the browser test is test_app_browser.py)."""

import json
import sys

import numpy as np
import pytest
import torch
from colorize_helpers import MeanReference, drawn_sketch, tiny_guiding_painter, tiny_point_hints
from PIL import Image

from tinct import app
from tinct.app import (
    HIGHLIGHT,
    HIGHLIGHT_ALPHA,
    add_point,
    add_stroke_point,
    apply_color,
    clear_hints,
    colorize,
    draw_hints,
    end_stroke,
    export_files,
    highlight_region,
    launch_options,
    load_palette,
    normalize_color,
    palette_add,
    region_order,
    region_status,
    save_palette,
    skip_region,
    start_session,
    undo,
)
from tinct.cli import main
from tinct.colorizer import Colorizer
from tinct.hintfile import load_hints, parse_color
from tinct.methods.base import Guidance
from tinct.ora import read_ora

RED = "#e05a47"
BLUE = "#3a7bd5"


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer(tiny_guiding_painter(), size=32)


@pytest.fixture(scope="module")
def sketch():
    return drawn_sketch(60, 90)


@pytest.fixture
def session(colorizer, sketch):
    return start_session(colorizer, sketch[0], min_fraction=0.0)


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


def test_region_order_keeps_the_models_order_and_drops_empty_and_tiny_ranks():
    guide = np.zeros((10, 10), np.int64)
    guide[:, 5:] = 4
    guide[0, 0] = 2  # 1 % of the picture
    assert region_order(guide, min_fraction=0.0) == (0, 2, 4)
    assert region_order(guide, min_fraction=0.02) == (0, 4)
    assert region_order(None) == ()


def test_guided_regions_apply_skip_and_undo(colorizer, session):
    assert session.order == region_order(session.prepared.guide_regions, min_fraction=0.0)
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


def test_highlight_tints_and_outlines_the_region_asked_about(session):
    picture = highlight_region(session)
    original = np.asarray(session.prepared.original.permute(1, 2, 0) * 255).round().astype(np.uint8)
    guide = session.prepared.guide_regions
    inside = guide == session.current_region
    assert picture.shape == (60, 90, 3) and picture.dtype == np.uint8
    assert np.array_equal(picture[~inside], original[~inside])  # nothing else changes
    expected = np.round((1 - HIGHLIGHT_ALPHA) * original[inside] + HIGHLIGHT_ALPHA * np.array(HIGHLIGHT))
    tinted = (picture[inside] == expected).all(axis=1) | (picture[inside] == HIGHLIGHT).all(axis=1)  # or outline
    assert tinted.all() and (picture[inside] == HIGHLIGHT).all(axis=1).any()

    coloured = apply_color(session, "#ff0000")
    picture = highlight_region(coloured, rank=-1)  # no region highlighted: only the given colour shows
    done = guide == session.order[0]
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


def test_downloads_png_ora_and_hint_file(tmp_path, colorizer, session):
    with pytest.raises(ValueError, match="nothing to download"):
        export_files(session, tmp_path)
    done = colorize(colorizer, add_point(apply_color(session, RED), 3, 4, BLUE))
    png, ora, hints = export_files(done, tmp_path)
    assert png.parent == tmp_path / done.key and {png.name, ora.name, hints.name} == {
        "colorized.png", "colorized.ora", "colorized_hints.json"}
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
    with pytest.raises(SystemExit, match=r'needs Gradio.*pip install -e "\.\[app\]"'):
        main(["app"])


def test_app_command_passes_its_options(monkeypatch, capsys):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    calls = []
    monkeypatch.setattr(app, "serve", lambda model, **options: calls.append((model, options)))
    assert main(["app", "--model", "some/dir", "--port", "8001"]) == 0
    assert calls == [("some/dir", {"host": "127.0.0.1", "port": 8001, "share": False, "size": 128, "device": "cpu"})]
    assert main(["app", "--host", "0.0.0.0", "--share", "on"]) == 0
    assert calls[1][1]["host"] == "0.0.0.0" and calls[1][1]["share"] is True
    assert "anyone who can reach this machine" in capsys.readouterr().err
    monkeypatch.undo()  # the real serve: it loads the model before it starts anything
    with pytest.raises(SystemExit, match="cannot load the model: no model named 'nope'"):
        main(["app", "--model", "nope"])


def _elements(demo):
    """The app's elements by elem_id."""
    return {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}


def _opening_tab(demo):
    gradio = pytest.importorskip("gradio")
    (tabs,) = [block for block in demo.blocks.values() if isinstance(block, gradio.Tabs)]
    return tabs.selected


def _handler(demo, elem_id, event):
    """The function wired to ``event`` of the element ``elem_id``."""
    target = _elements(demo)[elem_id]._id
    (function,) = [fn for fn in demo.fns.values() if (target, event) in fn.targets]
    return function.fn


def _shown(shown):
    """A handler's ``{component: value}`` by elem_id (the session under "state")."""
    gradio = pytest.importorskip("gradio")
    return {"state" if isinstance(block, gradio.State) else block.elem_id: value for block, value in shown.items()}


def test_guided_model_opens_on_the_guided_tab_and_has_no_reference_tab():
    gradio = pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(Colorizer(tiny_guiding_painter(), size=32))
    assert isinstance(demo, gradio.Blocks)
    by_id = _elements(demo)
    for elem_id in ("sketch", "result", "status", "region-count", "region-view", "hex", "apply-color", "skip-region",
                    "undo", "hint-canvas", "click-mode", "brush", "end-stroke", "clear-hints", "undo-hints", "export",
                    "download-png", "download-ora", "download-hints", "palette", "palette-swatches", "palette-add",
                    "palette-save", "palette-load", "palette-file", "color-picker", "tab-guided", "tab-points"):
        assert elem_id in by_id, elem_id
    assert "tab-reference" not in by_id and "reference" not in by_id
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
    assert tabs(tags=("red",)) == ([], None)


def test_reference_given_before_the_sketch_is_taken_over(sketch):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(Colorizer(MeanReference(), size=32))
    on_sketch = _handler(demo, "sketch", "change")
    picture = np.stack([sketch[0]] * 3, axis=2)
    waiting = _shown(on_sketch(picture, None))
    assert waiting["result"] is None and waiting["state"].reference is None
    assert waiting["status"] == "90 x 60 px sketch, 3 flat regions. Upload a reference picture."
    reference = np.full((20, 20, 3), (200, 40, 40), np.uint8)
    shown = _shown(on_sketch(picture, reference))
    row, col = sketch[1]["circle"]
    assert shown["state"].reference is reference and shown["status"] == "90 x 60 px sketch, 3 flat regions."
    assert np.abs(shown["result"][row, col].astype(int) - (200, 40, 40)).max() <= 1


def test_point_model_has_only_the_points_tab(sketch):
    gradio = pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    demo = app.build_app(Colorizer(tiny_point_hints(), size=32))
    by_id = _elements(demo)
    assert _opening_tab(demo) == "tab-points"
    for elem_id in ("tab-points", "hint-canvas", "click-mode", "brush", "end-stroke", "clear-hints", "undo-hints"):
        assert elem_id in by_id, elem_id
    for elem_id in ("tab-guided", "region-count", "apply-color", "skip-region", "tab-reference", "reference"):
        assert elem_id not in by_id, elem_id
    on_sketch = _handler(demo, "sketch", "change")
    session = _shown(on_sketch(sketch[0]))["state"]
    on_click = _handler(demo, "hint-canvas", "select")
    row, col = sketch[1]["circle"]
    shown = _shown(on_click(session, "#abc", "point", 5.0, gradio.SelectData(None, {
        "index": [col, row], "value": None, "selected": True})))
    (point,) = shown["state"].hints.points
    assert (point.x, point.y, point.size) == ((col + 0.5) / 90, (row + 0.5) / 60, 0.05)
    assert tuple(shown["hint-canvas"][row, col]) == (0xAA, 0xBB, 0xCC) == tuple(shown["result"][row, col])
    assert next(fn for fn in demo.fns.values() if fn.fn is on_click).collects_event_data  # Gradio passes the click


def test_short_hex_is_read_by_the_one_parser(colorizer, session):
    pytest.importorskip("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    assert normalize_color("#abc") == "#aabbcc"
    demo = app.build_app(colorizer)
    by_id = _elements(demo)
    on_hex = _handler(demo, "hex", "submit")
    assert on_hex("#abc") == {by_id["color-picker"]: "#aabbcc", by_id["hex"]: "#aabbcc"}
    on_apply = _handler(demo, "apply-color", "click")
    shown = _shown(on_apply(session, "#abc"))
    rank = session.order[0]
    assert shown["state"].hints.regions[rank] == parse_color("#aabbcc") == (0xAA / 255, 0xBB / 255, 0xCC / 255)
    assert shown["region-count"] == f"Region 2 of {len(session.order)}" and shown["result"].shape == (60, 90, 3)
    assert shown["download-png"] is None  # a change makes the downloads stale
