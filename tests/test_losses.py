import pytest
import torch
import torch.nn.functional as F

from tinct.losses import (
    l1_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    segment_means,
    smoothness_loss,
    total_variance_loss,
)


def _one_hot(labels, num):
    return F.one_hot(labels, num).permute(0, 3, 1, 2).float()


def test_lsgan_values_by_hand():
    logits_real = torch.tensor([1.0, 3.0])
    logits_fake = torch.tensor([0.0, 2.0])
    assert lsgan_generator_loss(logits_fake).item() == pytest.approx((1 + 1) / 2)
    # real: ((1-1)^2 + (3-1)^2) / 2 = 2; fake: (0 + 4) / 2 = 2; loss = 0.5 (2 + 2)
    assert lsgan_discriminator_loss(logits_real, logits_fake).item() == pytest.approx(2.0)
    assert lsgan_discriminator_loss(torch.ones(2, 1, 3, 3), torch.zeros(2, 1, 3, 3)).item() == 0.0


def test_l1_value_and_shape_check():
    assert l1_loss(torch.tensor([0.0, 1.0]), torch.tensor([1.0, -1.0])).item() == pytest.approx(1.5)
    with pytest.raises(ValueError):
        l1_loss(torch.zeros(2, 3), torch.zeros(3, 2))


def test_smoothness_by_hand():
    logits = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
    # vertical |2-0|,|3-1| -> 2; horizontal |1-0|,|3-2| -> 1; diagonal |3-0| -> 3; anti-diagonal |2-1| -> 1
    assert smoothness_loss(logits).item() == pytest.approx((2 + 1 + 3 + 1) / 4)
    assert smoothness_loss(torch.full((2, 5, 4, 6), 3.7)).item() == 0.0
    # channels are averaged: a second identical channel does not change the value
    assert smoothness_loss(logits.repeat(1, 2, 1, 1)).item() == pytest.approx(1.75)
    with pytest.raises(ValueError):
        smoothness_loss(torch.zeros(1, 2, 1, 5))


def test_smoothness_on_a_vertical_ramp():
    logits = torch.arange(5.0).reshape(1, 1, 5, 1).expand(1, 3, 5, 5).contiguous()  # rows 0..4
    # vertical and both diagonals differ by 1, horizontal by 0 -> (1 + 0 + 1 + 1) / 4
    assert smoothness_loss(logits).item() == pytest.approx(0.75)


def test_smoothness_gradcheck():
    logits = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(smoothness_loss, (logits,))


def test_segment_means_exact_and_empty_segments_are_zero():
    labels = torch.tensor([[[0, 0], [1, 1]]])
    segments = _one_hot(labels, 3)  # segment 2 is empty
    image = torch.tensor([[[0.2, 0.4], [1.0, 0.0]]]).reshape(1, 1, 2, 2).repeat(1, 3, 1, 1)
    means = segment_means(segments, image)
    assert means.shape == (1, 3, 3)
    assert torch.allclose(means[0, :, 0], torch.tensor([0.3, 0.5, 0.0]))
    segments.requires_grad_(True)
    segment_means(segments, image).sum().backward()
    assert torch.isfinite(segments.grad).all()


def test_total_variance_zero_for_single_coloured_segments():
    labels = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    palette = torch.rand(2, 4, 3, generator=torch.Generator().manual_seed(1))
    image = palette.gather(1, labels.reshape(2, -1, 1).expand(-1, -1, 3)).transpose(1, 2).reshape(2, 3, 8, 8)
    assert total_variance_loss(_one_hot(labels, 5), image).item() == pytest.approx(0.0, abs=1e-12)


def test_total_variance_by_hand_and_equals_eq_11():
    labels = torch.tensor([[[0, 0], [1, 1]]])
    image = torch.tensor([[[0.0, 1.0], [0.5, 0.5]]]).reshape(1, 1, 2, 2)
    # segment 0 has values 0 and 1 (mean 0.5, squared errors .25 each); segment 1 is flat
    assert total_variance_loss(_one_hot(labels, 2), image).item() == pytest.approx(0.5 / 4)
    labels = torch.randint(0, 3, (2, 6, 6), generator=torch.Generator().manual_seed(0))
    image = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    segments = _one_hot(labels, 3)
    means = segment_means(segments, image)
    eq_11 = sum(((image - means[:, i, :, None, None]) * segments[:, i : i + 1]).pow(2).sum() for i in range(3))
    assert total_variance_loss(segments, image).item() == pytest.approx(eq_11.item() / image.numel())


def test_total_variance_gradcheck_with_soft_segments():
    segments = torch.softmax(torch.randn(1, 3, 3, 3, dtype=torch.float64), dim=1).requires_grad_(True)
    image = torch.rand(1, 3, 3, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(total_variance_loss, (segments, image))
