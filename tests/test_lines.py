import numpy as np
import pytest
import torch

from tinct.lines import RASC_SIGMAS, XDoGParams, ink_precision_recall, random_xdog, xdog


def line_image(size: int = 32, rows: slice = slice(15, 17)) -> torch.Tensor:
    """(3, size, size) white with a black horizontal line (2 px thick by default)."""
    image = torch.ones(3, size, size)
    image[:, rows, 4 : size - 4] = 0.0
    return image


# ---------------------------------------------------------------------------- xdog


@pytest.mark.parametrize("shape", [(3, 32, 24), (2, 3, 32, 24), (1, 32, 24), (2, 1, 32, 24)])
def test_xdog_shape_range_dtype(shape):
    image = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    sketch = xdog(image)
    expected = (*shape[:-3], 1, *shape[-2:])
    assert sketch.shape == expected
    assert sketch.dtype == torch.float32
    assert float(sketch.min()) >= 0.0 and float(sketch.max()) <= 1.0


def test_white_image_is_all_paper():
    assert torch.equal(xdog(torch.ones(2, 3, 16, 16)), torch.ones(2, 1, 16, 16))


def test_mid_grey_fill_on_white_is_not_ink():
    # a fill boundary without a line must not become a line (OpenMoji's fills)
    image = torch.ones(3, 32, 32)
    image[:, 8:24, 8:24] = 0.5
    assert bool((xdog(image) >= 0.5).all())


def test_black_line_is_ink_there_and_nowhere_far():
    sketch = xdog(line_image())[0]
    ink = sketch < 0.5
    assert bool(ink[15:17, 4:28].all())
    assert float(sketch[15:17, 6:26].max()) < 0.05  # solid ink, not a faint grey
    far = torch.ones_like(ink)
    far[14:18, 3:29] = False  # within 1 px of the drawn line
    assert not bool(ink[far].any())


def test_luminance_input_matches_grey_rgb():
    grey = torch.rand(1, 1, 20, 20, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(xdog(grey), xdog(grey.expand(1, 3, 20, 20)), atol=1e-5)


def test_batch_equals_single_and_per_sample_sigma():
    images = torch.stack([line_image(), torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(2))])
    batched = xdog(images, sigma=torch.tensor([0.4, 0.9]))
    assert torch.allclose(batched[0], xdog(images[0], sigma=0.4), atol=1e-5)
    assert torch.allclose(batched[1], xdog(images[1], sigma=0.9), atol=1e-5)
    assert not torch.allclose(xdog(images[1], sigma=0.4), xdog(images[1], sigma=0.9))


@pytest.mark.parametrize("shape", [(32, 32), (4, 32, 32), (2, 2, 32, 32), (1, 1, 3, 8, 8), (3, 0, 8)])
def test_xdog_bad_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"got \("):
        xdog(torch.ones(shape))


def test_xdog_rejects_integer_images_and_bad_sigma():
    with pytest.raises(ValueError):
        xdog(torch.ones(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError):
        xdog(torch.ones(2, 3, 8, 8), sigma=torch.tensor([0.5, 0.5, 0.5]))
    with pytest.raises(ValueError):
        XDoGParams(sigma=0.0)


def test_random_xdog_deterministic_and_seed_dependent():
    images = line_image().expand(8, 3, 32, 32)
    first = random_xdog(images, torch.Generator().manual_seed(0))
    again = random_xdog(images, torch.Generator().manual_seed(0))
    other = random_xdog(images, torch.Generator().manual_seed(1))
    assert first.shape == (8, 1, 32, 32)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    # every sample is xdog at one of the allowed sigmas
    for sample in first:
        assert any(torch.allclose(sample, xdog(line_image(), sigma=s), atol=1e-5) for s in RASC_SIGMAS)


# --------------------------------------------------------------- precision / recall


def test_precision_recall_tolerance_zero_exact():
    pred = np.zeros((3, 3), bool)
    true = np.zeros((3, 3), bool)
    pred[0, 0] = pred[0, 1] = True
    true[0, 0] = true[2, 2] = True
    precision, recall, f1 = ink_precision_recall(pred, true, tolerance=0)
    assert (precision, recall) == (1 / 2, 1 / 2)
    assert f1 == pytest.approx(1 / 2)


def test_precision_recall_tolerance_one_exact():
    pred = np.array([[1, 0, 0, 0, 1, 0]], bool)
    true = np.array([[0, 1, 0, 0, 0, 0]], bool)
    assert ink_precision_recall(pred, true, tolerance=0) == (0.0, 0.0, 0.0)
    precision, recall, f1 = ink_precision_recall(pred, true, tolerance=1)
    assert (precision, recall) == (1 / 2, 1.0)
    assert f1 == pytest.approx(2 / 3)


def test_tolerance_is_chebyshev():
    pred = torch.zeros(5, 5, dtype=torch.bool)
    true = torch.zeros(5, 5, dtype=torch.bool)
    pred[0, 0] = True
    true[1, 1] = True  # diagonal neighbour: Chebyshev distance 1
    true[3, 3] = True  # distance 3
    assert ink_precision_recall(pred, true, tolerance=1)[:2] == (1.0, 1 / 2)
    assert ink_precision_recall(pred, true, tolerance=3)[:2] == (1.0, 1.0)


def test_precision_recall_micro_averages_over_batch():
    pred = np.zeros((2, 4, 4), bool)
    true = np.zeros((2, 4, 4), bool)
    pred[0, 0, 0] = True  # matched
    true[0, 0, 0] = True
    pred[1, 3, 3] = pred[1, 0, 3] = True  # both unmatched: image 1 has its ink far away
    true[1, 0, 0] = True
    assert ink_precision_recall(pred, true, tolerance=1)[:2] == (1 / 3, 1 / 2)


def test_precision_recall_empty_conventions():
    empty = np.zeros((4, 4), bool)
    some = empty.copy()
    some[1, 1] = True
    assert ink_precision_recall(empty, empty) == (1.0, 1.0, 1.0)
    assert ink_precision_recall(empty, some) == (1.0, 0.0, 0.0)
    assert ink_precision_recall(some, empty) == (0.0, 1.0, 0.0)


def test_precision_recall_bad_input():
    with pytest.raises(ValueError):
        ink_precision_recall(np.zeros((4, 4), bool), np.zeros((4, 5), bool))
    with pytest.raises(ValueError):
        ink_precision_recall(np.zeros(4, bool), np.zeros(4, bool))
    with pytest.raises(ValueError):
        ink_precision_recall(np.zeros((4, 4), bool), np.zeros((4, 4), bool), tolerance=-1)


# ------------------------------------------------------------------------ OpenMoji


def test_xdog_matches_openmoji_line_art():
    from tinct.data.openmoji import RenderCache

    # test-split emojis: a clean one, a flag with a dark fill, one with black clothing.
    # Measured micro F1 at 64 px with the pinned parameters: 0.931 (P 0.871, R 1.000).
    names = ["1F44E", "1F1F8-1F1F0", "1F935-1F3FE-200D-2640-FE0F"]
    renders = [RenderCache().get(name, 64) for name in names]
    color = torch.from_numpy(np.stack([r["color"] for r in renders])).permute(0, 3, 1, 2).float() / 255.0
    true_ink = np.stack([r["line"] for r in renders]) < 128
    pred_ink = (xdog(color) < 0.5)[:, 0].numpy()
    precision, recall, f1 = ink_precision_recall(pred_ink, true_ink, tolerance=1)
    assert recall > 0.97
    assert f1 > 0.90
