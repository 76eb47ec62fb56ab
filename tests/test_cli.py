import numpy as np
import pytest
from PIL import Image

from tinct.cli import build_parser, main
from tinct.data import openmoji


@pytest.fixture
def emoji_files(tmp_path):
    render = openmoji.RenderCache().get("1F600", 64)
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(render["color"]).save(folder / "face.png")
    Image.fromarray(render["line"]).save(folder / "sub" / "face_line.png")
    return folder, render


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "sketch" in out and "regions" in out
    for command in ("sketch", "regions"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "IN" in capsys.readouterr().out


def test_sketch_file(emoji_files, tmp_path):
    folder, render = emoji_files
    assert main(["sketch", str(folder / "face.png"), str(tmp_path / "s.png")]) == 0
    sketch = np.asarray(Image.open(tmp_path / "s.png"))
    assert sketch.shape == (64, 64)
    # most true ink is dark in the extracted sketch, the paper corner stays white
    assert sketch[render["line"] < 128].mean() < sketch[render["line"] > 250].mean() - 100
    assert sketch[0, 0] == 255


def test_regions_folder_with_bad_file(emoji_files, tmp_path, capsys):
    folder, render = emoji_files
    (folder / "broken.png").write_bytes(b"not a png")
    out, skel = tmp_path / "out", tmp_path / "skel"
    code = main(["regions", str(folder), str(out), "--skeleton", str(skel)])
    assert code == 1  # one failure is reported, the rest still written
    err = capsys.readouterr().err
    assert "2 of 3 image(s) written" in err and "broken.png" in err
    assert (out / "face.png").exists() and (out / "sub" / "face_line.png").exists()
    regions = np.asarray(Image.open(out / "sub" / "face_line.png"))
    assert regions.shape == (64, 64, 3)
    # the face's inside and the paper outside get different colours
    assert not np.array_equal(regions[32, 16], regions[0, 0])
    boundaries = np.asarray(Image.open(skel / "sub" / "face_line.png"))
    assert boundaries.shape == (64, 64) and 0 < (boundaries == 0).mean() < 0.3


def test_regions_from_color_keep_lines(emoji_files, tmp_path):
    folder, _ = emoji_files
    assert main(["regions", str(folder / "face.png"), str(tmp_path / "r.png"), "--from-color", "--keep-lines"]) == 0
    regions = np.asarray(Image.open(tmp_path / "r.png"))
    assert (regions.sum(axis=2) == 0).any()  # unlabelled line pixels are black


def test_errors_are_clear(tmp_path, cli):
    cli.fails(["sketch", tmp_path / "missing.png", tmp_path / "o.png"], "missing.png: no such file or folder", code=1)
    Image.new("RGB", (8, 8), "white").save(tmp_path / "a.png")
    cli.fails(["sketch", tmp_path / "a.png", tmp_path / "o.txt"], r"output .*o\.txt must end in \.png")
    cli.fails(["regions", tmp_path / "a.png", tmp_path / "o.png", "--radii", "3,x"], "--radii")
    assert build_parser().parse_args(["sketch", "a", "b"]).command == "sketch"


def test_the_command_line_loads_without_torch():
    """``tinct --help`` and a usage error answer at once: the CLI module imports no torch."""
    import subprocess
    import sys

    check = "import sys, tinct.cli; print(sorted(m for m in ('torch', 'kornia', 'lightning') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
