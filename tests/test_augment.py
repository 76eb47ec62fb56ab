import pytest
import torch

from tinct.data.augment import joint_flip_crop


def _sample(size=32):
    image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0)) * 0.5
    regions = torch.arange(size * size, dtype=torch.int64).reshape(size, size) % 7
    image[:, 5, 26] = 1.0  # marker pixel
    regions[5, 26] = 99
    return {"color": image, "regions": regions, "name": "sample", "tags": torch.ones(4)}


def test_flip_and_crop_move_the_marker_identically():
    sample = _sample()
    seen_flip = set()
    for seed in range(12):
        out = joint_flip_crop(sample, size=32, scale=(0.5, 0.8), generator=torch.Generator().manual_seed(seed))
        assert out["color"].shape == (3, 32, 32) and out["regions"].shape == (32, 32)
        marker = out["regions"] == 99
        if marker.any():
            rows, cols = torch.nonzero(marker, as_tuple=True)
            # the upscaled marker is a block; the image is bright exactly there (block interior)
            inner = out["color"][0, rows.min() + 1 : rows.max(), cols.min() + 1 : cols.max()]
            assert inner.numel() == 0 or (inner > 0.9).all()
            assert out["color"][0][marker].mean() > 0.6
            seen_flip.add(bool(cols.float().mean() < 16))
        else:
            assert out["color"][0].max() < 0.75  # the marker was cropped away in both
    assert seen_flip == {True, False}


def test_exact_flip_without_crop():
    sample = _sample()
    flipped = joint_flip_crop(sample, size=32, flip_p=1.0, scale=(1.0, 1.0))
    assert torch.equal(flipped["color"], sample["color"].flip(-1))
    assert torch.equal(flipped["regions"], sample["regions"].flip(-1))
    kept = joint_flip_crop(sample, size=32, flip_p=0.0, scale=(1.0, 1.0))
    assert torch.equal(kept["color"], sample["color"]) and torch.equal(kept["regions"], sample["regions"])


def test_labels_stay_integers_without_interpolation():
    sample = _sample()
    out = joint_flip_crop(sample, size=24, generator=torch.Generator().manual_seed(3))
    assert out["regions"].dtype == torch.int64
    assert set(out["regions"].unique().tolist()) <= set(sample["regions"].unique().tolist())
    mask = {"mask": (torch.rand(1, 32, 32) > 0.5).float(), "color": sample["color"]}
    out = joint_flip_crop(mask, size=20, nearest_keys={"mask"}, generator=torch.Generator().manual_seed(1))
    assert set(out["mask"].unique().tolist()) <= {0.0, 1.0}


def test_non_tensors_pass_through_and_determinism():
    sample = _sample()
    first = joint_flip_crop(sample, size=16, generator=torch.Generator().manual_seed(7))
    second = joint_flip_crop(sample, size=16, generator=torch.Generator().manual_seed(7))
    assert first["name"] == "sample" and torch.equal(first["tags"], sample["tags"])
    assert torch.equal(first["color"], second["color"]) and torch.equal(first["regions"], second["regions"])
    assert first["color"].shape == (3, 16, 16) and first["color"].min() >= 0 and first["color"].max() <= 1


def test_non_square_output_keeps_the_aspect_ratio():
    image = torch.zeros(1, 20, 40)
    image[0, :, 20:] = 1.0  # right half bright
    out = joint_flip_crop({"image": image}, size=(10, 20), flip_p=0.0, scale=(1.0, 1.0))
    assert out["image"].shape == (1, 10, 20)
    assert torch.allclose(out["image"][0, :, 12:], torch.ones(10, 8)) and (out["image"][0, :, :8] == 0).all()


def test_batched_gives_each_sample_its_own_draw():
    batch = {"color": _sample()["color"].expand(4, -1, -1, -1), "regions": _sample()["regions"].expand(4, -1, -1)}
    out = joint_flip_crop(batch, size=16, batched=True, generator=torch.Generator().manual_seed(0))
    assert out["color"].shape == (4, 3, 16, 16) and out["regions"].shape == (4, 16, 16)
    assert any(not torch.equal(out["regions"][0], out["regions"][b]) for b in range(1, 4))


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        joint_flip_crop({"a": torch.rand(3, 32, 32), "b": torch.zeros(16, 16, dtype=torch.long)}, size=8)
    with pytest.raises(ValueError):
        joint_flip_crop(_sample(), size=8, scale=(0.0, 1.0))
