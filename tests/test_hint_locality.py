"""One hint changes its own area and leaves the rest alone: the shipped hint models, through
the Colorizer, on drawn line art that is not from any training set."""

import cv2
import numpy as np
import pytest
import torch

from tinct.color import rgb_to_lab
from tinct.colorizer import Colorizer
from tinct.guidance import Request
from tinct.hintfile import Hints, Point, Stroke

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


def moved_share(name, *, local_hints=True):
    """The share of paper pixels outside the wall (grown by 3 px) that one blue point in the
    wall moves by more than MOVED ΔE, through the Colorizer."""
    sketch, (row, col) = house()
    colorizer = Colorizer.from_pretrained(name, local_hints=local_hints)
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
    return float((delta[outside] > MOVED).float().mean())


@pytest.mark.parametrize("name", ["guiding_painter", "point_hints"])
def test_one_point_hint_leaves_the_rest_of_the_drawing_alone(name):
    share = moved_share(name)
    assert share <= MAX_SHARE, f"{name}: {share:.3f} of the rest moved by more than {MOVED} ΔE"


def test_the_point_network_alone_spreads_a_hint():
    # why the product keeps unhinted regions at the hint-free colours: the point-hint network
    # itself carries a point's colour past the wall's lines (hint locality 0.05-0.37 of the
    # network on the test splits, docs/results.md)
    assert moved_share("point_hints", local_hints=False) > MAX_SHARE


def test_the_hint_free_output_is_computed_once_per_sketch(monkeypatch):
    sketch, (row, col) = house()
    colorizer = Colorizer.from_pretrained("point_hints")
    prepared = colorizer.prepare(sketch)
    calls = []
    paint = colorizer.model.paint
    monkeypatch.setattr(colorizer.model, "paint", lambda inputs: calls.append(float(inputs.hint_mask.sum())) or paint(inputs))
    for x in (0.3, 0.5, 0.7):  # three hint updates: one hint-free pass, then one pass each
        colorizer.colorize(prepared, hints=Hints(points=(Point(x=x, y=0.75, color=(1.0, 0.0, 0.0)),)))
    assert len(calls) == 4 and sorted(calls)[0] == 0.0


def test_a_stroke_reaches_every_region_it_crosses():
    sketch, _ = house()
    colorizer = Colorizer.from_pretrained("point_hints")
    prepared = colorizer.prepare(sketch)
    # a stroke from the wall (left of the door) into the door: both regions take the hinted output
    stroke = Stroke(points=((70 / SIZE, 150 / SIZE), (101 / SIZE, 150 / SIZE)), color=(0.1, 0.8, 0.2), width=0.02)
    result = colorizer.colorize(prepared, hints=Hints(strokes=(stroke,)))
    wall, door = prepared.regions[150, 65], prepared.regions[150, 101]
    assert wall != door
    assert torch.equal(result.flat[:, 150, 65], torch.tensor([0.1, 0.8, 0.2]))  # most of the stroke: exact
    free = colorizer.colorize(prepared)
    inputs = colorizer.inputs(prepared, Request(hints=result.hints), colorizer.rasterize(prepared, result.hints))
    hinted_door = colorizer._region_colors(prepared, colorizer.model.paint(inputs))[1][door]
    assert np.allclose(result.flat[:, 150, 101].numpy(), hinted_door, atol=1e-5)
    assert not torch.equal(result.flat[:, 150, 101], free.flat[:, 150, 101])
