import pytest
import torch
import torch.nn.functional as F
from kornia.geometry import create_meshgrid
from kornia.geometry.transform import get_tps_transform, warp_image_tps

from tinct.data.reference import (
    appearance_shift,
    correspondence_indices,
    make_reference,
    tps_grid,
    tps_warp,
)


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_appearance_shift_is_a_constant_offset_per_channel():
    image = 0.3 + 0.4 * torch.rand(2, 3, 32, 32, generator=_generator(1))  # no clipping at strength 0.2
    shifted = appearance_shift(image, strength=0.2, generator=_generator(2))
    offset = shifted - image
    per_channel = offset.flatten(2)
    assert torch.allclose(per_channel, per_channel[..., :1].expand_as(per_channel), atol=1e-6)
    assert per_channel[..., 0].abs().max() <= 0.2 + 1e-6
    assert per_channel[0, :, 0].unique().numel() == 3  # different channels, different offsets


def test_appearance_shift_stays_in_range():
    image = torch.rand(2, 3, 32, 32, generator=_generator(3))
    shifted = appearance_shift(image, strength=0.5, generator=_generator(4))
    assert shifted.min() >= 0 and shifted.max() <= 1
    assert not torch.equal(shifted, image)


def test_identity_warp_when_scale_is_zero():
    image = torch.rand(2, 3, 32, 32, generator=_generator(5))
    warped, grid, valid = tps_warp(image, scale=0.0, generator=_generator(6))
    identity = create_meshgrid(32, 32, normalized_coordinates=True, align_corners=False)
    assert torch.allclose(grid, identity.expand(2, -1, -1, -1), atol=1e-5)
    assert torch.allclose(warped, image, atol=1e-4)
    assert valid.all()


def test_warp_equals_grid_sample_with_the_returned_grid():
    image = torch.rand(2, 3, 32, 32, generator=_generator(7))
    warped, grid, valid = tps_warp(image, scale=0.2, generator=_generator(8))
    assert grid.shape == (2, 32, 32, 2) and valid.shape == (2, 1, 32, 32)
    resampled = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    assert torch.allclose(warped, resampled, atol=1e-6)
    assert not torch.allclose(warped, image, atol=1e-2)  # it really warps
    identity = create_meshgrid(32, 32, normalized_coordinates=True, align_corners=False)
    displacement = (grid - identity).abs()
    assert 0.05 < displacement.max() < 0.4  # control points move by at most 0.2: a gentle warp
    assert torch.equal(valid[:, 0].bool(), (grid.abs() <= 1).all(-1))


def test_one_hot_mass_lands_where_the_grid_points():
    height = width = 32
    # the grid is a function of the generator only: read it first to pick hot source pixels
    # that reference pixels (10, 20) and (20, 8) sample
    grid = tps_grid(2, height, width, scale=0.15, generator=_generator(9))
    x_pix = ((grid[..., 0] + 1) * width - 1) / 2  # align_corners=False: x_pix = ((x + 1) W - 1) / 2
    y_pix = ((grid[..., 1] + 1) * height - 1) / 2
    source = torch.zeros(2, 1, height, width)
    hot = []
    for b, (ref_row, ref_col) in enumerate([(10, 20), (20, 8)]):
        row, col = int(y_pix[b, ref_row, ref_col].round()), int(x_pix[b, ref_row, ref_col].round())
        source[b, 0, row, col] = 1.0
        hot.append((row, col, ref_row, ref_col))
    warped, returned_grid, _ = tps_warp(source, scale=0.15, generator=_generator(9))
    assert torch.equal(returned_grid, grid)
    for b, (row, col, ref_row, ref_col) in enumerate(hot):
        # bilinear sampling: reference pixel q receives hat(x_pix[q] - col) * hat(y_pix[q] - row)
        expected = (1 - (x_pix[b] - col).abs()).clamp(min=0) * (1 - (y_pix[b] - row).abs()).clamp(min=0)
        assert torch.allclose(warped[b, 0], expected, atol=1e-5)
        assert warped[b, 0, ref_row, ref_col] >= 0.25  # within half a pixel in x and y
        distance = (x_pix[b] - col) ** 2 + (y_pix[b] - row) ** 2
        assert warped[b, 0].flatten().argmax() == distance.flatten().argmin()
        far = distance > 2
        assert (warped[b, 0][far] == 0).all()


def test_grid_agrees_with_kornia_warp_image_tps():
    # rebuild the control points tps_grid draws and let kornia warp the image itself
    image = torch.rand(1, 3, 32, 32, generator=_generator(10))
    grid = tps_grid(1, 32, 32, n_control=4, scale=0.2, generator=_generator(11))
    lattice = create_meshgrid(4, 4, normalized_coordinates=True, align_corners=True, dtype=torch.float64)
    lattice = lattice.reshape(1, -1, 2)
    jitter = (torch.rand((1, 16, 2), generator=_generator(11), dtype=torch.float64) * 2 - 1) * 0.2
    source_points = (lattice + jitter).float()
    # kornia's convention: get_tps_transform(output points, input points), centres = input points
    kernel_weights, affine_weights = get_tps_transform(lattice.float(), source_points)
    expected = warp_image_tps(image, source_points, kernel_weights, affine_weights, padding_mode="border")
    ours = F.grid_sample(image, grid, padding_mode="border", align_corners=False)
    assert torch.allclose(ours, expected, atol=1e-4)


def test_tps_warp_is_deterministic():
    image = torch.rand(2, 3, 32, 32, generator=_generator(12))
    first = tps_warp(image, generator=_generator(13))
    second = tps_warp(image, generator=_generator(13))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_make_reference_combines_shift_and_warp():
    target = torch.rand(2, 3, 32, 32, generator=_generator(14))
    result = make_reference(target, generator=_generator(15))
    assert set(result) == {"reference", "target", "grid", "valid"}
    assert result["reference"].shape == (2, 3, 32, 32)
    assert not torch.equal(result["target"], target)  # shifted
    resampled = F.grid_sample(result["target"], result["grid"], padding_mode="border", align_corners=False)
    assert torch.allclose(result["reference"], resampled, atol=1e-6)
    with pytest.raises(ValueError):
        make_reference(torch.rand(2, 1, 32, 32))


def test_correspondence_indices_identity_and_shift():
    identity = create_meshgrid(32, 32, normalized_coordinates=True, align_corners=False).expand(2, -1, -1, -1)
    valid = torch.ones(2, 1, 32, 32)
    index, ok = correspondence_indices(identity, valid, 8)
    assert index.shape == (2, 64) and ok.all()
    assert torch.equal(index, torch.arange(64).expand(2, -1))
    # sample one coarse cell (4 px = 0.25 normalised) to the right: cell x maps to x + 1
    shifted = identity.clone()
    shifted[..., 0] += 0.25
    index, ok = correspondence_indices(shifted, valid, (8, 8))
    grid_index = torch.arange(64).reshape(8, 8)
    assert torch.equal(index[0].reshape(8, 8)[:, :7], grid_index[:, 1:])
    assert not ok[0].reshape(8, 8)[:, 7].any() and ok[0].reshape(8, 8)[:, :7].all()
    with pytest.raises(ValueError):
        correspondence_indices(shifted[..., :1], valid, 8)
