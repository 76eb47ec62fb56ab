"""Colour augmentation: every ground-truth region its own colour, paper and lines unchanged."""

import pytest
import torch

from tinct.data.recolor import hue_jitter, random_colors, recolor_regions
from tinct.train import TrainConfig, _datasets


def sample():
    """A 3-region picture: paper (region 1), red (2) and green (3) fills, a black line between
    them (label 0) with a grey anti-aliased rim."""
    color = torch.ones(3, 8, 12)
    regions = torch.ones(8, 12, dtype=torch.int64)
    color[:, :, 4:7] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    regions[:, 4:7] = 2
    color[:, :, 8:] = torch.tensor([0.1, 0.7, 0.2])[:, None, None]
    regions[:, 8:] = 3
    sketch = torch.ones(1, 8, 12)
    sketch[:, :, 7] = 0.0  # the line
    color[:, :, 7] = 0.0
    regions[:, 7] = 0
    return color, sketch, regions


def test_each_region_gets_its_own_colour_and_paper_and_lines_stay():
    color, sketch, regions = sample()
    out = recolor_regions(color, sketch, regions, generator=torch.Generator().manual_seed(1), p=1.0)
    assert torch.equal(out[:, regions == 1], color[:, regions == 1])  # paper stays paper
    assert torch.equal(out[:, :, 7], color[:, :, 7])  # the line keeps its colour (weighted by the sketch)
    red, green = out[:, 0, 5], out[:, 0, 9]
    assert (red - torch.tensor([0.9, 0.1, 0.1])).abs().max() > 0.05 and (red - green).abs().max() > 0.05
    assert torch.equal(out[:, regions == 2].unique(dim=1), red[:, None])  # flat regions stay flat
    assert torch.equal(recolor_regions(color, sketch, regions, generator=torch.Generator(), p=0.0), color)
    again = recolor_regions(color, sketch, regions, generator=torch.Generator().manual_seed(1), p=1.0)
    assert torch.equal(out, again)  # the generator decides everything
    with pytest.raises(ValueError, match="need color"):
        recolor_regions(color, sketch, regions[:4], generator=torch.Generator(), p=1.0)


def test_random_colours_and_hue_jitter_keep_grey_and_white():
    colors = random_colors(200, generator=torch.Generator().manual_seed(0))
    assert colors.shape == (200, 3) and 0 <= colors.min() and colors.max() <= 1
    assert (colors.max(1).values - colors.min(1).values).min() > 0.05  # never grey: saturation >= 0.25
    grey = torch.full((3, 4, 4), 0.5)
    assert torch.allclose(hue_jitter(grey, generator=torch.Generator().manual_seed(0), p=1.0), grey, atol=1e-5)
    red = torch.zeros(3, 2, 2)
    red[0] = 1.0
    assert not torch.allclose(hue_jitter(red, generator=torch.Generator().manual_seed(0), p=1.0), red)


def test_training_data_is_recoloured_when_asked():
    config = TrainConfig(limit=4, size=32, recolor=1.0, hue_jitter=0.0)
    train, _ = _datasets(config, ("sketch", "color"))
    plain, _ = _datasets(TrainConfig(limit=4, size=32), ("sketch", "color"))
    changed = [not torch.equal(train[(i, 7)]["color"], plain[(i, 7)]["color"]) for i in range(4)]
    assert set(train[(0, 7)]) == {"sketch", "color"} and sum(changed) >= 3
    with pytest.raises(ValueError, match="train.recolor takes a probability"):
        TrainConfig(recolor=1.5)
