import math

import numpy as np
import pytest
import torch

from tinct.metrics.bleeding import region_spread
from tinct.metrics.cdr import cdr, discrepancy_ratio
from tinct.metrics.nri import nri, nri_from_curve, psnr_curve
from tinct.metrics.psnr import local_psnr, psnr, ssim, window_mask
from tinct.metrics.scpsnr import sc_psnr


def test_psnr_known_error():
    target = torch.zeros(2, 3, 4, 4)
    output = target.clone()
    output[0] += 0.1  # MSE 0.01 -> 20 dB
    output[1, :, :2] = 0.5  # half the pixels off by 0.5: MSE 0.125 -> 9.0309 dB
    assert torch.allclose(psnr(output, target), torch.tensor([20.0, 10 * math.log10(8)]), atol=1e-4)
    assert psnr(target, target).tolist() == pytest.approx([100.0, 100.0])  # capped, finite
    with pytest.raises(ValueError, match="same shape"):
        psnr(output, target[:, :1])


def test_ssim_of_flat_images_hand_computed():
    # two flat images: no variance, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1), C1 = 0.01^2
    a, b = torch.full((1, 3, 32, 32), 0.5), torch.full((1, 3, 32, 32), 0.25)
    assert ssim(a, b).item() == pytest.approx((2 * 0.5 * 0.25 + 1e-4) / (0.25 + 0.0625 + 1e-4), abs=1e-4)


def test_ssim_identity_and_ordering(generator):
    image = torch.rand(2, 3, 16, 16, generator=generator)
    assert torch.allclose(ssim(image, image), torch.ones(2), atol=1e-4)
    slightly = (image + 0.02 * torch.randn(2, 3, 16, 16, generator=generator)).clamp(0, 1)
    badly = torch.rand(2, 3, 16, 16, generator=generator)
    assert (ssim(slightly, image) > ssim(badly, image)).all()


def test_local_psnr_counts_only_the_window():
    target = torch.zeros(2, 1, 9, 9)
    output = target.clone()
    output[:, :, :, 8] = 1.0  # a wrong column far from the marked pixel
    output[:, :, 4, 4] = 0.1  # one wrong pixel at the marked pixel
    points = torch.zeros(2, 1, 9, 9)
    points[0, 0, 4, 4] = 1  # 3x3 window around (4, 4): 9 pixels, one off by 0.1
    result = local_psnr(output, target, points, window=3)
    assert result[0].item() == pytest.approx(-10 * math.log10(0.01 / 9), abs=1e-4)
    assert math.isnan(result[1].item())  # no marked pixels
    assert window_mask(points, 3)[0].sum() == 9
    with pytest.raises(ValueError, match="odd"):
        window_mask(points, 4)


def test_discrepancy_ratio_hand_computed():
    # ground truth: two clusters split between columns 1 and 2; one edge pixel at (1, 1)
    truth = np.array([[0, 0, 1, 1]] * 3)
    edges = np.zeros((3, 4), bool)
    edges[1, 1] = True
    # window 3 around (1, 1): neighbours in the other GT cluster are (0,2), (1,2), (2,2)
    faithful = truth.copy()
    assert discrepancy_ratio(truth, faithful, edges, window=3) == 1.0
    bled = np.zeros((3, 4), int)  # output merged everything: all three share the cluster
    assert discrepancy_ratio(truth, bled, edges, window=3) == 0.0
    partial = truth.copy()
    partial[0, 2] = 0  # one of the three bleeds
    assert discrepancy_ratio(truth, partial, edges, window=3) == pytest.approx(2 / 3)
    assert discrepancy_ratio(truth, bled, np.zeros((3, 4), bool)) == 1.0  # no edges
    inside = np.zeros((3, 4), bool)
    inside[1, 0] = True  # an edge pixel whose window (3) sees only its own cluster: not scored
    assert discrepancy_ratio(truth, bled, inside, window=3) == 1.0


def test_cdr_on_images():
    target = torch.zeros(2, 3, 96, 96)
    target[:, 0, :, :45] = 1.0  # red | green, edge between columns 44 and 45
    target[:, 1, :, 45:] = 1.0
    assert cdr(target, target).tolist() == pytest.approx([1.0, 1.0])
    bleeding = target.clone()
    bleeding[1, :, :, 45:52] = target[1, :, :, :1]  # image 1: red leaks 7 px over the edge
    scores = cdr(bleeding, target)
    # SLIC cells are ~6 px here, so some bleeding neighbours fall into other cells: not 0
    assert scores[0].item() == pytest.approx(1.0) and scores[1].item() < 0.85
    plain = torch.full((1, 3, 96, 96), 0.3)
    assert cdr(target[:1], plain).item() == 1.0  # no edges in the ground truth


def test_nri_curve_and_edge_cases():
    curve = torch.tensor([[10.0, 15.0, 21.0, 25.0], [22.0, 23.0, 24.0, 25.0], [10.0, 11.0, 12.0, 13.0]])
    assert nri_from_curve(curve, 20.0).tolist() == [2, 0, 4]  # never reached -> N + 1 = 4


def test_nri_with_a_policy():
    target = torch.zeros(2, 3, 8, 8)
    target[:, :, :4] = 1.0  # top half white

    def colorize(count):  # each hint fixes one row; image 1 ignores hints
        output = torch.full_like(target, 0.5)
        output[0, :, :count] = target[0, :, :count]
        return output

    scores = nri(colorize, target, benchmark=9.0, max_hints=8)
    # image 0 after k rows fixed: MSE = 0.25 (8 - k) / 8; PSNR >= 9 dB needs MSE <= 0.1259,
    # first reached at k = 4 (MSE 0.125, 9.03 dB); image 1 never: 8 + 1
    assert scores.tolist() == [4, 9]
    curve = psnr_curve(colorize, target, max_hints=8)
    assert curve.shape == (2, 9) and curve[0, 8].item() == pytest.approx(100.0)


def test_sc_psnr_patches():
    output = torch.zeros(1, 3, 16, 16)
    reference = torch.zeros(1, 3, 20, 20)
    reference[:, :, 10:13, 10:13] = 0.5  # patch at the corresponding point differs by 0.5
    output_points = torch.tensor([[[2.0, 2.0], [8.0, 8.0]]])
    reference_points = torch.tensor([[[2.0, 2.0], [11.0, 11.0]]])
    # two 3x3 patches: one equal, one all off by 0.5 -> MSE = 0.125
    value = sc_psnr(output, reference, output_points, reference_points, patch_size=3)
    assert value.item() == pytest.approx(10 * math.log10(8), abs=1e-4)
    # a point at the border: the patch is moved inside, not padded
    border = sc_psnr(output, reference, torch.tensor([[[0.0, 0.0]]]), torch.tensor([[[19.0, 19.0]]]), patch_size=3)
    assert border.item() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="does not fit"):
        sc_psnr(output, reference, output_points, reference_points, patch_size=17)


def test_region_spread():
    regions = torch.zeros(1, 8, 8, dtype=torch.long)
    regions[:, :, :4] = 1
    regions[:, :, 4:] = 2
    flat = torch.zeros(1, 3, 8, 8)
    flat[:, 0, :, 4:] = 1.0
    assert region_spread(flat, regions).item() == pytest.approx(0.0, abs=1e-4)
    noisy = flat.clone()
    noisy[:, :, 0:2, 0:2] = 1.0  # a white blob inside region 1 (spread), region 2 flat
    assert region_spread(noisy, regions).item() > 5.0
    assert region_spread(torch.zeros(1, 3, 8, 8), torch.zeros(1, 8, 8, dtype=torch.long)).item() == 0.0
    with pytest.raises(ValueError):
        region_spread(flat, regions[0])
