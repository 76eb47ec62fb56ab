"""The background stays paper: background regions, pockets through gaps, and the colorizer."""

import cv2
import numpy as np
import pytest
import torch
from colorize_helpers import tiny_guiding_painter, tiny_point_hints

from tinct.background import background_regions, outside_paper
from tinct.colorizer import Colorizer
from tinct.hintfile import Hints, Point
from tinct.regions import trapped_ball


def pocket_sketch(size=200, gap=5, thickness=3):
    """uint8 line art, 255 = paper: a closed circle (a shape), and a U-shaped pocket whose
    mouth is closed but for a ``gap`` px slit (background reached through a gap), and a
    closed square. Returns the sketch and a (row, col) inside each."""
    canvas = np.full((size, size), 255, np.uint8)
    cv2.circle(canvas, (50, 50), 30, 0, thickness)
    cv2.rectangle(canvas, (110, 110), (180, 180), 0, thickness)
    # the pocket: a box at the bottom left with a slit in its top side
    cv2.rectangle(canvas, (20, 110), (90, 180), 0, thickness)
    canvas[108:113, 55 : 55 + gap] = 255
    return canvas, {"circle": (50, 50), "square": (145, 145), "pocket": (150, 55), "outside": (5, 5)}


def test_pockets_reached_through_a_gap_are_background_closed_shapes_are_not():
    sketch, at = pocket_sketch()
    ink = sketch < 128
    labels = trapped_ball(sketch.astype(np.float32) / 255)
    assert len({labels[at[name]] for name in at}) == 4  # the ball keeps the pocket apart (gap 5 < 2 r)
    background = background_regions(labels, ink)
    assert background[labels[at["outside"]]] and background[labels[at["pocket"]]]
    assert not background[labels[at["circle"]]] and not background[labels[at["square"]]]
    reached = outside_paper(ink)
    assert reached[at["pocket"]] and not reached[at["circle"]] and not reached[ink].any()
    closed = sketch.copy()
    closed[108:113, 55:60] = 0  # close the slit: the pocket is a shape now
    labels = trapped_ball(closed.astype(np.float32) / 255)
    assert not background_regions(labels, closed < 128)[labels[at["pocket"]]]


def test_background_regions_checks_its_inputs():
    with pytest.raises(ValueError, match="one shape"):
        background_regions(np.ones((4, 4), np.int32), np.zeros((4, 5), bool))


@pytest.mark.parametrize("make", [tiny_guiding_painter, tiny_point_hints])
def test_colorizer_keeps_background_and_pockets_paper_unless_hinted(make, tmp_path):
    sketch, at = pocket_sketch()
    colorizer = Colorizer(make(), size=64)
    result = colorizer.colorize(sketch)
    for name in ("outside", "pocket"):
        assert torch.equal(result.flat[:, at[name][0], at[name][1]], torch.ones(3)), name
        assert result.background[at[name]]
    assert not result.background[at["circle"]]
    assert not torch.equal(result.flat[:, at["circle"][0], at["circle"][1]], torch.ones(3))  # the model's colour
    # --transparent clears the pocket too; a hint there colours it and keeps it
    rgba = result.rgba(transparent=True)
    assert rgba[at["pocket"]][3] == 0 and rgba[at["circle"]][3] == 255
    row, col = at["pocket"]
    hinted = colorizer.colorize(sketch, hints=Hints(points=(Point(x=(col + .5) / 200, y=(row + .5) / 200,
                                                                  color=(1.0, 0.0, 0.0), size=0.02),)))
    assert torch.equal(hinted.flat[:, row, col], torch.tensor([1.0, 0.0, 0.0])) and not hinted.background[row, col]
    assert hinted.rgba(transparent=True)[row, col][3] == 255
    painted = Colorizer(make(), size=64, paper_background=False).colorize(sketch)
    assert not torch.equal(painted.flat[:, row, col], torch.ones(3))


def test_a_hole_narrower_than_the_minimum_gap_keeps_a_shape_a_shape():
    sketch, at = pocket_sketch(gap=2)  # where two strokes meet badly: anti-aliasing leaves such holes
    labels = trapped_ball(sketch.astype(np.float32) / 255)
    background = background_regions(labels, sketch < 128)
    assert not background[labels[at["pocket"]]] and background[labels[at["outside"]]]
    assert background_regions(labels, sketch < 128, min_gap=1)[labels[at["pocket"]]]  # any hole at all
