import json

import pytest
import torch

from tinct.data.tags import (
    COLOR_NAMES,
    TAGS,
    color_name,
    dominant_colors,
    openmoji_tags,
    read_tags_file,
    tags_to_vector,
    vector_to_tags,
)


def test_vocabulary_is_fixed_and_unique():
    assert len(TAGS) == len(set(TAGS))
    for name in ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray"):
        assert name in COLOR_NAMES and f"hair_{name}" in TAGS
    for tone in ("light", "medium_light", "medium", "medium_dark", "dark"):
        assert f"skin_{tone}" in TAGS


def test_colour_names():
    assert color_name("#ff0000") == "red"
    assert color_name((0, 0, 255)) == "blue"
    assert color_name("#fcea2b") == "yellow"
    assert color_name((128, 128, 128)) == "gray"
    assert color_name("#ffffff") == "white"


def test_openmoji_skin_tone_and_colours():
    thumbs_up = openmoji_tags("1F44D-1F3FD", size=32)
    assert "skin_medium" in thumbs_up
    assert not any(tag.startswith("skin_") and tag != "skin_medium" for tag in thumbs_up)
    grinning = openmoji_tags("1F600", size=32)
    assert "yellow" in grinning and "white" not in grinning  # paper outside ignored
    assert openmoji_tags("1F44D", size=32).count("skin_yellow") == 1  # default skin, no modifier


def test_openmoji_hair_colour():
    assert "hair_orange" in openmoji_tags("1F468-200D-1F9B0", size=32)  # man: red (orange) hair


def test_dominant_colors_area_order_and_mask():
    image = torch.zeros(3, 10, 10)
    image[0, :, :6] = 1.0  # 60 % red
    image[2, :, 6:] = 1.0  # 40 % blue
    assert dominant_colors(image) == ["red", "blue"]
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[:, 7:] = True
    assert dominant_colors(image, mask=mask) == ["blue"]
    assert dominant_colors(image, top_k=1) == ["red"]


def test_vector_round_trip_and_unknown_tags():
    tags = ["red", "hair_black", "skin_medium"]
    vector = tags_to_vector(tags)
    assert vector.shape == (len(TAGS),) and vector.sum() == 3 and vector.dtype == torch.float32
    assert vector_to_tags(vector) == [tag for tag in TAGS if tag in tags]
    assert vector_to_tags(tags_to_vector([])) == []
    with pytest.raises(ValueError):
        tags_to_vector(["red", "hair_chartreuse"])
    with pytest.raises(ValueError):
        vector_to_tags(torch.zeros(3))


def test_read_tags_file_json_and_csv(tmp_path):
    json_path = tmp_path / "tags.json"
    json_path.write_text(json.dumps({"a.png": ["red", "hair_black"], "b.png": []}))
    assert read_tags_file(json_path) == {"a.png": ["red", "hair_black"], "b.png": []}
    csv_path = tmp_path / "tags.csv"
    csv_path.write_text("file,tags\na.png,red hair_black\nb.png,\n")
    assert read_tags_file(csv_path) == {"a.png": ["red", "hair_black"], "b.png": []}
    bad = tmp_path / "bad.csv"
    bad.write_text("a.png,red magenta_sparkle\n")
    with pytest.raises(ValueError, match="magenta_sparkle"):
        read_tags_file(bad)
    with pytest.raises(ValueError):
        (tmp_path / "list.json").write_text('["red"]')
        read_tags_file(tmp_path / "list.json")
    with pytest.raises(ValueError):
        read_tags_file(tmp_path / "tags.txt")
