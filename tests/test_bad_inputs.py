"""Bad inputs through the real command line, in a subprocess, as a user (or an attacker)
would give them. The corpus is generated here (no binaries are committed). Every case must
give a one-line error naming the file or flag and the reason, the right exit status (2 for
a command line that cannot work, 1 when a file failed), no traceback; the good files of a
batch are still written; and no input changes by a single byte.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SKETCH = ROOT / "examples" / "sunflower_sketch.png"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, rows: bytes) -> bytes:
    """An 8-bit RGB PNG declaring ``width x height`` whose pixel data is ``rows`` (filtered
    scanlines), however short."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    Image.open(SKETCH).convert("L").resize((96, 96)).save(folder / "good.png")
    (folder / "bomb.png").write_bytes(png_bytes(20000, 20000, b"\x00" * 16))  # ~100 bytes, declares 400 MP
    (folder / "short.png").write_bytes(png_bytes(32, 32, b"\x00" + b"\xc8" * 96))  # data for the first row only
    nan = np.full((32, 32), 0.5, np.float32)
    nan[4:8, 4:8] = np.nan
    Image.fromarray(nan, mode="F").save(folder / "nan.tif")
    Image.new("L", (4000, 2), 255).save(folder / "strip.png")
    (folder / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "x.png").mkdir()  # a folder named like an image
    Image.new("L", (8, 8), 255).save(folder / "x.png" / "inner.png")
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    (folder / "twins").mkdir()
    Image.new("L", (40, 40), 255).save(folder / "twins" / "a.png")
    Image.new("RGB", (40, 40), "white").save(folder / "twins" / "a.jpg")
    (folder / "walk").mkdir()
    Image.new("L", (40, 40), 255).save(folder / "walk" / "ok.png")
    (folder / "walk" / "loop").symlink_to(folder / "walk")  # a symlink loop
    (folder / "walk" / "gone.png").symlink_to(folder / "walk" / "missing.png")
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "digits.json").write_text('{"version": 1, "points": [{"x": ' + "9" * 5000 + ', "y": 0, "color": "#fff"}]}')
    points = [{"x": 0.5, "y": 0.5, "color": "#ff0000"}] * 200_000
    (folder / "huge.json").write_text(json.dumps({"version": 1, "points": points}))
    (folder / "many.json").write_text(json.dumps({"version": 1, "points": points[:6000]}))
    model = folder / "model_list"
    model.mkdir()
    (model / "config.json").write_text("[1, 2]")
    pickled = folder / "model_pickle"
    pickled.mkdir()
    (pickled / "config.json").write_text((ROOT / "checkpoints" / "point_hints" / "config.json").read_text())
    (pickled / "model.safetensors").write_bytes(b"\x80\x04\x95cos\nsystem\n")  # a pickle, not safetensors
    (folder / "bad.yaml").write_text("train: [epochs: 2\n")
    (folder / "python.yaml").write_text("train: !!python/object/apply:os.system ['echo pwned']\n")
    (folder / "not_a_checkpoint.ckpt").write_bytes(b"\x80\x04\x95cos\nsystem\n")
    return folder


def fingerprints(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def tinct(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "tinct.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def refused(process, code: int, *patterns: str) -> str:
    err = process.stderr
    assert process.returncode == code, f"exit {process.returncode}, expected {code}:\n{err}"
    assert "Traceback" not in err, err
    for pattern in patterns:
        assert pattern in err, f"{pattern!r} not in:\n{err}"
    return err


def test_a_batch_finishes_its_good_files_and_reports_each_bad_one(corpus, tmp_path):
    before = fingerprints(corpus)
    out = tmp_path / "out"
    inputs = ["good.png", "bomb.png", "short.png", "nan.tif", "strip.png", "drawing.svg", "missing.png",
              "dangling.png", "twins/a.png"]
    process = tinct("colorize", *(corpus / name for name in inputs), "-o", out, "--model", "point_hints",
                    cwd=tmp_path)
    refused(process, 1, "2 of 9 image(s) written, 7 failed",
            "bomb.png: image too large: 20000 x 20000 px", "short.png: truncated image",
            "nan.tif: holds non-finite values", "strip.png: sketch is 4000 x 2 px: too thin a strip",
            "drawing.svg: not an image file (.svg)", "missing.png: no such file or folder",
            "dangling.png: a broken symbolic link")
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "good.png"]
    assert fingerprints(corpus) == before


def test_nothing_is_written_over_an_input(corpus, tmp_path):
    before = fingerprints(corpus)
    good = corpus / "good.png"
    refused(tinct("colorize", good, "-o", good, cwd=tmp_path), 1, "good.png: its output", "is an input")
    refused(tinct("sketch", good, good, cwd=tmp_path), 1, "is an input")
    refused(tinct("sketch", corpus / "twins", corpus / "twins", cwd=tmp_path), 2, "is the input folder")
    refused(tinct("sketch", corpus / "twins", corpus / "twins" / "sub", cwd=tmp_path), 2, "inside it")
    # a.png and a.jpg of one folder would both become a.png: the second is refused, the first written
    out = tmp_path / "twins"
    refused(tinct("sketch", corpus / "twins", out, cwd=tmp_path), 1, "1 of 2 image(s) written",
            "a.png: would be written to", "rename one")
    assert [p.name for p in out.iterdir()] == ["a.png"]
    # --save-hints onto an input image
    refused(tinct("colorize", good, "-o", tmp_path / "o.png", "--save-hints", good, cwd=tmp_path), 2,
            "is an input image")
    assert fingerprints(corpus) == before


def test_folder_walks_report_what_they_skip(corpus, tmp_path):
    process = tinct("regions", corpus / "walk", tmp_path / "regions", cwd=tmp_path)
    refused(process, 1, "1 of 3 image(s) written", "loop: a symbolic link to a folder: not followed",
            "gone.png: a broken symbolic link")
    assert (tmp_path / "regions" / "ok.png").is_file()


def test_oversized_and_malformed_requests_are_refused_in_one_line(corpus, tmp_path):
    good = corpus / "good.png"
    out = tmp_path / "o.png"
    cases = [
        (("--size", "4096"), 2, "--size: must be between 8 and 1024 px"),
        (("--hints", corpus / "huge.json"), 2, "huge.json:", "a hint file holds at most"),
        (("--hints", corpus / "many.json"), 2, "many.json: 6000 points, strokes and scribbles; at most 5000"),
        (("--hints", corpus / "deep.json"), 2, "deep.json: not a hint file (JSON nested too deeply)"),
        (("--hints", corpus / "digits.json"), 2, "digits.json: not a hint file"),
        (("--device", "bogus"), 2, "--device: device 'bogus' is not available: not a torch device"),
        (("--device", "cuda:7"), 2, "--device: device 'cuda:7' is not available"),
        (("--model", corpus / "model_list"), 2, "config.json: unknown method None"),
        (("--model", corpus / "model_pickle"), 2, "cannot load the point_hints checkpoint"),
        (("--max-pixels", "1000"), 1, "good.png: image too large: 96 x 96 px"),
    ]
    for flags, code, *patterns in cases:
        refused(tinct("colorize", good, "-o", out, *flags, cwd=tmp_path), code, *patterns)
    assert not out.exists()
    budget = tinct("sketch", corpus / "bomb.png", tmp_path / "s.png", cwd=tmp_path)
    refused(budget, 1, "bomb.png: image too large: 20000 x 20000 px = 400 MP, over the budget of 100 MP")


def test_training_and_evaluation_refuse_bad_settings_in_one_line(corpus, tmp_path):
    common = ("--size", "32", "--limit", "2", "--batch-size", "2", "--out", tmp_path / "run")
    cases = [
        (("train", "point_hints", "--config", corpus / "bad.yaml", *common), "bad.yaml"),
        (("train", "point_hints", "--config", corpus / "python.yaml", *common), "python.yaml"),
        (("train", "point_hints", "--resume", corpus / "not_a_checkpoint.ckpt", *common), "not_a_checkpoint.ckpt"),
        (("train", "point_hints", "--resume", corpus, *common), str(corpus)),
        (("train", "point_hints", "--init", ROOT / "checkpoints" / "guiding_painter", *common), "guiding_painter"),
        (("train", "point_hints", "--epochs", "-1", *common), "epochs"),
        (("train", "point_hints", "--set", "train.size=0", "--limit", "2", "--out", tmp_path / "run"), "size"),
        (("evaluate", "--model", "baseline:flat-fill", "--limit", "0", "--out", tmp_path / "ev"),
         "limit must be a whole number >= 1"),
    ]
    for argv, pattern in cases:
        process = tinct(*argv, cwd=tmp_path)
        assert process.returncode in (1, 2), process.stderr
        assert "Traceback" not in process.stderr and pattern in process.stderr, process.stderr
        assert process.stderr.count("tinct: error:") == 1 and "pwned" not in process.stdout
