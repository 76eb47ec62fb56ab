import json

import numpy as np
import pytest
from colorize_helpers import drawn_sketch, tiny_guiding_painter, tiny_point_hints
from PIL import Image

from tinct.cli import main
from tinct.hintfile import load_hints
from tinct.ora import read_ora
from tinct.regions import trapped_ball


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"guiding_painter": str(tiny_guiding_painter().save_pretrained(folder / "gp")),
            "point_hints": str(tiny_point_hints().save_pretrained(folder / "ph"))}


@pytest.fixture
def sketches(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    sketch, points = drawn_sketch(64, 96)
    Image.fromarray(sketch).save(folder / "a.png")
    Image.fromarray(drawn_sketch(80, 80)[0]).save(folder / "sub" / "b.png")
    return folder, sketch, points


def _colorize(*args, model):
    return main(["colorize", *map(str, args), "--model", model, "--size", "32"])


def _region_color(pixels, sketch, where):
    """The one colour of the paper pixels of the region containing ``where``."""
    labels = trapped_ball(sketch)
    inside = (labels == labels[where]) & (sketch == 255)
    colors = np.unique(pixels[inside][:, :3], axis=0)
    assert len(colors) == 1
    return tuple(int(c) for c in colors[0])


def test_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "colorize" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    out = capsys.readouterr().out
    for option in ("--model", "--hints", "--reference", "--save-hints", "--transparent", ".ora"):
        assert option in out
    from tinct.cli import SHIPPED_NAMES
    from tinct.methods import shipped_models

    assert sorted(SHIPPED_NAMES.split(", ")) == shipped_models()  # --help names every shipped model


def test_one_file_to_png(sketches, models, tmp_path):
    folder, sketch, _ = sketches
    assert _colorize(folder / "a.png", "-o", tmp_path / "out" / "a.png", model=models["guiding_painter"]) == 0
    pixels = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert pixels.shape == (64, 96, 3)
    ink = sketch < 128
    assert np.array_equal(pixels[ink], np.repeat(sketch[ink][:, None], 3, axis=1))


def test_folder_to_ora_continues_past_a_bad_file(sketches, models, tmp_path, capsys):
    folder, _, _ = sketches
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    code = _colorize(folder, "-o", out, "--format", "ora", model=models["guiding_painter"])
    assert code == 1
    err = capsys.readouterr().err
    assert "colorize: 2 of 3 image(s) written" in err and "broken.png" in err
    for name, size in (("a.ora", (96, 64)), ("sub/b.ora", (80, 80))):
        image = read_ora(out / name)
        assert (image.width, image.height) == size
        assert [layer.name for layer in image.layers] == ["lines", "flat colours", "colorized"]
    assert not (out / "broken.ora").exists()


def test_several_inputs_into_a_folder(sketches, models, tmp_path):
    folder, _, _ = sketches
    out = tmp_path / "many"
    assert _colorize(folder / "a.png", folder / "sub", "-o", out, "--transparent",
                     model=models["point_hints"]) == 0
    assert Image.open(out / "a.png").mode == "RGBA"
    assert (out / "sub" / "b.png").exists()


def test_hint_file_applies_at_any_size_and_is_saved(sketches, models, tmp_path):
    folder, sketch, points = sketches
    big = np.asarray(Image.fromarray(sketch).resize((384, 256), Image.NEAREST))
    Image.fromarray(big).save(tmp_path / "a_big.png")
    row, col = points["circle"]
    hint_file = tmp_path / "hints.json"
    hint_file.write_text(json.dumps({"version": 1, "points": [
        {"x": (col + 0.5) / 96, "y": (row + 0.5) / 64, "color": "#ff8000"}]}))
    saved = tmp_path / "used.json"
    code = _colorize(folder / "a.png", tmp_path / "a_big.png", "-o", tmp_path / "out", "--hints", hint_file,
                     "--colors", "#00ff00,-,#0000ff", "--point", "0.9,0.05,#123456", "--save-hints", saved,
                     model=models["guiding_painter"])
    assert code == 0
    small = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    large = np.asarray(Image.open(tmp_path / "out" / "a_big.png"))
    assert _region_color(small, sketch, points["circle"]) == (255, 128, 0)
    assert _region_color(large, big, (row * 4, col * 4)) == (255, 128, 0)
    used = load_hints(saved)
    assert [p.color for p in used.points] == [(1.0, 128 / 255, 0.0), (18 / 255, 52 / 255, 86 / 255)]
    assert used.regions == ((0.0, 1.0, 0.0), None, (0.0, 0.0, 1.0))
    assert json.loads(saved.read_text())["version"] == 2


def test_errors_are_clear(sketches, models, tmp_path, cli):
    folder, _, _ = sketches
    gp, ph = models["guiding_painter"], models["point_hints"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "points": [{"x": 2, "y": 0.5, "color": "#ffffff"}]}))
    a, out = folder / "a.png", tmp_path / "o.png"

    def fails(*args, match, model=gp, code=2):
        cli.fails(["colorize", *args, "--model", model, "--size", "32"], match, code=code)

    fails(a, "-o", out, "--hints", bad, match=r"bad\.json: points\[0\]\.x must be a number in \[0, 1\]")
    fails(a, "-o", out, model="not_a_model", match="no model named 'not_a_model'")
    fails(a, "-o", out, "--reference", a,
          match="model guiding_painter takes no reference image; it takes: colours for ranked regions, points, strokes")
    fails(a, "-o", out, "--colors", "#ff0000", model=ph,
          match="model point_hints takes no region colours .*it takes: points, strokes")
    fails(a, "-o", tmp_path / "o.jpg", match=r"must end in \.png or \.ora")
    fails(tmp_path / "missing.png", "-o", out, match="missing.png: no such file or folder", code=1)
    fails(folder, "-o", out, match="a folder as input needs a folder as output")
    fails(a, "-o", tmp_path / "o.ora", "--format", "png", match="--format png contradicts")
    fails(a, "-o", out, "--point", "0.5,1.5,#ffffff", match="--point takes X,Y")
    fails(a, "-o", out, "--colors", "red", match=r"regions\[0\] must be a colour")
    for flag, value, kind in (("--tags", "yellow", "colour tags"), ("--style", "3", "style"),
                              ("--scribble", "0.1,0.1,0.5,0.5", "scribbles")):
        fails(a, "-o", out, flag, value, match=f"model guiding_painter takes no {kind}; it takes: colours")
    fails(a, "-o", out, "--scribble", "0.1,0.1,0.5", match="--scribble takes")
    fails("--list-tags", match="model guiding_painter takes no colour tags")
    fails(a, "-o", out, "--size", "4096", match="--size: must be between 8 and 1024 px")
    (tmp_path / "a_file").write_text("")
    fails(a, "-o", out, "--save-hints", tmp_path / "a_file" / "hints.json", match="--save-hints: cannot write")
    assert not (tmp_path / "o.png").exists()


def test_colours_past_the_questions_warn_and_the_background_can_be_painted(sketches, models, tmp_path, capsys):
    folder, sketch, points = sketches
    out = tmp_path / "out"
    colors = ",".join(["#e05a47"] * 40)  # the tiny model asks about fewer areas than 40
    assert _colorize(folder / "a.png", "-o", out / "a.png", "--colors", colors, model=models["guiding_painter"]) == 0
    err = capsys.readouterr().err
    assert "tinct: warning:" in err and "a.png: region colours" in err and "went nowhere" in err
    pixels = np.asarray(Image.open(out / "a.png"))
    assert _region_color(pixels, sketch, points["circle"]) == (224, 90, 71)
    # the tiny model lumps the paper in with the drawing: its questions leave the paper alone
    assert _region_color(pixels, sketch, points["background"]) == (255, 255, 255)
    assert _colorize(folder / "a.png", "-o", out / "c.png", model=models["point_hints"]) == 0
    plain = np.asarray(Image.open(out / "c.png"))
    assert _region_color(plain, sketch, points["background"]) == (255, 255, 255)  # paper stays paper
    assert _colorize(folder / "a.png", "-o", out / "b.png", "--paint-background", model=models["point_hints"]) == 0
    painted = np.asarray(Image.open(out / "b.png"))
    assert _region_color(painted, sketch, points["background"]) != (255, 255, 255)


def test_a_point_leaves_the_other_areas_alone_unless_spread(sketches, models, tmp_path):
    folder, sketch, points = sketches
    out = tmp_path / "out"
    row, col = points["circle"]
    point = f"{(col + 0.5) / sketch.shape[1]:.4f},{(row + 0.5) / sketch.shape[0]:.4f},#1030e0"
    assert _colorize(folder / "a.png", "-o", out / "free.png", model=models["point_hints"]) == 0
    assert _colorize(folder / "a.png", "-o", out / "local.png", "--point", point, model=models["point_hints"]) == 0
    assert _colorize(folder / "a.png", "-o", out / "spread.png", "--point", point, "--spread-hints",
                     model=models["point_hints"]) == 0
    free, local, spread = (np.asarray(Image.open(out / f"{name}.png")) for name in ("free", "local", "spread"))
    assert _region_color(local, sketch, points["circle"]) == (16, 48, 224)  # the hint itself
    assert _region_color(local, sketch, points["rectangle"]) == _region_color(free, sketch, points["rectangle"])
    assert _region_color(spread, sketch, points["circle"]) == (16, 48, 224)
    # the network's own colour for the rectangle, with the hint in its input
    assert _region_color(spread, sketch, points["rectangle"]) != _region_color(free, sketch, points["rectangle"])


def test_a_tag_model_takes_tags_lists_them_and_names_the_closest_to_a_typo(sketches, tmp_path, cli, capsys):
    import torch

    from tinct.methods.cwr import CWR, Config

    torch.manual_seed(0)
    model = CWR(Config(base_channels=8, depth=3, disc_channels=8, disc_layers=3, tag_grid=4,
                       tags=("red", "yellow", "blue", "hair_brown")))
    folder, sketch, points = sketches
    checkpoint = str(model.save_pretrained(tmp_path / "cwr"))
    out = tmp_path / "out"
    assert main(["colorize", "--model", checkpoint, "--list-tags"]) == 0
    assert capsys.readouterr().out.split() == ["red", "yellow", "blue", "hair_brown"]
    assert _colorize(folder / "a.png", "-o", out / "plain.png", model=checkpoint) == 0  # no tags: fine
    assert _colorize(folder / "a.png", "-o", out / "tags.png", "--tags", "yellow,hair_brown", model=checkpoint) == 0
    plain, tagged = (np.asarray(Image.open(out / name)) for name in ("plain.png", "tags.png"))
    assert plain.shape == tagged.shape and not np.array_equal(plain, tagged)  # the tags reach the network
    cli.fails(["colorize", folder / "a.png", "-o", out / "x.png", "--model", checkpoint, "--tags", "yelow"],
              match="yelow.*closest known: yellow")


@pytest.fixture(scope="module")
def style_model(tmp_path_factory):
    """A tiny RASC checkpoint (a style-based model)."""
    import torch

    from tinct.methods.rasc import RASC, Config

    torch.manual_seed(0)
    model = RASC(Config(base_channels=8, max_channels=32, depth=2, style_dim=16, disc_channels=8, disc_layers=3))
    return str(model.save_pretrained(tmp_path_factory.mktemp("models") / "rasc"))


def test_a_style_seed_gives_the_same_picture_and_another_seed_another(sketches, style_model, tmp_path):
    folder, _, _ = sketches
    out = tmp_path / "out"
    for name, style in (("s3", "3"), ("again", "3"), ("s4", "4"), ("plain", None), ("s0", "0")):
        assert _colorize(folder / "a.png", "-o", out / f"{name}.png", *(("--style", style) if style else ()),
                         model=style_model) == 0
    pictures = {name: np.asarray(Image.open(out / f"{name}.png")) for name in ("s3", "again", "s4", "plain", "s0")}
    assert np.array_equal(pictures["s3"], pictures["again"])
    assert not np.array_equal(pictures["s3"], pictures["s4"])
    assert np.array_equal(pictures["plain"], pictures["s0"])  # no style: seed 0


def test_styles_writes_one_picture_per_seed(sketches, style_model, tmp_path):
    folder, _, _ = sketches
    out = tmp_path / "out"
    assert _colorize(folder / "a.png", "-o", out / "a.png", "--styles", "3", model=style_model) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_s0.png", "a_s1.png", "a_s2.png"]
    assert _colorize(folder / "a.png", "-o", tmp_path / "one.png", "--style", "1", model=style_model) == 0
    assert np.array_equal(np.asarray(Image.open(out / "a_s1.png")), np.asarray(Image.open(tmp_path / "one.png")))
    assert not np.array_equal(np.asarray(Image.open(out / "a_s0.png")), np.asarray(Image.open(out / "a_s1.png")))
    # a folder: every picture's variations, in the output folder's tree
    assert _colorize(folder, "-o", tmp_path / "many", "--styles", "2", "--format", "ora", model=style_model) == 0
    assert sorted(str(p.relative_to(tmp_path / "many")) for p in (tmp_path / "many").rglob("*.ora")) == [
        "a_s0.ora", "a_s1.ora", "sub/b_s0.ora", "sub/b_s1.ora"]


def test_a_style_between_two_seeds_and_in_a_hint_file(sketches, style_model, tmp_path):
    folder, _, _ = sketches
    out = tmp_path / "out"
    for name, style in (("s3", "3"), ("s9", "9"), ("start", "3,9@0"), ("end", "3,9@1"), ("mid", "3,9@0.5")):
        assert _colorize(folder / "a.png", "-o", out / f"{name}.png", "--style", style, model=style_model) == 0
    pictures = {name: np.asarray(Image.open(out / f"{name}.png")) for name in ("s3", "s9", "start", "end", "mid")}
    assert np.array_equal(pictures["start"], pictures["s3"]) and np.array_equal(pictures["end"], pictures["s9"])
    assert not np.array_equal(pictures["mid"], pictures["s3"]) and not np.array_equal(pictures["mid"], pictures["s9"])
    saved = tmp_path / "hints.json"
    assert _colorize(folder / "a.png", "-o", out / "x.png", "--style", "3,9@0.5", "--save-hints", saved,
                     model=style_model) == 0
    assert json.loads(saved.read_text())["style"] == "3,9@0.5"
    assert _colorize(folder / "a.png", "-o", out / "file.png", "--hints", saved, model=style_model) == 0
    assert np.array_equal(np.asarray(Image.open(out / "file.png")), pictures["mid"])


def test_style_errors_are_clear(sketches, models, style_model, tmp_path, cli):
    folder, _, _ = sketches
    a, out = folder / "a.png", tmp_path / "o.png"

    def fails(*args, match, model=style_model, code=2):
        cli.fails(["colorize", a, "-o", out, *args, "--model", model, "--size", "32"], match, code=code)

    forms = r"--style must be a whole number >= 0 \(a style seed.*or 'A,B@T'"
    fails("--style", "3,9", match=forms + r".*got '3,9'")
    fails("--style", "3,9@1.5", match=forms)
    fails("--style", "-2", match=forms)
    fails("--styles", "2", model=models["guiding_painter"], match="model guiding_painter takes no style; it takes:")
    fails("--style", "3,9@0.5", model=models["point_hints"], match="model point_hints takes no style")
    fails("--styles", "2", "--style", "1", match="give --style or --styles, not both")
    fails("--styles", "0", match="--styles takes a number of styles >= 1")
    assert not out.exists()
