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


# ----------------------------------------------------------------------------- training samples


def _drawn(*, blue_width: int = 16, size: int = 64):
    """A red and a blue area over white paper, outlined in black: (color, sketch)."""
    import cv2
    import numpy as np

    color = np.full((size, size, 3), 255, np.uint8)
    sketch = np.full((size, size), 255, np.uint8)
    red, blue = ((8, 10), (30, 52)), ((34, 10), (34 + blue_width, 52))
    for (x0, y0), (x1, y1) in (red, blue):
        for image, ink in ((color, (0, 0, 0)), (sketch, 0)):
            cv2.rectangle(image, (x0, y0), (x1, y1), ink, 2)
    color[12:51, 10:29] = (220, 30, 30)
    color[12:51, 36 : 33 + blue_width] = (30, 60, 220)
    return (torch.from_numpy(color).permute(2, 0, 1).float() / 255, torch.from_numpy(sketch)[None].float() / 255)


def test_sample_tags_count_the_drawing_not_its_lines_or_paper():
    from tinct.data.tags import drawing_mask, sample_tags

    color, sketch = _drawn()
    vector = sample_tags(color, sketch)
    assert vector.shape == (len(TAGS),) and vector.dtype == torch.float32
    assert vector_to_tags(vector) == ["red", "blue"]  # the black lines and the white paper do not count
    mask = drawing_mask(color, sketch)
    assert mask.dtype == torch.bool and not mask[0, 0] and mask[30, 20] and not mask[52, 20]
    # extra tags join the colours
    assert vector_to_tags(sample_tags(color, sketch, extra=["skin_medium"])) == ["red", "blue", "skin_medium"]
    with pytest.raises(ValueError, match="need color"):
        sample_tags(color, sketch[:, :10])


def test_sample_tags_min_share():
    from tinct.data.tags import sample_tags

    color, sketch = _drawn(blue_width=5)  # blue: 2 x 39 px of ~20 x 39 + 2 x 39
    assert vector_to_tags(sample_tags(color, sketch)) == ["red", "blue"]
    assert vector_to_tags(sample_tags(color, sketch, min_share=0.2)) == ["red"]
    with pytest.raises(ValueError, match="min_share"):
        sample_tags(color, sketch, min_share=0.0)


def test_skin_tone_tags():
    from tinct.data.tags import skin_tone_tags

    assert skin_tone_tags("") == []
    assert skin_tone_tags("medium") == ["skin_medium"]
    assert skin_tone_tags("light+medium_dark") == ["skin_light", "skin_medium_dark"]
    with pytest.raises(ValueError, match="unknown skin tone"):
        skin_tone_tags("green")


def test_vocabulary_from_counts():
    from tinct.data.tags import tag_counts, vocabulary

    color, sketch = _drawn()
    samples = [{"tags": tags_to_vector(["red", "skin_dark"])}, {"tags": tags_to_vector(["red", "blue"])},
               {"color": color, "sketch": sketch, "skin_tone": "dark"}]
    counts = tag_counts(samples)
    assert list(counts) == TAGS
    assert counts["red"] == 3 and counts["blue"] == 2 and counts["skin_dark"] == 2 and counts["white"] == 0
    assert vocabulary(counts, 2) == ["red", "blue", "skin_dark"]  # in TAGS order
    assert vocabulary(counts, 3) == ["red"]
    assert vocabulary({"red": 5}, 1) == ["red"]
    with pytest.raises(ValueError, match="min_count"):
        vocabulary(counts, 0)
    with pytest.raises(ValueError, match="unknown tags"):
        vocabulary({"chartreuse": 4}, 1)


def test_vocabulary_of_a_data_spec_prints_as_yaml(capsys):
    import yaml

    from tinct.data.tags import main

    assert main(["openmoji", "--size", "64", "--limit", "6", "--min-count", "1"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert isinstance(printed, list) and printed and set(printed) <= set(TAGS)
    assert printed == [tag for tag in TAGS if tag in printed]
