import json

import numpy as np
import pytest

from tinct.hintfile import (
    HintFileError,
    Hints,
    Point,
    Stroke,
    format_color,
    hint_pixels,
    load_hints,
    parse_color,
    render_hints,
    save_hints,
    scribble_mask,
)


def _example():
    return {
        "version": 1,
        "points": [{"x": 0.25, "y": 0.75, "color": "#ff8000", "size": 0.05}, {"x": 1.0, "y": 0.0, "color": "#00FF00"}],
        "strokes": [{"points": [[0.1, 0.5], [0.9, 0.5]], "color": "#0000ff", "width": 0.03}],
        "regions": ["#ffcc00", None, "#3a7bd5"],
    }


def _write(tmp_path, data, name="hints.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_round_trip_and_schema(tmp_path):
    hints = load_hints(_write(tmp_path, _example()))
    assert hints.points[0] == Point(x=0.25, y=0.75, color=(1.0, 128 / 255, 0.0), size=0.05)
    assert hints.points[1].size == 0.02  # the default patch size
    assert hints.strokes[0].points == ((0.1, 0.5), (0.9, 0.5)) and hints.strokes[0].width == 0.03
    assert hints.regions[1] is None and hints.regions[2] == parse_color("#3a7bd5")
    path = save_hints(hints, tmp_path / "sub" / "again.json")
    written = json.loads(path.read_text())
    assert written["version"] == 2
    assert written["points"][1]["color"] == "#00ff00"
    assert written["regions"] == ["#ffcc00", None, "#3a7bd5"]
    assert load_hints(path) == hints
    assert Hints.from_dict({"version": 1}).is_empty
    assert not Hints(regions=(None, (0.0, 0.0, 0.0))).is_empty and Hints(regions=(None,)).is_empty


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("version"), "missing 'version'"),
        (lambda d: d.update(version=3), "unsupported version 3"),
        (lambda d: d.update(tags=["red"]), r"unknown keys \['tags'\] for version 1"),
        (lambda d: d.update(point=[]), r"unknown keys \['point'\]"),
        (lambda d: d["points"][1].update(x=1.5), r"points\[1\]\.x must be a number in \[0, 1\], got 1\.5"),
        (lambda d: d["points"][0].update(y=True), r"points\[0\]\.y must be a number"),
        (lambda d: d["points"][0].pop("color"), r"points\[0\]: missing 'color'"),
        (lambda d: d["points"][0].update(size=0), r"points\[0\]\.size must be a number in \(0, 1\]"),
        (lambda d: d["strokes"][0].update(color="red"), r"strokes\[0\]\.color must be a colour such as '#f2c641' or '#fc4', got 'red'"),
        (lambda d: d["strokes"][0].update(points=[]), r"strokes\[0\]\.points must be a non-empty list"),
        (lambda d: d["strokes"][0]["points"].append([0.5]), r"strokes\[0\]\.points\[2\] must be \[x, y\]"),
        (lambda d: d["regions"].append("#12345"), r"regions\[3\] must be a colour"),
        (lambda d: d.update(regions="#ffffff"), "'regions' must be a list"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path, change, message):
    data = _example()
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(HintFileError, match=message) as info:
        load_hints(path)
    assert str(info.value).startswith(str(path))


def test_unreadable_files(tmp_path):
    with pytest.raises(HintFileError, match="no such hint file"):
        load_hints(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{'version': 1")
    with pytest.raises(HintFileError, match=r"broken\.json: not valid JSON"):
        load_hints(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(HintFileError, match="must hold a JSON object, got list"):
        load_hints(tmp_path / "list.json")


def test_colours():
    assert parse_color("#FF0080") == (1.0, 0.0, 128 / 255)
    assert parse_color([0, 0.5, 1]) == (0.0, 0.5, 1.0)
    assert format_color((1.0, 0.0, 128 / 255)) == "#ff0080"
    # one parser everywhere: #rgb and rrggbb read as the app reads them
    assert parse_color("#f08") == parse_color("#ff0088") == parse_color("ff0088") == (1.0, 0.0, 136 / 255)
    for bad in ("#ff008", "#gg0080", "red", [0, 2, 0], 7):
        with pytest.raises(HintFileError, match="colour"):
            parse_color(bad)


def test_points_land_at_the_same_place_at_any_size():
    hints = Hints(points=(Point(x=0.25, y=0.75, color=(1.0, 0.0, 0.0), size=0.05),))
    for size, side in ((64, 3), (256, 13)):  # 0.05 * 64 = 3.2 -> 3 px; 0.05 * 256 = 12.8 -> 13 px
        colors, mask = render_hints(hints, size, size)
        assert mask.shape == (1, size, size) and colors.shape == (3, size, size)
        assert int(mask.sum()) == side * side
        row, col = int(0.75 * size), int(0.25 * size)
        assert mask[0, row, col] == 1 and colors[:, row, col].tolist() == [1.0, 0.0, 0.0]
        rows, cols = mask[0].nonzero(as_tuple=True)
        # the patch is centred on the pixel holding the point
        assert rows.float().mean() == pytest.approx(row + (side - 1) % 2 / 2)
        assert cols.float().mean() == pytest.approx(col + (side - 1) % 2 / 2)


def test_box_places_hints_on_the_picture_inside_a_padded_square():
    # a 2:1 landscape picture fitted to a 32 px square: rows 8..23 hold it
    hints = Hints(points=(Point(x=0.5, y=0.5, color=(0.0, 1.0, 0.0), size=0.01),
                          Point(x=0.0, y=1.0, color=(0.0, 0.0, 1.0), size=0.2)))
    (rows, cols, color), (rows2, cols2, _) = hint_pixels(hints, 32, 32, box=(8, 0, 16, 32))
    assert (rows.ravel().tolist(), cols.ravel().tolist(), color) == ([16], [16], (0.0, 1.0, 0.0))
    # the big patch at the bottom-left corner is clipped to the picture (not the padding)
    canvas = np.zeros((32, 32), bool)
    canvas[rows2, cols2] = True  # ranges that broadcast: no index memory for big patches
    assert rows2.shape == (3, 1) and cols2.shape == (1, 4) and rows2.dtype == np.int32
    assert canvas.sum() == 3 * 4 and canvas[21:24, 0:4].all()  # 6 px patch, clipped
    with pytest.raises(ValueError, match="inside"):
        hint_pixels(hints, 32, 32, box=(8, 0, 30, 32))


def test_strokes_and_painting_order():
    blue, red = (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)
    hints = Hints(strokes=(Stroke(points=((0.1, 0.5), (0.9, 0.5)), color=blue, width=0.03),),
                  points=(Point(x=0.5, y=0.5, color=red, size=0.01),))
    colors, mask = render_hints(hints, 100, 100)
    covered = mask[0].bool()
    # round caps of radius 1 px around the ends at x = 10 and 90 px
    assert covered[50, 10:91].all() and not covered[50, :8].any() and not covered[50, 92:].any()
    assert covered[:, 50].sum() == 3  # width 0.03 of 100 px
    # strokes are painted after points: the stroke's colour wins where they overlap
    assert colors[:, 50, 50].tolist() == list(blue)
    dot = Hints(strokes=(Stroke(points=((0.5, 0.5),), color=red, width=0.01),))
    assert int(render_hints(dot, 10, 10)[1].sum()) == 1


def test_merged_and_with_regions():
    base = Hints(points=(Point(0.1, 0.1, (1.0, 0.0, 0.0)),), regions=((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
    other = Hints(points=(Point(0.2, 0.2, (0.0, 1.0, 0.0)),), regions=(None, (0.5, 0.5, 0.5), (0.0, 1.0, 0.0)))
    merged = base.merged(other)
    assert [p.x for p in merged.points] == [0.1, 0.2]
    assert merged.regions == ((1.0, 1.0, 1.0), (0.5, 0.5, 0.5), (0.0, 1.0, 0.0))
    assert base.with_regions(["#000000", None]).regions == ((0.0, 0.0, 0.0), None)
    assert base.with_regions([]).points == base.points


def test_version_2_adds_tags_style_and_scribbles(tmp_path):
    data = {"version": 2, "tags": ["hair_orange", "yellow"], "style": 3,
            "scribbles": [{"points": [[0.1, 0.2], [0.3, 0.4]], "width": 0.02}, {"points": [[0.5, 0.5]]}]}
    hints = load_hints(_write(tmp_path, data))
    assert hints.tags == ("hair_orange", "yellow") and hints.style == 3
    assert hints.scribbles[0].points == ((0.1, 0.2), (0.3, 0.4)) and hints.scribbles[0].width == 0.02
    assert hints.scribbles[1].width == 0.01 and hints.kinds == ("tags", "style", "scribbles")
    assert load_hints(save_hints(hints, tmp_path / "again.json")) == hints
    for bad, message in (({"style": -1}, "style must be a whole number"), ({"style": 1.5}, "style must be"),
                         ({"tags": [""]}, r"tags\[0\] must be a tag name"),
                         ({"scribbles": [{"points": [[0.5, 2]]}]}, r"scribbles\[0\]\.points\[0\]\[1\]"),
                         ({"scribbles": [{"points": [[0.5, 0.5]], "color": "#fff"}]}, r"unknown keys \['color'\]")):
        with pytest.raises(HintFileError, match=message):
            Hints.from_dict({"version": 2, **bad})
    # scribbles rasterise like strokes, without colour
    mask = scribble_mask(hints, 100, 100)
    assert mask[20, 10] and mask[40, 30] and mask[50, 50] and mask.sum() < 200
    assert Hints().merged(hints).style == 3 and hints.merged(Hints(style=0)).style == 0


def test_a_style_between_two_seeds(tmp_path):
    from tinct.hintfile import StyleMix, parse_style

    hints = load_hints(_write(tmp_path, {"version": 2, "style": "3,9@0.25"}))
    assert hints.style == StyleMix(3, 9, 0.25) and hints.kinds == ("style",)
    assert hints.to_dict()["style"] == "3,9@0.25"
    assert load_hints(save_hints(hints, tmp_path / "again.json")) == hints
    assert parse_style(" 3 , 9 @ 1") == StyleMix(3, 9, 1.0) and parse_style("7") == 7 and parse_style(None) is None
    assert Hints(style=4).merged(hints).style == StyleMix(3, 9, 0.25)
    for bad in ("3,9", "3,9@1.5", "3,9@-0.5", "3;9@0.5", "a,b@0.5", "3,9,4@0.5", "", 2**63, [3, 9]):
        with pytest.raises(HintFileError, match=r"hints: style must be a whole number >= 0 .*or 'A,B@T'"):
            Hints.from_dict({"version": 2, "style": bad})
