import pytest
import torch

from tinct.color import from_signed, lab_to_rgb, lab_to_unit, rgb_to_gray, rgb_to_lab, to_signed, unit_to_lab


def test_lab_round_trip(generator):
    image = torch.rand(2, 3, 8, 8, generator=generator)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(image)), image, atol=1e-4)


def test_lab_known_values():
    white = torch.ones(1, 3, 1, 1)
    black = torch.zeros(1, 3, 1, 1)
    assert torch.allclose(rgb_to_lab(white)[0, :, 0, 0], torch.tensor([100.0, 0.0, 0.0]), atol=1e-2)
    assert torch.allclose(rgb_to_lab(black)[0, :, 0, 0], torch.zeros(3), atol=1e-2)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)  # sRGB red: L 53.24, a 80.09, b 67.20
    assert torch.allclose(rgb_to_lab(red)[0, :, 0, 0], torch.tensor([53.24, 80.09, 67.20]), atol=0.1)


def test_unit_and_signed_round_trips(generator):
    image = torch.rand(3, 4, 4, generator=generator)
    assert torch.allclose(from_signed(to_signed(image)), image)
    assert to_signed(torch.zeros(1)).item() == -1 and to_signed(torch.ones(1)).item() == 1
    lab = rgb_to_lab(image)
    assert torch.allclose(unit_to_lab(lab_to_unit(lab)), lab, atol=1e-4)
    assert lab_to_unit(lab)[0].max() <= 1.0


def test_gray_weights():
    gray = rgb_to_gray(torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1))
    assert gray.shape == (1, 1, 1) and abs(gray.item() - 0.587) < 1e-3


def test_bad_channels_raise():
    with pytest.raises(ValueError, match=r"\(1, 4, 4\)"):
        rgb_to_lab(torch.zeros(1, 4, 4))
