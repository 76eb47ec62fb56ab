import cv2
import numpy as np
import pytest
import torch

from tinct.data.gaps import erase_gaps

TOP_LEFT, BOTTOM_RIGHT = (8, 10), (55, 52)  # (x, y) of the rectangle's corners


def _rectangle(*, thickness: int = 2, anti_aliased: bool = False, size: int = 64) -> torch.Tensor:
    """(1, size, size) sketch: a rectangle outline drawn by OpenCV on white paper."""
    image = np.full((size, size), 255, np.uint8)
    cv2.rectangle(image, TOP_LEFT, BOTTOM_RIGHT, 0, thickness, cv2.LINE_AA if anti_aliased else cv2.LINE_8)
    return torch.from_numpy(image / 255.0).float()[None]


def _open_runs(sketch: np.ndarray, before: np.ndarray) -> list[int]:
    """Lengths of the runs along the rectangle's sides (away from its corners) where the
    stroke was ink and is now paper all across, its anti-aliased rim included."""
    (left, top), (right, bottom) = TOP_LEFT, BOTTOM_RIGHT
    bands = [(np.s_[top - 3 : top + 4, left + 4 : right - 3], False),  # (across, along)
             (np.s_[bottom - 3 : bottom + 4, left + 4 : right - 3], False),
             (np.s_[top + 4 : bottom - 3, left - 3 : left + 4], True),
             (np.s_[top + 4 : bottom - 3, right - 3 : right + 4], True)]
    runs = []
    for band, vertical in bands:
        was, now = (before[band].T, sketch[band].T) if vertical else (before[band], sketch[band])
        opened = np.concatenate([[0], ((was < 0.5).any(0) & (now >= 0.99).all(0)).astype(np.int8), [0]])
        starts, ends = np.flatnonzero(np.diff(opened) == 1), np.flatnonzero(np.diff(opened) == -1)
        runs += [int(end - start) for start, end in zip(starts, ends)]
    return runs


@pytest.mark.parametrize("anti_aliased", [False, True])
@pytest.mark.parametrize("width", [2, 3, 5, 8])
def test_one_gap_opens_the_line_over_its_width_and_nothing_else(width, anti_aliased):
    sketch = _rectangle(anti_aliased=anti_aliased)
    for seed in range(5):
        out, gap_mask = erase_gaps(sketch, generator=torch.Generator().manual_seed(seed), count=1, width=width)
        assert out.shape == sketch.shape and out.dtype == sketch.dtype and gap_mask.dtype == torch.bool
        runs = _open_runs(out[0].numpy(), sketch[0].numpy())
        assert len(runs) == 1 and abs(runs[0] - width) <= 1, (seed, runs)
        # every pixel farther than the width from the gap is as drawn
        distance = cv2.distanceTransform((~gap_mask[0].numpy()).astype(np.uint8), cv2.DIST_L2, 5)
        far = torch.from_numpy(distance > width)
        assert torch.equal(out[0][far], sketch[0][far])
        # the gap is painted paper, and it is where the ink was
        assert (out[gap_mask] == 1).all() and (sketch[gap_mask] < 1).all()
        assert torch.equal(out[~gap_mask], sketch[~gap_mask])


def test_the_number_of_gaps_is_drawn_from_count():
    sketch = _rectangle()
    seen = set()
    for seed in range(12):
        out, gap_mask = erase_gaps(sketch, generator=torch.Generator().manual_seed(seed), count=(2, 4), width=(2, 4))
        gaps = cv2.connectedComponents(gap_mask[0].numpy().astype(np.uint8), connectivity=8)[0] - 1
        assert len(_open_runs(out[0].numpy(), sketch[0].numpy())) == gaps
        seen.add(gaps)
    assert seen == {2, 3, 4}
    _, none = erase_gaps(sketch, generator=torch.Generator().manual_seed(0), count=0)
    assert not none.any()


def test_same_generator_seed_same_gaps_and_batches():
    sketch = _rectangle(anti_aliased=True)
    first = erase_gaps(sketch, generator=torch.Generator().manual_seed(3))
    again = erase_gaps(sketch, generator=torch.Generator().manual_seed(3))
    other = erase_gaps(sketch, generator=torch.Generator().manual_seed(4))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1])
    # a batch draws its sketches in turn from one generator
    batch = torch.stack([sketch, sketch])
    out, gap_mask = erase_gaps(batch, generator=torch.Generator().manual_seed(3))
    assert out.shape == (2, 1, 64, 64) and gap_mask.shape == (2, 1, 64, 64)
    assert torch.equal(out[0], first[0]) and not torch.equal(gap_mask[0], gap_mask[1])


def test_all_paper_comes_back_unchanged():
    paper = torch.ones(1, 32, 32)
    out, gap_mask = erase_gaps(paper, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, paper) and not gap_mask.any()


def test_bad_inputs_raise():
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"\(1, H, W\) or \(B, 1, H, W\)"):
        erase_gaps(torch.ones(3, 8, 8), generator=generator)
    with pytest.raises(ValueError, match="float"):
        erase_gaps(torch.ones(1, 8, 8, dtype=torch.uint8), generator=generator)
    with pytest.raises(ValueError, match="width must be 1 <= low <= high"):
        erase_gaps(torch.ones(1, 8, 8), generator=generator, width=(0, 3))
    with pytest.raises(ValueError, match="count must be 0 <= low <= high"):
        erase_gaps(torch.ones(1, 8, 8), generator=generator, count=(4, 2))
    with pytest.raises(ValueError, match="width takes a whole number"):
        erase_gaps(torch.ones(1, 8, 8), generator=generator, width=2.5)
    with pytest.raises(ValueError, match="count takes a whole number"):
        erase_gaps(torch.ones(1, 8, 8), generator=generator, count=True)
