"""One hint changes its own area and leaves the rest alone: the shipped hint models, through
the Colorizer, on drawn line art that is not from any training set."""

import cv2
import numpy as np
import pytest
import torch

from tinct.color import rgb_to_lab
from tinct.colorizer import Colorizer
from tinct.hintfile import Hints, Point

SIZE = 192
MOVED = 10.0  # ΔE
MAX_SHARE = 0.02  # issue 14's target for the share of moved paper pixels outside the hinted area


def house(thickness=3):
    """uint8 (SIZE, SIZE) line art, 255 = paper: a house (wall, roof, door, two windows), a sun
    and a hill line; returns it and a (row, col) deep inside the wall."""
    canvas = np.full((SIZE, SIZE), 255, np.uint8)
    cv2.rectangle(canvas, (40, 90), (160, 170), 0, thickness)  # wall
    cv2.polylines(canvas, [np.array([(34, 92), (100, 40), (166, 92)])], False, 0, thickness)  # roof
    cv2.rectangle(canvas, (90, 128), (112, 170), 0, thickness)  # door
    cv2.rectangle(canvas, (60, 104), (78, 118), 0, thickness)  # windows, 17 px and more from every line
    cv2.rectangle(canvas, (122, 104), (140, 118), 0, thickness)
    cv2.circle(canvas, (28, 28), 16, 0, thickness)  # sun
    cv2.line(canvas, (0, 178), (191, 172), 0, thickness)  # ground
    return canvas, (150, 65)


@pytest.mark.parametrize("name", [
    "guiding_painter",
    # the point-hint network still spreads a point's colour past the wall's lines (0.13 of the
    # rest moves here; hint locality 0.05-0.37 on the test splits, docs/results.md): issue 14
    # stays open for it; strict, so this fails loudly once the model meets the target
    pytest.param("point_hints", marks=pytest.mark.xfail(strict=True, reason="point_hints misses the 2 % target")),
])
def test_one_point_hint_leaves_the_rest_of_the_drawing_alone(name):
    sketch, (row, col) = house()
    colorizer = Colorizer.from_pretrained(name)
    prepared = colorizer.prepare(sketch)
    before = colorizer.colorize(prepared)
    hint = Hints(points=(Point(x=(col + 0.5) / SIZE, y=(row + 0.5) / SIZE, color=(0.0, 0.2, 1.0), size=0.02),))
    after = colorizer.colorize(prepared, hints=hint)
    wall = prepared.regions == prepared.regions[row, col]
    assert wall[100, 50] and wall[160, 150] and wall[125, 100]  # the wall is one region round the door and windows
    assert torch.equal(after.flat[:, row, col], torch.tensor([0.0, 0.2, 1.0]))  # the hint took
    near = cv2.dilate(wall.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0  # the area grown by 3 px
    outside = torch.from_numpy(~near & ~prepared.ink)
    delta = (rgb_to_lab(after.image[None]) - rgb_to_lab(before.image[None]))[0].pow(2).sum(0).sqrt()
    share = float((delta[outside] > MOVED).float().mean())
    assert share <= MAX_SHARE, f"{name}: {share:.3f} of the rest moved by more than {MOVED} ΔE"
