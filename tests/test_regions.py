import numpy as np
import pytest
import torch

from tinct import regions
from tinct.regions import (
    adjusted_rand_index,
    auto_radii,
    colorize_labels,
    ink_mask,
    line_width,
    mean_color_fill,
    region_stats,
    skeleton,
    stroke_width,
    trapped_ball,
)


def square_with_gap(size: int = 32, gap: int = 2) -> np.ndarray:
    """A 1 px square outline (rows/cols 8..23) with a ``gap`` px opening in its top side."""
    sketch = np.ones((size, size), np.float32)
    sketch[8, 8:24] = sketch[23, 8:24] = 0
    sketch[8:24, 8] = sketch[8:24, 23] = 0
    sketch[8, 15 : 15 + gap] = 1
    return sketch


def two_circles() -> np.ndarray:
    import cv2

    canvas = np.full((48, 80), 255, np.uint8)
    cv2.circle(canvas, (20, 24), 12, 0, 1)
    cv2.circle(canvas, (58, 24), 12, 0, 1)
    return canvas


def assert_consecutive(labels: np.ndarray) -> None:
    present = np.unique(labels)
    present = present[present > 0]
    np.testing.assert_array_equal(present, np.arange(1, present.size + 1))


# ------------------------------------------------------------------------ ink and input


def test_ink_mask_float_uint8_torch_agree():
    sketch = square_with_gap()
    ink = ink_mask(sketch)
    assert ink.dtype == bool and ink.shape == (32, 32)
    assert ink.sum() == 4 * 16 - 4 - 2  # the outline minus shared corners minus the gap
    np.testing.assert_array_equal(ink_mask((sketch * 255).astype(np.uint8)), ink)
    np.testing.assert_array_equal(ink_mask(torch.from_numpy(sketch)[None]), ink)
    assert ink_mask(torch.from_numpy(sketch)[None, None]).shape == (1, 32, 32)


@pytest.mark.parametrize("shape", [(3, 16, 16), (16, 16, 3), (2, 3, 16, 16), (16,)])
def test_bad_sketch_shape_raises(shape):
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        trapped_ball(np.ones(shape, np.float32))


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        trapped_ball(np.ones((8, 8)), radii=(2, 0))
    with pytest.raises(ValueError):
        trapped_ball(np.ones((8, 8)), radii="big")
    with pytest.raises(ValueError):
        trapped_ball(np.ones((8, 8)), min_area=0)
    with pytest.raises(ValueError):
        ink_mask(np.ones((8, 8), np.int32))


# ------------------------------------------------------------------------- trapped ball


def test_ball_does_not_pass_a_gap_narrower_than_its_diameter():
    sketch = square_with_gap(gap=2)
    labels = trapped_ball(sketch, radii=(3, 2, 1))
    assert labels.dtype == np.int32 and labels.shape == sketch.shape
    assert labels.max() == 2
    assert_consecutive(labels)
    assert labels[16, 16] != labels[2, 2]  # inside and outside stay apart
    flood = trapped_ball(sketch, radii=())  # a plain flood fill leaks through the gap
    assert flood.max() == 1


def test_ball_passes_a_gap_wider_than_its_diameter():
    labels = trapped_ball(square_with_gap(gap=5), radii=(2, 1))  # the r = 2 ball fits a 5 px gap
    assert labels.max() == 1


def test_two_circles_give_three_regions():
    sketch = two_circles()
    labels = trapped_ball(sketch)
    assert labels.max() == 3
    inside_a, inside_b, outside = labels[24, 20], labels[24, 58], labels[2, 2]
    assert len({inside_a, inside_b, outside}) == 3
    assert (labels > 0).all()
    assert_consecutive(labels)


def test_line_pixels_assigned_or_zero():
    sketch = np.ones((20, 30), np.float32)
    sketch[:, 10:13] = 0  # a 3 px vertical line splits the image
    labels = trapped_ball(sketch)
    assert labels.min() > 0
    left, right = labels[5, 2], labels[5, 25]
    assert left != right
    assert (labels[:, 10] == left).all() and (labels[:, 12] == right).all()  # nearest side
    bare = trapped_ball(sketch, assign_lines=False)
    assert (bare[:, 10:13] == 0).all()
    assert (bare[sketch > 0.5] > 0).all()
    np.testing.assert_array_equal(bare[sketch > 0.5], labels[sketch > 0.5])


def test_small_regions_merge_unless_min_area_allows_them():
    sketch = np.ones((32, 32), np.float32)
    sketch[10:14, 10:14] = 0
    sketch[11:13, 11:13] = 1  # a 2 x 2 hole enclosed by ink
    assert trapped_ball(sketch, min_area=8).max() == 1
    assert trapped_ball(sketch, min_area=4).max() == 2
    bare = trapped_ball(sketch, min_area=8, assign_lines=False)
    assert (bare[11:13, 11:13] > 0).all()  # a dropped island goes to its neighbour, not to 0


def test_corner_fragments_are_absorbed():
    sketch = square_with_gap(40, gap=0)  # the r = 3 ball leaves 3 px in each inner corner
    labels = trapped_ball(sketch, radii=(3,), min_area=1)
    assert labels.max() == 2
    # the corners touch the inside only: the flood fill gives them to it, slivers or not
    np.testing.assert_array_equal(trapped_ball(sketch, radii=(3,), min_area=1, sliver=2.0), labels)


def room_with_closet(opening: int) -> np.ndarray:
    """A 1 px outline (48 x 28 inside) with a wall 13 px from its right side, open over ``opening`` px."""
    sketch = np.ones((40, 60), np.float32)
    sketch[5, 5:55] = sketch[34, 5:55] = 0
    sketch[5:35, 5] = sketch[5:35, 54] = 0
    sketch[5:35, 40] = 0
    sketch[20 - opening // 2 : 20 - opening // 2 + opening, 40] = 1
    return sketch


def test_sliver_fraction_merges_regions_that_touch_through_free_space():
    sketch = room_with_closet(5)  # the r = 3 ball does not pass 5 px: the closet is a region
    assert trapped_ball(sketch, radii=(3, 2, 1), min_area=1).max() == 3
    # its 5 px of contact are over a tenth of its boundary
    assert trapped_ball(sketch, radii=(3, 2, 1), min_area=1, sliver=0.1).max() == 2
    assert trapped_ball(room_with_closet(7), radii=(3, 2, 1), min_area=1).max() == 2  # the ball passes 7 px


def test_empty_full_tiny_and_non_square():
    np.testing.assert_array_equal(trapped_ball(np.ones((17, 9))), np.ones((17, 9), np.int32))
    np.testing.assert_array_equal(trapped_ball(np.zeros((5, 6))), np.ones((5, 6), np.int32))
    np.testing.assert_array_equal(trapped_ball(np.zeros((5, 6)), assign_lines=False), np.zeros((5, 6), np.int32))
    assert trapped_ball(np.ones((1, 1))).tolist() == [[1]]
    strip = np.ones((1, 9))
    strip[0, 4] = 0
    labels = trapped_ball(strip, min_area=1)
    assert labels[0, 0] != labels[0, 8] and labels.min() > 0
    column = trapped_ball(strip.T, min_area=1)  # one pixel wide
    assert column[0, 0] != column[8, 0] and column.min() > 0
    wide = np.ones((24, 70), np.float32)
    wide[:, 35] = 0
    assert trapped_ball(wide).max() == 2


def test_batch_matches_single_images():
    batch = torch.stack([torch.from_numpy(square_with_gap()), torch.from_numpy(square_with_gap(gap=6))])[:, None]
    labels = trapped_ball(batch, radii=(2, 1))
    assert labels.shape == (2, 32, 32)
    np.testing.assert_array_equal(labels[0], trapped_ball(square_with_gap(), radii=(2, 1)))
    np.testing.assert_array_equal(labels[1], trapped_ball(square_with_gap(gap=6), radii=(2, 1)))


def test_stroke_width_and_auto_radii():
    ink = np.zeros((40, 120), bool)
    ink[10:13, 10:110] = True  # a 3 x 100 bar
    assert stroke_width(ink) == pytest.approx(2 * 300 / (2 * 100 + 2 * 3))
    assert stroke_width(np.zeros((4, 4), bool)) == 0.0
    assert line_width(ink) == pytest.approx(3.09, abs=0.01)  # (pi / 8) (2 x 206 + 2 x 200 / sqrt 2) edges
    assert line_width(np.zeros((4, 4), bool)) == 0.0
    assert auto_radii(ink) == (3, 2, 1)
    thick = np.zeros((80, 200), bool)
    thick[10:17, 10:190] = True  # 7 px strokes, as OpenMoji line art at 256 px
    assert auto_radii(thick) == (5, 3)  # no 1 px pass with thick lines
    assert auto_radii(np.zeros((4, 4), bool)) == (2, 1)


def test_line_width_of_curves():
    from PIL import Image, ImageDraw

    image = Image.new("L", (160, 160), 255)
    ImageDraw.Draw(image).ellipse((30, 30, 130, 130), outline=0, width=3)  # its pixel edges are a staircase
    ink = np.asarray(image) < 128
    assert 2.8 < line_width(ink) < 3.2
    assert stroke_width(ink) < 2.5
    assert auto_radii(ink) == (3, 2, 1)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        line_width(np.zeros((2, 3, 4), bool))


def test_openmoji_64px_mosaic_ari():
    from tinct.data.openmoji import flat_regions, list_emojis, min_region_area, render

    names = [emoji.name for emoji in list_emojis("test")]
    picked = [names[i] for i in np.random.default_rng(0).permutation(len(names))[:16]]
    renders = [render(name, 64) for name in picked]

    def tile(key):
        return np.concatenate([np.concatenate([renders[4 * r + c][key] for c in range(4)], 1) for r in range(4)], 0)

    line, fills = tile("line"), tile("fills")
    truth = flat_regions(fills, line, min_area=min_region_area(64))
    interior = truth > 0
    # measured: 0.899 with the default (auto) radii, 0.644 for a plain flood fill
    assert adjusted_rand_index(trapped_ball(line), truth, interior) > 0.85
    assert adjusted_rand_index(trapped_ball(line, radii=()), truth, interior) < 0.75


# ------------------------------------------------------------------ skeleton and stats


def test_skeleton_is_one_pixel_on_boundaries():
    labels = np.ones((6, 8), np.int32)
    labels[:, 5:] = 2
    labels[4:, :] = 3
    expected = np.zeros((6, 8), bool)
    expected[:4, 4] = True  # 1 | 2 boundary, left side
    expected[3, :] = True  # 1, 2 over 3
    np.testing.assert_array_equal(skeleton(labels), expected)
    assert skeleton(np.full((5, 5), 7)).sum() == 0
    batch = skeleton(torch.from_numpy(np.stack([labels, np.full((6, 8), 7)])))
    assert batch.shape == (2, 6, 8)
    np.testing.assert_array_equal(batch[0], expected)
    with pytest.raises(ValueError, match=r"\(2, 2, 6, 8\)"):
        skeleton(np.zeros((2, 2, 6, 8), np.int32))

    labels = trapped_ball(two_circles())
    edges = skeleton(labels)
    right_differs = np.zeros_like(edges)
    right_differs[:, :-1] = labels[:, :-1] != labels[:, 1:]
    below_differs = np.zeros_like(edges)
    below_differs[:-1] = labels[:-1] != labels[1:]
    np.testing.assert_array_equal(edges, right_differs | below_differs)
    assert 0 < edges.sum() < 2 * (2 * np.pi * 13 + 10)  # two thin rings, not thick bands


def test_region_stats_area_color_adjacency():
    labels = np.array(
        [
            [1, 1, 2, 2, 3],
            [1, 1, 2, 2, 3],
            [4, 4, 4, 0, 3],
        ]
    )
    image = np.zeros((3, 5, 3), np.float32)
    image[..., 0] = np.arange(15).reshape(3, 5)
    image[..., 2] = 2.0
    stats = region_stats(labels, image)
    np.testing.assert_array_equal(stats.area, [1, 4, 4, 3, 3])
    assert stats.area.sum() == labels.size
    assert stats.count == 4
    np.testing.assert_allclose(stats.mean_color[1], [(0 + 1 + 5 + 6) / 4, 0, 2])
    np.testing.assert_allclose(stats.mean_color[3], [(4 + 9 + 14) / 3, 0, 2])
    np.testing.assert_allclose(stats.mean_color[4], [(10 + 11 + 12) / 3, 0, 2])
    np.testing.assert_array_equal(stats.adjacency, [[1, 2], [1, 4], [2, 3], [2, 4]])
    np.testing.assert_array_equal(stats.contact, [2, 2, 2, 1])
    assert region_stats(labels).mean_color is None
    with pytest.raises(ValueError, match=r"\(3, 4, 3\)"):
        region_stats(labels, np.zeros((3, 4, 3)))


def test_mean_color_fill_exact():
    labels = np.array([[1, 1, 0], [2, 2, 2]])
    image = np.array([[[0, 10, 20], [2, 30, 40], [99, 99, 99]], [[3, 3, 3], [6, 6, 6], [9, 9, 9]]], np.uint8)
    filled = mean_color_fill(labels, image)
    assert filled.dtype == np.uint8 and filled.shape == image.shape
    np.testing.assert_array_equal(filled[0, 0], [1, 20, 30])
    np.testing.assert_array_equal(filled[1], [[6, 6, 6]] * 3)
    np.testing.assert_array_equal(filled[0, 2], [99, 99, 99])  # label 0 keeps its pixels


def test_colorize_labels_distinct_and_deterministic():
    labels = np.arange(60).reshape(6, 10)
    view = colorize_labels(labels)
    assert view.shape == (6, 10, 3) and view.dtype == np.uint8
    assert (view[0, 0] == 0).all()
    assert len({tuple(color) for color in view.reshape(-1, 3)[1:]}) == 59
    np.testing.assert_array_equal(colorize_labels(labels), view)
    assert not np.array_equal(colorize_labels(labels, seed=1), view)


# ------------------------------------------------------------------------------- ARI


def test_ari_known_values():
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.8 / 3.3)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)


def test_ari_identical_and_permutation_invariant():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 6, (20, 20))
    pred = np.where(rng.random((20, 20)) < 0.2, rng.integers(0, 6, (20, 20)), truth)
    assert adjusted_rand_index(truth, truth) == pytest.approx(1.0)
    renamed = np.array([5, 3, 9, 0, 42, 7])[truth]
    assert adjusted_rand_index(renamed, truth) == pytest.approx(1.0)
    permuted = np.array([10, 2, 0, 4, 1, 7])[pred]
    assert adjusted_rand_index(permuted, truth) == pytest.approx(adjusted_rand_index(pred, truth))
    assert adjusted_rand_index(pred, truth) == pytest.approx(adjusted_rand_index(truth, pred))
    assert 0.3 < adjusted_rand_index(pred, truth) < 0.95
    noise = rng.integers(0, 6, (200, 200))
    assert abs(adjusted_rand_index(noise, rng.integers(0, 6, (200, 200)))) < 0.01


def test_ari_mask():
    truth = np.array([[1, 1, 2, 2], [0, 0, 0, 0]])
    pred = np.array([[3, 3, 4, 4], [3, 4, 3, 4]])
    assert adjusted_rand_index(pred, truth) < 1.0
    assert adjusted_rand_index(pred, truth, truth > 0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        adjusted_rand_index(pred, truth[:, :3])


def test_distance_transform_numbers_seeds_in_raster_order():
    # _fill_nearest relies on it (with a fallback); this pins the OpenCV behaviour
    import cv2

    rng = np.random.default_rng(0)
    zero = rng.random((30, 40)) < 0.3
    _, nearest = cv2.distanceTransformWithLabels((~zero).view(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    np.testing.assert_array_equal(nearest[zero], np.arange(1, zero.sum() + 1))
    labels = np.where(zero, rng.integers(1, 5, zero.shape), 0).astype(np.int32)
    filled = regions._fill_nearest(labels)
    np.testing.assert_array_equal(filled[zero], labels[zero])
    assert filled.min() > 0
