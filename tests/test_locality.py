import math

import pytest
import torch

from tinct.color import rgb_to_lab
from tinct.data.hints import point_hints_at
from tinct.metrics.locality import VIVID, grow, hint_locality, locality_hint


def _two_regions(size: int = 32) -> torch.Tensor:
    """(1, H, W): region 1 on the left, region 2 on the right of column 16; no lines."""
    regions = torch.ones(1, size, size, dtype=torch.long)
    regions[..., 16:] = 2
    return regions


def test_a_change_inside_the_hinted_region_only_scores_zero():
    regions = _two_regions()
    before = torch.full((1, 3, 32, 32), 0.5)
    after = before.clone()
    after[:, :, regions[0] == 1] = torch.tensor([1.0, 0.0, 0.0])[:, None]
    result = hint_locality(before, after, regions, torch.tensor([1]))
    assert result.share.item() == 0.0 and result.outside.item() == 0.0
    expected = (rgb_to_lab(torch.tensor([1.0, 0.0, 0.0])[:, None, None]) - rgb_to_lab(torch.full((3, 1, 1), 0.5)))
    assert result.inside.item() == pytest.approx(float(expected.norm()), rel=1e-5)


def test_everything_changed_scores_one_with_known_delta_e():
    regions = _two_regions()
    before, after = torch.zeros(2, 3, 32, 32), torch.ones(2, 3, 32, 32)  # black -> white: ΔE = 100 exactly
    result = hint_locality(before, after, regions.expand(2, -1, -1), torch.tensor([1, 2]))
    assert result.share.tolist() == [1.0, 1.0]
    assert result.inside.tolist() == pytest.approx([100.0, 100.0], abs=1e-3)
    assert result.outside.tolist() == pytest.approx([100.0, 100.0], abs=1e-3)


def test_the_dilation_margin_and_the_paper_mask():
    regions = _two_regions()
    before = torch.zeros(1, 3, 32, 32)
    after = before.clone()
    after[..., 16:18] = 1.0  # columns 16, 17: within 3 px of region 1 (columns 0..15)
    assert hint_locality(before, after, regions, torch.tensor([1])).share.item() == 0.0
    after[..., 19] = 1.0  # column 19: 4 px away
    share = hint_locality(before, after, regions, torch.tensor([1])).share.item()
    assert share == pytest.approx(1 / 13)  # one of the 13 columns 19..31 outside the grown region
    # ink pixels (here column 19) are not measured
    paper = torch.ones(1, 1, 32, 32, dtype=torch.bool)
    paper[..., 19] = False
    assert hint_locality(before, after, regions, torch.tensor([1]), paper=paper).share.item() == 0.0
    # a small move is below the threshold
    small = before + 0.02
    assert hint_locality(before, small, regions, torch.tensor([1]), threshold=10.0).share.item() == 0.0


def test_no_hint_gives_nan_and_bad_inputs_raise():
    regions = _two_regions()
    image = torch.rand(1, 3, 32, 32)
    result = hint_locality(image, image, regions, torch.tensor([-1]))
    assert math.isnan(result.share.item()) and math.isnan(result.inside.item())
    with pytest.raises(ValueError, match="after must have the shape"):
        hint_locality(image, image[..., :16], regions, torch.tensor([1]))
    with pytest.raises(ValueError, match="regions must be integer"):
        hint_locality(image, image, regions.float(), torch.tensor([1]))
    with pytest.raises(ValueError, match="target_region"):
        hint_locality(image, image, regions, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="paper must be"):
        hint_locality(image, image, regions, torch.tensor([1]), paper=torch.ones(1, 3, 32, 32))


def test_grow_is_a_disk():
    mask = torch.zeros(1, 9, 9, dtype=torch.bool)
    mask[0, 4, 4] = True
    grown = grow(mask, 2)
    assert grown.sum() == 13  # the lattice points within distance 2
    assert grown[0, 4, 6] and grown[0, 5, 5] and not grown[0, 6, 6]


def test_locality_hint_picks_the_largest_inner_region_its_deepest_pixel_and_a_far_colour():
    regions = torch.ones(2, 40, 40, dtype=torch.long)  # background 1 touches the border
    regions[:, 5:13, 5:35] = 2  # inner, 240 px
    regions[:, 21:38, 10:27] = 3  # inner, 17 x 17 = 289 px: the largest inner region
    regions[:, 21:38, 9] = 0  # a line
    regions[1, :, 30:] = 4  # image 1: region 4 touches the border; region 3 still wins
    image = torch.ones(2, 3, 40, 40)  # white everywhere: the farthest vivid colour from white
    hint = locality_hint(image, regions)
    assert hint.label.tolist() == [3, 3]
    assert hint.yx.tolist() == [[29, 18], [29, 18]]  # the centre of the square, 9 px from its outside
    assert torch.allclose(hint.points[0, 0], torch.tensor([18.5 / 40, 29.5 / 40]))
    white = rgb_to_lab(torch.ones(3, 1, 1))[:, 0, 0]
    distances = (rgb_to_lab(VIVID[:, :, None, None])[:, :, 0, 0] - white).norm(dim=1)
    assert torch.equal(hint.colors[0], VIVID[distances.argmax()])
    # the hint lands where it was picked
    _, mask = point_hints_at(hint.colors[:, :, None, None].expand(-1, -1, 40, 40).contiguous(), hint.points)
    assert mask[0, 0, 29, 18] == 1 and mask.sum() == 2


def test_locality_hint_falls_back_to_the_largest_but_the_background():
    regions = torch.ones(1, 20, 20, dtype=torch.long)  # background: most of the border
    regions[:, :8, :8] = 2  # touches the border, 64 px
    regions[:, 12:, 14:] = 3  # touches the border, 48 px
    image = torch.zeros(1, 3, 20, 20)
    image[:, 0] = 1.0  # red everywhere: a red hint would not be seen
    hint = locality_hint(image, regions)
    assert hint.label.item() == 2
    assert hint.yx[0].tolist() == [3, 3]  # the image border counts as outside: the corner is not deep
    assert not torch.equal(hint.colors[0], torch.tensor([1.0, 0.0, 0.0]))
    one = locality_hint(image, torch.ones(1, 20, 20, dtype=torch.long))  # a single region is hinted itself
    assert one.label.item() == 1
    ink = locality_hint(image, torch.zeros(1, 20, 20, dtype=torch.long))  # all lines: nothing to hint
    assert ink.label.item() == -1
