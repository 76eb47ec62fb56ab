import pytest
import torch

from tinct.data.scribbles import (
    TEST_WIDTHS,
    ab_edges,
    bleeding_edges,
    pick_edge,
    pseudo_scribble,
    scribble_and_edge,
    thicken,
)

RED = (0.85, 0.2, 0.15)
GREEN = (0.2, 0.7, 0.25)


def _halves(batch=2, size=32):
    """Left half red, right half green: one vertical colour edge between columns 15 and 16."""
    image = torch.empty(batch, 3, size, size)
    image[:, :, :, : size // 2] = torch.tensor(RED)[:, None, None]
    image[:, :, :, size // 2 :] = torch.tensor(GREEN)[:, None, None]
    return image


def _bled(image):
    """A baseline that bled: one flat colour everywhere (the image mean)."""
    return image.mean(dim=(2, 3), keepdim=True).expand_as(image).clone()


def test_ab_edges_find_the_colour_boundary_and_ignore_luminance():
    edges = ab_edges(_halves())
    assert edges.shape == (2, 1, 32, 32) and edges.dtype == torch.bool
    columns = torch.nonzero(edges[0, 0])[:, 1]
    assert len(columns) >= 28 and ((columns >= 14) & (columns <= 17)).all()
    gray = torch.zeros(1, 3, 32, 32)
    gray[..., 16:] = 1.0  # black | white: no a/b edge
    assert not ab_edges(gray).any()


def test_scribble_covers_the_bleeding_boundary_with_the_drawn_width():
    target = _halves()
    for width in (1, 3, 6, 11):
        mask = pseudo_scribble(target, _bled(target), width_range=(width, width),
                               generator=torch.Generator().manual_seed(width))
        assert mask.shape == (2, 1, 32, 32) and mask.dtype == torch.float32
        assert set(mask.unique().tolist()) == {0.0, 1.0}
        rows = mask[:, 0, 4:28].sum(dim=-1)  # away from the edge's ends
        assert (rows == width).all()
        assert mask[:, 0, 4:28, 15:17].sum(dim=-1).min() >= 1  # on the boundary


def test_random_widths_stay_in_the_range():
    target = _halves(batch=12)
    generator = torch.Generator().manual_seed(0)
    widths = set()
    for _ in range(3):
        mask = pseudo_scribble(target, _bled(target), width_range=TEST_WIDTHS, generator=generator)
        rows = mask[:, 0, 4:28].sum(dim=-1)  # (B, rows)
        assert (rows == rows[:, :1]).all()  # one width per scribble
        widths.update(rows[:, 0].long().tolist())
    assert widths <= set(range(1, 6)) and len(widths) >= 3


def test_no_bleeding_gives_an_empty_mask():
    target = _halves()
    assert pseudo_scribble(target, target.clone(), generator=torch.Generator().manual_seed(0)).sum() == 0
    shifted = target.clone()
    shifted[..., 15:17] = shifted[..., 14:15]  # the output's edge moved by 2 px: still within tolerance
    assert pseudo_scribble(target, shifted, generator=torch.Generator().manual_seed(0)).sum() == 0
    flat = torch.full((2, 3, 32, 32), 0.5)  # no edge in the ground truth
    assert pseudo_scribble(flat, _bled(target)).sum() == 0


def test_one_edge_is_picked_per_image():
    target = _halves(batch=1, size=32)
    target[..., 20:28, 2:9] = torch.tensor((0.2, 0.3, 0.9))[:, None, None]  # a blue square: a second edge
    edges = bleeding_edges(target, _bled(target))
    picks = {}
    for choice in (0.1, 0.9):
        edge = pick_edge(edges, torch.tensor([choice]))
        assert edge.sum() > 5 and (edge <= edges).all()
        picks[choice] = edge
    assert not torch.equal(picks[0.1], picks[0.9])  # two different components
    assert torch.equal(picks[0.1] | picks[0.9], edges)  # that make up all the bleeding edges


def test_pseudo_scribble_is_deterministic_and_validates():
    target = _halves()
    first = pseudo_scribble(target, _bled(target), generator=torch.Generator().manual_seed(5))
    second = pseudo_scribble(target, _bled(target), generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second)
    with pytest.raises(ValueError):
        pseudo_scribble(target, _bled(target)[:, :1])
    with pytest.raises(ValueError):
        pseudo_scribble(target, _bled(target), width_range=(0, 3))
    with pytest.raises(ValueError):
        thicken(torch.zeros(2, 1, 8, 8, dtype=torch.bool), torch.tensor([1]))


def test_hysteresis_in_one_pass_equals_kornias_iterative_one():
    from kornia.filters import canny

    from tinct.data.scribbles import _hysteresis

    generator = torch.Generator().manual_seed(0)
    ab = torch.nn.functional.avg_pool2d(torch.rand(4, 1, 48, 48, generator=generator), 5, stride=1, padding=2)
    ab = torch.cat([ab, _halves(batch=1, size=48)[:, :1]])  # smooth noise (long weak chains) and a step
    for low, high in ((0.02, 0.05), (0.1, 0.2)):
        _, iterative = canny(ab, low_threshold=low, high_threshold=high)
        _, graded = canny(ab, low_threshold=low, high_threshold=high, hysteresis=False)
        assert torch.equal(torch.from_numpy(_hysteresis(graded[:, 0].numpy())), iterative[:, 0] > 0)


def test_scribble_and_edge_gives_the_one_pixel_edge_under_the_scribble():
    target = _halves()
    scribble, edge = scribble_and_edge(target, _bled(target), width_range=(5, 5),
                                       generator=torch.Generator().manual_seed(0))
    assert torch.equal(scribble, pseudo_scribble(target, _bled(target), width_range=(5, 5),
                                                 generator=torch.Generator().manual_seed(0)))
    assert (edge <= scribble).all() and (edge[:, 0, 4:28].sum(dim=-1) == 1).all()  # 1 px wide
