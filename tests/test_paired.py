import logging

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from tinct.data.paired import PairedFolderDataset, SideBySideDataset
from tinct.data.specs import open_dataset

RED, BLUE = (220, 30, 30), (30, 60, 220)


def _colour(width: int, height: int, fill) -> Image.Image:
    """White paper, a filled box with a black outline."""
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle([width // 4, height // 4, 3 * width // 4, 3 * height // 4], fill=fill,
                                    outline="black", width=2)
    return image


def _sketch(width: int, height: int, *, bar: bool = False) -> Image.Image:
    """The box outline in black on white; ``bar``: a vertical line left of the box that the
    colour image does not have (to tell the given sketch from an extracted one)."""
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle([width // 4, height // 4, 3 * width // 4, 3 * height // 4], outline=0, width=2)
    if bar:
        draw.line([(width // 8, 2), (width // 8, height - 3)], fill=0, width=2)
    return image


def _paired_folder(root, names=("a", "sub/b"), *, size=(40, 40)):
    for index, name in enumerate(names):
        (root / "color" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "sketch" / name).parent.mkdir(parents=True, exist_ok=True)
        _colour(*size, RED if index % 2 == 0 else BLUE).save(root / "color" / f"{name}.png")
        _sketch(*size, bar=True).save(root / "sketch" / f"{name}.jpg", quality=95)
    return root


def test_paired_folder_pairs_by_relative_stem_and_uses_the_given_sketch(tmp_path):
    dataset = PairedFolderDataset(_paired_folder(tmp_path), size=32)
    assert len(dataset) == 2 and dataset.unpaired == []
    assert [(c.relative_to(tmp_path).as_posix(), s.relative_to(tmp_path).as_posix()) for c, s in dataset.pairs] == [
        ("color/a.png", "sketch/a.jpg"), ("color/sub/b.png", "sketch/sub/b.jpg")]
    sample = dataset[1]
    assert sample["color"].shape == (3, 32, 32) and sample["sketch"].shape == (1, 32, 32)
    assert sample["regions"].shape == (32, 32) and sample["regions"].dtype == torch.int64
    assert sample["path"].endswith("b.png")
    assert torch.allclose(sample["color"][:, 16, 16], torch.tensor(BLUE) / 255, atol=0.02)  # inside the box
    assert 0 <= sample["sketch"].min() and sample["sketch"].max() <= 1
    assert sample["sketch"][0, 16, 4] < 0.3 and sample["color"][:, 16, 4].min() > 0.9  # the bar: sketch only
    assert sample["sketch"][0, 16, 16] > 0.9  # paper inside the box
    assert sample["regions"][16, 16] != sample["regions"][16, 1]  # inside and outside the box


def test_paired_folder_reports_a_missing_partner(tmp_path, caplog):
    _paired_folder(tmp_path, names=("a", "b"))
    _colour(40, 40, RED).save(tmp_path / "color" / "only_colour.png")
    _sketch(40, 40).save(tmp_path / "sketch" / "only_sketch.png")
    with caplog.at_level(logging.WARNING):
        dataset = PairedFolderDataset(tmp_path, size=32)
    assert len(dataset) == 2
    assert sorted(path.name for path in dataset.unpaired) == ["only_colour.png", "only_sketch.png"]
    assert "2 file(s)" in caplog.text and "1 colour image(s) without a sketch" in caplog.text
    assert "1 sketch(es) without a colour image" in caplog.text and "only_sketch.png" in caplog.text


def test_paired_folder_without_pairs_names_the_folder(tmp_path):
    (tmp_path / "color").mkdir()
    (tmp_path / "sketch").mkdir()
    _colour(40, 40, RED).save(tmp_path / "color" / "x.png")
    _sketch(40, 40).save(tmp_path / "sketch" / "y.png")
    with pytest.raises(ValueError, match=f"no usable colour/sketch pairs in {tmp_path}"):
        PairedFolderDataset(tmp_path)


def test_paired_folder_resizes_a_sketch_of_another_size_and_refuses_another_shape(tmp_path, caplog):
    _paired_folder(tmp_path, names=("same",), size=(60, 40))
    _colour(60, 40, RED).save(tmp_path / "color" / "half.png")
    half = _sketch(60, 40, bar=True).resize((30, 20), Image.Resampling.BOX)  # same shape, half the size
    half.save(tmp_path / "sketch" / "half.png")
    _colour(60, 40, RED).save(tmp_path / "color" / "other.png")
    _sketch(40, 40).save(tmp_path / "sketch" / "other.png")  # square: another shape
    with caplog.at_level(logging.WARNING):
        dataset = PairedFolderDataset(tmp_path, size=32)
    assert [c.name for c, _ in dataset.pairs] == ["half.png", "same.png"]
    assert [s.name for _, s in dataset.resized] == ["half.png"]
    assert [s.name for _, s in dataset.refused] == ["other.png"]
    assert "resized" in caplog.text and "refused 1 pair(s)" in caplog.text
    resized, same = dataset[0], dataset[1]
    assert resized["sketch"].shape == (1, 32, 32)
    # the resized sketch lies where the full-size one does (the box outline), up to blur
    assert (resized["sketch"] - same["sketch"]).abs().mean() < 0.05


def test_paired_folder_skips_unreadable_files(tmp_path, caplog):
    _paired_folder(tmp_path, names=("a", "b"))
    (tmp_path / "color" / "bad.png").write_bytes(b"\x89PNG garbage")
    _sketch(40, 40).save(tmp_path / "sketch" / "bad.png")
    with caplog.at_level(logging.WARNING):
        dataset = PairedFolderDataset(tmp_path, size=32)
    assert len(dataset) == 2 and [c.name for c, _ in dataset.skipped] == ["bad.png"]
    assert "skipped 1 pair(s) with an unreadable image file" in caplog.text and "color/bad.png" in caplog.text


def test_paired_folder_limit_transform_and_spec(tmp_path):
    _paired_folder(tmp_path, names=("a", "b", "c"))
    dataset = PairedFolderDataset(tmp_path, size=24, limit=2, transform=lambda s: {**s, "seen": True})
    assert len(dataset) == 2 and dataset[0]["seen"] and dataset[0]["color"].shape == (3, 24, 24)
    assert isinstance(open_dataset(str(tmp_path), split="test", size=24), PairedFolderDataset)


def _side_by_side(width: int, height: int) -> Image.Image:
    """Left half: a red picture with a blue box; right half: a black cross on white."""
    half = width // 2
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, half - 1, height - 1], fill=RED)
    draw.rectangle([half // 4, height // 4, half // 2, height // 2], fill=BLUE)
    draw.line([(half + half // 2, 0), (half + half // 2, height - 1)], fill="black", width=3)
    draw.line([(half, height // 2), (width - 1, height // 2)], fill="black", width=3)
    return image


def test_side_by_side_splits_colour_left_sketch_right(tmp_path):
    _side_by_side(64, 32).save(tmp_path / "pair.png")
    dataset = SideBySideDataset(tmp_path, size=32)
    sample = dataset[0]
    assert sample["color"].shape == (3, 32, 32) and sample["sketch"].shape == (1, 32, 32)
    assert sample["regions"].shape == (32, 32) and sample["path"].endswith("pair.png")
    assert torch.allclose(sample["color"][:, 28, 28], torch.tensor(RED) / 255, atol=0.01)  # the left half
    assert torch.allclose(sample["color"][:, 10, 10], torch.tensor(BLUE) / 255, atol=0.01)
    sketch = sample["sketch"][0]
    assert sketch[5, 16] < 0.2 and sketch[16, 5] < 0.2  # the cross of the right half
    assert sketch[5, 5] > 0.95 and sketch[28, 28] > 0.95  # its paper: no red leaks in from the left half
    assert len(torch.unique(sample["regions"])) == 4  # the cross cuts the paper into four


def test_side_by_side_reports_odd_widths_and_non_images(tmp_path, caplog):
    _side_by_side(64, 32).save(tmp_path / "even.png")
    odd = np.asarray(_side_by_side(64, 32))
    odd = np.concatenate([odd, np.zeros((32, 1, 3), np.uint8)], axis=1)  # 65 px: a black last column
    Image.fromarray(odd).save(tmp_path / "odd.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with caplog.at_level(logging.WARNING):
        dataset = SideBySideDataset(tmp_path, size=32, limit=None)
    assert [p.name for p in dataset.files] == ["even.png", "odd.png"]
    assert [p.name for p in dataset.odd_width] == ["odd.png"] and [p.name for p in dataset.skipped] == ["broken.jpg"]
    assert "odd width" in caplog.text and "skipped 1 unreadable" in caplog.text and "broken.jpg" in caplog.text
    even, odd_sample = dataset[0], dataset[1]
    assert torch.equal(even["sketch"], odd_sample["sketch"])  # split at 32; the extra black column dropped
    assert torch.equal(even["color"], odd_sample["color"])


def test_side_by_side_limit_transform_spec_and_empty(tmp_path):
    for index in range(3):
        _side_by_side(48, 24).save(tmp_path / f"p{index}.png")
    dataset = SideBySideDataset(tmp_path, size=16, limit=2, transform=lambda s: {**s, "seen": True})
    assert len(dataset) == 2 and dataset[1]["seen"] and dataset[1]["path"].endswith("p1.png")
    assert isinstance(open_dataset(f"sbs:{tmp_path}", split="test", size=16, limit=1), SideBySideDataset)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="no readable side-by-side images"):
        SideBySideDataset(empty)
