import pytest
import torch

from tinct.data.hints import geometric_count, point_hints_at, region_hints, region_means, sample_point_hints


def _target(seed=0, batch=2, size=32):
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_geometric_count_distribution():
    counts = geometric_count((20000,), p=1 / 8, generator=torch.Generator().manual_seed(0)).double()
    assert abs(counts.mean().item() - 7.0) < 0.25  # (1 - p) / p; standard error ~0.05
    assert abs((counts == 0).double().mean().item() - 1 / 8) < 0.01
    assert counts.min() == 0


def test_geometric_count_bounded_and_degenerate():
    bounded = geometric_count((5000,), p=0.125, max_count=30, generator=torch.Generator().manual_seed(1))
    assert bounded.max() <= 30 and (bounded == 30).any()
    assert (geometric_count((10,), p=1.0) == 0).all()
    with pytest.raises(ValueError):
        geometric_count((3,), p=0.0)


def test_sample_point_hints_shapes_binary_and_zero_outside():
    target = _target()
    colors, mask = sample_point_hints(target, generator=torch.Generator().manual_seed(3))
    assert colors.shape == (2, 3, 32, 32) and mask.shape == (2, 1, 32, 32)
    assert colors.dtype == torch.float32 and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (colors * (1 - mask) == 0).all()
    assert colors.min() >= 0 and colors.max() <= 1


def test_single_hint_is_a_square_patch_with_the_exact_patch_mean():
    target = _target(seed=5, batch=64)
    colors, mask = sample_point_hints(target, p=1e-9, max_hints=1, generator=torch.Generator().manual_seed(0))
    sides = set()
    for b in range(64):
        rows, cols = torch.nonzero(mask[b, 0], as_tuple=True)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert height == width and len(rows) == height * width  # a full square
        sides.add(int(height))
        patch = target[b, :, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        expected = patch.mean(dim=(1, 2))
        assert torch.allclose(colors[b, :, rows, cols], expected[:, None].expand(-1, len(rows)), atol=1e-6)
    assert sides <= set(range(1, 10)) and len(sides) >= 5


def test_zero_hints_give_an_empty_mask():
    colors, mask = sample_point_hints(_target(), p=1.0, generator=torch.Generator().manual_seed(0))
    assert mask.sum() == 0 and colors.abs().sum() == 0


def test_hinted_fraction_follows_the_geometric_law():
    target = _target(batch=400, size=16)
    _, mask = sample_point_hints(target, generator=torch.Generator().manual_seed(2))
    empty = (mask.sum(dim=(1, 2, 3)) == 0).double().mean().item()
    assert abs(empty - 1 / 8) < 0.06


def test_gaussian_centres_prefer_the_middle_and_uniform_does_not():
    target = _target(batch=300, size=32)
    _, gaussian = sample_point_hints(target, patch_sizes=(1,), generator=torch.Generator().manual_seed(0))
    _, uniform = sample_point_hints(target, patch_sizes=(1,), centre="uniform",
                                    generator=torch.Generator().manual_seed(0))
    middle = (slice(None), slice(None), slice(8, 24), slice(8, 24))
    share_gaussian = gaussian[middle].sum() / gaussian.sum()
    share_uniform = uniform[middle].sum() / uniform.sum()
    assert share_gaussian > 0.35 and abs(share_uniform - 0.25) < 0.06


def test_sample_point_hints_is_deterministic_with_a_generator():
    target = _target()
    first = sample_point_hints(target, generator=torch.Generator().manual_seed(11))
    second = sample_point_hints(target, generator=torch.Generator().manual_seed(11))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_sample_point_hints_rejects_bad_input():
    with pytest.raises(ValueError):
        sample_point_hints(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError):
        sample_point_hints(_target(), patch_sizes=(0, 3))
    with pytest.raises(ValueError):
        sample_point_hints(_target(), centre="middle")


def test_point_hints_at_known_positions():
    target = _target()
    points = torch.tensor([[[0.5, 0.25], [0.0, 1.0]], [[0.99, 0.01], [0.5, 0.5]]])
    point_mask = torch.tensor([[True, True], [True, False]])
    colors, mask = point_hints_at(target, points, patch_size=3, point_mask=point_mask)
    # image 0, point (x=0.5, y=0.25): pixel (row 8, col 16), patch rows 7..9, cols 15..17
    assert mask[0, 0, 7:10, 15:18].all()
    assert torch.allclose(colors[0, :, 8, 16], target[0, :, 7:10, 15:18].mean(dim=(1, 2)), atol=1e-6)
    # image 0, point (0, 1): bottom-left corner, the patch shifted inside
    assert mask[0, 0, 29:32, 0:3].all()
    # image 1: only the first point (top-right corner), the second is padding
    assert mask[1, 0, 0:3, 29:32].all() and mask[1].sum() == 9
    assert mask[0].sum() == 18
    with pytest.raises(ValueError):
        point_hints_at(target, points + 1.0)


def test_region_hints_fill_selected_regions_with_their_means():
    target = _target()
    regions = torch.zeros(2, 32, 32, dtype=torch.long)
    regions[:, :, 16:] = 1
    regions[:, 20:, :] = 2
    colors, mask = region_hints(target, regions, torch.tensor([[1, -1], [2, 0]]))
    assert torch.equal(mask[0, 0], (regions[0] == 1).float())
    assert torch.equal(mask[1, 0], ((regions[1] == 2) | (regions[1] == 0)).float())
    expected = target[0][:, regions[0] == 1].mean(dim=1)
    assert torch.allclose(colors[0, :, 0, 31], expected, atol=1e-6)
    assert (colors[0, :, 0, 0] == 0).all()
    means = region_means(target, regions)
    assert means.shape == (2, 3, 3)
    everything, full = region_hints(target, regions)  # all labels > 0
    assert torch.equal(full[:, 0], (regions > 0).float())
    assert torch.allclose(everything[1, :, 31, 31], means[1, 2], atol=1e-6)
    with pytest.raises(ValueError):
        region_hints(target, regions.float())
