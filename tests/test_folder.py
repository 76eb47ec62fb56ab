import logging

import numpy as np
import pytest
import torch
from PIL import Image

from tinct.data.folder import FolderDataset


def test_folder_dataset_skips_unreadable(tmp_path, caplog):
    rng = np.random.default_rng(0)
    for index in range(3):
        array = np.full((40, 60, 3), 255, np.uint8)
        array[10:30, 10 + index * 5 : 40 + index * 5] = rng.integers(0, 200, 3)
        Image.fromarray(array).save(tmp_path / f"img{index}.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG garbage")
    (tmp_path / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING):
        dataset = FolderDataset(tmp_path, size=32)
    assert len(dataset) == 3 and len(dataset.skipped) == 1
    assert "skipped 1 unreadable" in caplog.text and "corrupt.png" in caplog.text
    sample = dataset[1]
    assert sample["color"].shape == (3, 32, 32) and sample["sketch"].shape == (1, 32, 32)
    assert sample["regions"].shape == (32, 32) and sample["regions"].dtype == torch.int64
    assert sample["regions"].min() >= 1 and sample["regions"].max() >= 2  # the box and the paper
    assert sample["path"].endswith("img1.png")


def test_folder_dataset_empty(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match="no readable images"):
        FolderDataset(tmp_path)
