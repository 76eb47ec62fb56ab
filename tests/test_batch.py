"""tinct.batch: which input goes where, checked before any work (the CLI's batches)."""

import os
from pathlib import Path

import pytest
from PIL import Image

from tinct.batch import Plan, UsageError, plan, run, walk_images


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 255).save(path)
    return path


def test_plan_maps_files_and_folders_and_reports_per_input(tmp_path):
    a, b = _image(tmp_path / "in" / "a.png"), _image(tmp_path / "in" / "sub" / "b.jpg")
    (tmp_path / "in" / "notes.txt").write_text("x")
    out = tmp_path / "out"
    mirrored = plan([tmp_path / "in"], out)
    assert mirrored.jobs == [(a, out / "a.png"), (b, out / "sub" / "b.png")] and not mirrored.failed
    assert mirrored.notes == [f"{tmp_path / 'in'}: left out 1 file(s) that are not images "
                              f"(.png, .jpg, .jpeg, .webp, .tif, .tiff, .bmp)"]
    single = plan([a], tmp_path / "one.ora", suffix=".ora", file_suffixes=(".png", ".ora"))
    assert single.jobs == [(a, tmp_path / "one.ora")]
    several = plan([a, tmp_path / "missing.png", tmp_path / "in" / "notes.txt", b], out)
    assert several.jobs == [(a, out / "a.png"), (b, out / "b.png")]
    assert [(p.name, reason.split(" (")[0]) for p, reason in several.failed] == [
        ("missing.png", "no such file or folder"), ("notes.txt", "not an image file")]


def test_plan_never_writes_over_or_into_inputs(tmp_path):
    a = _image(tmp_path / "in" / "a.png")
    _image(tmp_path / "in" / "a.jpg")
    assert plan([a], a).failed == [(a, f"its output {a} is an input: tinct never writes over its inputs")]
    with pytest.raises(UsageError, match="is the input folder"):
        plan([tmp_path / "in"], tmp_path / "in")
    with pytest.raises(UsageError, match="inside it"):
        plan([tmp_path / "in"], tmp_path / "in" / "out")
    twins = plan([tmp_path / "in"], tmp_path / "out")
    assert len(twins.jobs) == 1 and "rename one" in twins.failed[0][1]
    with pytest.raises(UsageError, match="must end in .png"):
        plan([a], tmp_path / "o.txt")
    with pytest.raises(UsageError, match="several inputs need a folder"):
        plan([a, a], tmp_path / "o.png")


def test_walks_report_unreadable_folders_links_to_folders_and_broken_links(tmp_path, monkeypatch):
    _image(tmp_path / "ok.png")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "gone.png").symlink_to(tmp_path / "missing.png")
    walk = os.walk

    def failing_walk(top, onerror=None, followlinks=False):  # as root, chmod 000 reads anyway: simulate it
        onerror(PermissionError(13, "Permission denied", str(Path(top) / "locked")))
        yield from walk(top, onerror=onerror, followlinks=followlinks)

    monkeypatch.setattr(os, "walk", failing_walk)
    files, problems, others = walk_images(tmp_path)
    assert files == [tmp_path / "ok.png"] and others == 0
    assert sorted((p.name, reason) for p, reason in problems) == [
        ("gone.png", "a broken symbolic link"),
        ("locked", "cannot read this folder (Permission denied)"),
        ("loop", "a symbolic link to a folder: not followed (give the folder itself)")]


def test_run_keeps_going_and_reports(tmp_path, capsys):
    batch = Plan(jobs=[(Path("a.png"), Path("o/a.png")), (Path("b.png"), Path("o/b.png"))],
                 failed=[(Path("c.svg"), "not an image file")])

    def work(source, target):
        if source.name == "b.png":
            raise ValueError("b.png: holds non-finite values")

    assert run(batch, work, desc="test") == 1
    err = capsys.readouterr().err
    assert "test: 1 of 3 image(s) written, 2 failed:" in err
    assert "failed: c.svg: not an image file" in err and "failed: b.png: holds non-finite values" in err
    assert run(Plan(jobs=[(Path("a.png"), Path("o/a.png"))]), lambda s, t: None, desc="test") == 0
