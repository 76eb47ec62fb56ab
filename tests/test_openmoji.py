import numpy as np
import pytest
import torch

from tinct.data import openmoji


def test_splits_are_deterministic_disjoint_and_cover_everything():
    splits = {name: openmoji.list_emojis(name) for name in openmoji.SPLITS}
    total = len(openmoji.list_emojis())
    assert total > 4000
    assert sum(len(emojis) for emojis in splits.values()) == total
    fractions = {name: len(emojis) / total for name, emojis in splits.items()}
    assert 0.75 < fractions["train"] < 0.85 and 0.07 < fractions["test"] < 0.13
    names = {name: {e.name for e in emojis} for name, emojis in splits.items()}
    assert not names["train"] & names["test"] and not names["val"] & names["test"]
    assert openmoji.split_of("1F600") == openmoji.split_of("1F600")


def test_skin_tone_families_share_a_split():
    assert openmoji.family_of("1F44D-1F3FD") == "1F44D"
    assert openmoji.skin_tone_of("1F44D-1F3FD") == "medium"
    assert openmoji.skin_tone_of("1F600") is None
    families = openmoji.skin_tone_families()
    assert len(families) > 200
    assert set(families["1F44D"]) >= {"1F44D", "1F44D-1F3FB", "1F44D-1F3FF"}
    for family, names in families.items():
        assert len({openmoji.split_of(name) for name in names}) == 1, family


def test_unknown_split_and_name():
    with pytest.raises(ValueError, match="unknown split"):
        openmoji.list_emojis("training")
    with pytest.raises(KeyError, match="ZZZZ"):
        openmoji.read_svg("ZZZZ")


def test_render_layers_are_consistent():
    result = openmoji.render("1F600", 64)  # grinning face: yellow disc, black outline
    assert result["color"].shape == (64, 64, 3) and result["line"].shape == (64, 64)
    line_ink = result["line"] < 128
    assert 0.05 < line_ink.mean() < 0.4
    # where the true line art has ink, the colour image is dark too
    assert result["color"][line_ink].mean() < 80
    # the fills have no line: the outline's pixels carry the fill colours (no black)
    assert (result["fills"].sum(axis=2) == 0).mean() < 0.01
    # the corners are paper in every layer
    assert (result["color"][0, 0] == 255).all() and result["line"][0, 0] == 255 and result["alpha"][0, 0] == 0
    # yellow face: the dominant non-white fill colour is #FCEA2B
    fills = result["fills"].reshape(-1, 3)
    colors, counts = np.unique(fills[(fills != 255).any(axis=1)], axis=0, return_counts=True)
    assert tuple(colors[counts.argmax()]) == (0xFC, 0xEA, 0x2B)


def test_ground_truth_regions():
    result = openmoji.render("1F600", 128)
    regions = result["regions"]
    # background, face, teeth, mouth: at least four regions, labels consecutive
    labels = np.unique(regions)
    assert labels[0] == 0 and list(labels[1:]) == list(range(1, len(labels)))
    assert len(labels) - 1 >= 4
    # no region crosses a line; each region has exactly one fill colour
    assert (regions[result["line"] < 128] == 0).all()
    for label in labels[1:]:
        assert len(np.unique(result["fills"][regions == label], axis=0)) == 1
    assert openmoji.min_region_area(256) == 8


def test_flat_regions_on_synthetic_fills():
    fills = np.full((10, 10, 3), 255, np.uint8)
    fills[:, 5:] = (255, 0, 0)
    line = np.full((10, 10), 255, np.uint8)
    two = openmoji.flat_regions(fills, line, min_area=2)
    assert two.max() == 2 and (two[:, :5] == two[0, 0]).all()
    line[:, 2] = 0  # a line splits the white half into two regions and eats its neighbours
    three = openmoji.flat_regions(fills, line, min_area=2)
    assert three.max() == 3 and (three[:, 1:4] == 0).all()


def test_render_cache_round_trip(tmp_path):
    cache = openmoji.RenderCache(tmp_path)
    first = cache.get("1F600", 32)
    assert cache.path("1F600", 32).exists()
    cache.path("1F600", 32).write_bytes(b"torn")  # a damaged entry is rendered again
    second = cache.get("1F600", 32)
    for key in first:
        assert np.array_equal(first[key], second[key]), key


def test_dataset_samples(tmp_path):
    dataset = openmoji.OpenMojiDataset("test", size=32, cache_dir=tmp_path, limit=3)
    assert len(dataset) == 3
    sample = dataset[0]
    assert sample["color"].shape == (3, 32, 32) and sample["color"].dtype == torch.float32
    assert sample["sketch"].shape == (1, 32, 32) and 0 <= sample["sketch"].min() <= sample["sketch"].max() <= 1
    assert sample["regions"].shape == (32, 32) and sample["regions"].dtype == torch.int64
    assert sample["name"] == openmoji.list_emojis("test")[0].name
    loader = torch.utils.data.DataLoader(dataset, batch_size=3)
    batch = next(iter(loader))
    assert batch["color"].shape == (3, 3, 32, 32) and len(batch["name"]) == 3
    flipped = openmoji.OpenMojiDataset(
        "test", size=32, cache_dir=tmp_path, limit=1, transform=lambda s: {**s, "color": s["color"].flip(-1)}
    )[0]
    assert torch.equal(flipped["color"], sample["color"].flip(-1))
    with pytest.raises(ValueError, match="sketch must be"):
        openmoji.OpenMojiDataset("test", sketch="pencil")


def test_dataset_xdog_sketches(tmp_path):
    line = openmoji.OpenMojiDataset("test", size=64, cache_dir=tmp_path, limit=1)[0]
    xdog = openmoji.OpenMojiDataset("test", size=64, cache_dir=tmp_path, limit=1, sketch="xdog")[0]
    assert xdog["sketch"].shape == (1, 64, 64) and not torch.equal(xdog["sketch"], line["sketch"])
    # XDoG finds most of the true ink (within 1 px)
    true_ink = line["sketch"][0] < 0.5
    near_found = torch.nn.functional.max_pool2d((xdog["sketch"] < 0.5).float()[None], 3, 1, 1)[0, 0] > 0
    assert near_found[true_ink].float().mean() > 0.9
