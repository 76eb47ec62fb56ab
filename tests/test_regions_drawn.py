"""Trapped-ball regions on drawn line art: gaps, hatching, speed lines, nested shapes, eyes.

Every drawn case of benchmarks/regions_drawn.py is a test here (the module is loaded from
its file, as the benchmark draws them: PIL on a 160 px canvas); the tests below check where
the labels go, some on drawings of their own."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tinct.regions import auto_radii, ink_mask, trapped_ball

SIZE = 160

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "regions_drawn.py"
_spec = importlib.util.spec_from_file_location("regions_drawn", _PATH)
drawn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(drawn)


def canvas():
    image = Image.new("L", (SIZE, SIZE), 255)
    return image, ImageDraw.Draw(image)


def outline_with_gap(shape: str, gap: int, line: int = 3) -> np.ndarray:
    """A square or circle outline (100 px across) with a ``gap`` px opening at the top."""
    image, draw = canvas()
    if shape == "square":
        draw.rectangle((30, 30, 130, 130), outline=0, width=line)
    else:
        draw.ellipse((30, 30, 130, 130), outline=0, width=line)
    if gap:
        left = 81 - gap // 2
        draw.rectangle((left, 28, left + gap - 1, 30 + 2 * line), fill=255)
    return np.asarray(image)


def hatched_circle(kind: str) -> np.ndarray:
    """A 3 px circle (r = 50) shaded with 2 px strokes at 45 degrees, 6 px apart, that stop
    inside it (``middle``) or run from one side of the outline to the other (``across``)."""
    image, draw = canvas()
    c = SIZE / 2
    draw.ellipse((c - 50, c - 50, c + 50, c + 50), outline=0, width=3)
    limit = 28 if kind == "middle" else 49
    for offset in np.arange(-limit, limit + 1, 6.0):  # strokes x - y = offset * sqrt(2), clipped to the disc
        half = math.sqrt(limit * limit - offset * offset)
        ux, uy = math.cos(math.radians(45)), math.sin(math.radians(45))
        x0, y0 = c - offset * uy - half * ux, c + offset * ux - half * uy
        x1, y1 = c - offset * uy + half * ux, c + offset * ux + half * uy
        if half > 2:
            draw.line((x0, y0, x1, y1), fill=0, width=2)
    return np.asarray(image)


def panel_with_speed_lines(across: bool) -> np.ndarray:
    """A 3 px frame with 2 px horizontal strokes 6 px apart from its left side, stopping
    inside (random lengths) or running to its right side."""
    image, draw = canvas()
    draw.rectangle((15, 15, 144, 144), outline=0, width=3)
    rng = np.random.default_rng(0)
    for y in range(22, 140, 6):
        draw.line((15, y, 144 if across else 15 + int(rng.integers(50, 110)), y), fill=0, width=2)
    return np.asarray(image)


def face(eye: float) -> np.ndarray:
    """A 3 px face circle with two closed eyes ``eye`` x 0.6 ``eye`` px inside, and a smile."""
    image, draw = canvas()
    c = SIZE / 2
    draw.ellipse((c - 60, c - 60, c + 60, c + 60), outline=0, width=3)
    h = 0.6 * eye
    for x in (c - 22, c + 22):
        draw.ellipse((x - eye / 2 - 3, c - 15 - h / 2 - 3, x + eye / 2 + 3, c - 15 + h / 2 + 3), outline=0, width=3)
    draw.arc((c - 25, c - 5, c + 25, c + 35), 20, 160, fill=0, width=3)
    return np.asarray(image)


@pytest.mark.parametrize("shape", ["square", "circle"])
def test_default_radii_close_gaps_up_to_6px_in_3px_lines(shape):
    assert auto_radii(ink_mask(outline_with_gap(shape, 0))) == (3, 2, 1)
    for gap in range(2, 7):
        labels = trapped_ball(outline_with_gap(shape, gap))
        assert labels.max() == 2, f"a {gap} px gap"
        assert labels[80, 80] != labels[5, 5]
    # the r = 3 ball passes a 7 px gap, as with radii (3, 2, 1): no more is closed
    assert trapped_ball(outline_with_gap(shape, 7)).max() == 1
    assert trapped_ball(outline_with_gap(shape, 7), radii=(3, 2, 1)).max() == 1


def test_nested_shapes_stay_apart():
    image, draw = canvas()
    draw.rectangle((15, 15, 144, 144), outline=0, width=3)
    for radius in (45, 34, 15):  # rings 8 px and 16 px wide
        draw.ellipse((80 - radius, 80 - radius, 80 + radius, 80 + radius), outline=0, width=3)
    labels = trapped_ball(np.asarray(image))
    assert labels.max() == 5
    samples = [labels[5, 5], labels[20, 20], labels[80, 80 - 40], labels[80, 80 - 25], labels[80, 80]]
    assert len(set(samples)) == 5  # outside, square, outer ring, inner ring, disc


@pytest.mark.parametrize("kind", ["middle", "across"])
def test_hatching_cells_join_the_area_around_them(kind):
    sketch = hatched_circle(kind)
    labels = trapped_ball(sketch)
    assert labels.max() == 2  # the circle and the paper around it
    inside = labels[80, 80]
    assert inside != labels[5, 5]
    free = ink_mask(sketch) == 0
    disc = np.hypot(*np.mgrid[:SIZE, :SIZE] - 80.0) < 46
    assert (labels[disc & free] == inside).all()  # every cell between the strokes
    # the classic radii, before: one region per cell
    assert trapped_ball(sketch, radii=(3, 2, 1)).max() == 2


@pytest.mark.parametrize("across", [False, True])
def test_speed_lines_do_not_cut_a_panel_into_strips(across):
    labels = trapped_ball(panel_with_speed_lines(across))
    assert labels.max() == 2
    assert labels[80, 80] == labels[23 + 3, 140 - 8] != labels[5, 5]


@pytest.mark.parametrize("eye", [5.0, 8.0])
def test_small_closed_eyes_stay_regions_of_their_own(eye):
    labels = trapped_ball(face(eye))
    assert labels.max() == 4
    left, right, cheek, paper = labels[65, 80 - 22], labels[65, 80 + 22], labels[100, 50], labels[5, 5]
    assert len({left, right, cheek, paper}) == 4


def test_buttons_stay_regions_of_their_own():
    image, draw = canvas()
    draw.rectangle((40, 15, 120, 145), outline=0, width=3)
    for y in (45, 80, 115):
        draw.ellipse((80 - 7, y - 7, 80 + 7, y + 7), outline=0, width=3)  # 8 px across inside
    labels = trapped_ball(np.asarray(image))
    assert labels.max() == 5
    assert len({labels[45, 80], labels[80, 80], labels[115, 80], labels[30, 60], labels[5, 5]}) == 5


@pytest.mark.parametrize("name", list(drawn.CASES))
def test_benchmark_case(name):
    draw, expected = drawn.CASES[name]
    assert trapped_ball(draw()).max() == expected


def disc(radius: float) -> np.ndarray:
    return np.hypot(*np.mgrid[:SIZE, :SIZE] - SIZE / 2) < radius


def test_cross_hatching_cells_join_the_area_around_them():
    sketch = drawn.hatched("cross")  # closed cells between crossing 2 px strokes, 6 px apart
    labels = trapped_ball(sketch)
    assert labels.max() == 2
    inside, paper = labels[80, 40], labels[5, 5]
    assert inside != paper
    free = ~ink_mask(sketch)
    assert (labels[disc(28) & free] == inside).all()  # every cell of the patch
    assert trapped_ball(sketch, radii=(3, 2, 1)).max() == 2


def test_a_shape_cross_hatched_all_over_is_one_region():
    sketch = drawn.hatched("full")  # no open area around the cells: they make the circle's region
    labels = trapped_ball(sketch)
    assert labels.max() == 2
    free = ~ink_mask(sketch)
    assert (labels[disc(46) & free] == labels[80, 80]).all()
    assert labels[80, 80] != labels[5, 5]


def test_hatching_from_the_outline_joins_the_area_around_it():
    sketch = drawn.hatched("outline")  # strips that open into the area through mouths narrower than the ball
    labels = trapped_ball(sketch)
    assert labels.max() == 2
    free = ~ink_mask(sketch)
    assert (labels[disc(47) & free] == labels[60, 60]).all()
    assert labels[60, 60] != labels[5, 5]


def test_two_shapes_closer_than_the_ball_leave_one_area_between_them():
    sketch = drawn.nested(55, 30)  # a circle 6 px inside a square: passages of 5-7 px
    labels = trapped_ball(sketch)
    assert labels.max() == 4
    corners = {labels[20, 20], labels[20, 139], labels[139, 20], labels[139, 139]}
    assert len(corners) == 1
    assert len(corners | {labels[5, 5], labels[80, 40], labels[80, 80]}) == 4  # paper, corners, ring, disc


def test_small_cells_in_a_row_stay_regions_of_their_own():
    # eight 5 px cells side by side: drawn areas in a row (teeth), not a pattern of hatching
    labels = trapped_ball(drawn.cell_row())
    assert labels.max() == 10
    centres = [labels[70 + 5, 40 + 5 + 8 * k] for k in range(8)]
    assert len(set(centres) | {labels[30, 30], labels[5, 5]}) == 10


def test_gaps_and_slits_stay_closed():
    labels = trapped_ball(drawn.belt(3))  # a 5 px belt whose lower line has a 3 px gap
    assert labels.max() == 4
    assert len({labels[40, 80], labels[76, 60], labels[110, 80], labels[5, 5]}) == 4
    labels = trapped_ball(drawn.overlapping_strokes())  # two strokes side by side, 5 px apart
    assert labels.max() == 2
    assert labels[80, 80] != labels[5, 5]
