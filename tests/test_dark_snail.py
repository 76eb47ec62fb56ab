import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tinct.data.hints import geometric_count

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "dark_snail.py"
_spec = importlib.util.spec_from_file_location("dark_snail", _PATH)
snail = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(snail)

SIZE, COUNT = 32, 5


def _coverage_map(rectangles, size):
    covered = torch.zeros(size, size, dtype=torch.long)
    for top, left, height, width in rectangles:
        covered[top : top + height, left : left + width] += 1
    return covered


def test_rectangles_are_cut_clockwise_and_halve():
    rectangles = snail.snail_rectangles(SIZE, COUNT)
    # left half, top of the right half, right half of the rest, its bottom, its left half
    assert rectangles == [(0, 0, 32, 16), (0, 16, 16, 16), (16, 24, 16, 8), (24, 16, 8, 8), (16, 16, 8, 4)]
    areas = [height * width for _, _, height, width in rectangles]
    assert areas[0] == SIZE * SIZE // 2
    assert all(2 * smaller == larger for larger, smaller in zip(areas, areas[1:]))


@pytest.mark.parametrize("size, count", [(32, 5), (64, 6), (16, 3), (8, 1)])
def test_rectangles_and_leftover_tile_the_canvas(size, count):
    rectangles = snail.snail_rectangles(size, count)
    covered = _coverage_map(rectangles, size)
    assert covered.max() == 1  # no overlap
    free = (covered == 0).nonzero()
    rows, cols = free[:, 0], free[:, 1]
    height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    _, _, last_height, last_width = rectangles[-1]
    # the uncovered part is one rectangle (the snail's eye) of the last rectangle's size
    assert len(free) == height * width == last_height * last_width == size * size // 2**count


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="multiple"):
        snail.snail_rectangles(20, 5)  # 20 does not halve three times in width
    with pytest.raises(ValueError, match="at least 2 px"):
        snail.snail_rectangles(8, 5)
    with pytest.raises(ValueError, match="count"):
        snail.snail_rectangles(32, 0)


def test_outlines_are_ink_and_interiors_paper():
    batch = snail.snail_batch(2, SIZE, COUNT, torch.Generator().manual_seed(0))
    sketch, labels = batch["sketch"], batch["labels"]
    assert sketch.shape == (2, 1, SIZE, SIZE) and labels.shape == (2, SIZE, SIZE)
    assert torch.equal(sketch[:, 0], (labels > 0).float())
    rectangles = snail.snail_rectangles(SIZE, COUNT)
    for label, (top, left, height, width) in enumerate(rectangles, start=1):
        # neighbours share a 1-px line: the one after the rectangle, or the canvas frame
        bottom, right = min(top + height, SIZE - 1), min(left + width, SIZE - 1)
        for border in (sketch[0, 0, top, left : right + 1], sketch[0, 0, bottom, left : right + 1],
                       sketch[0, 0, top : bottom + 1, left], sketch[0, 0, top : bottom + 1, right]):
            assert border.max() == 0  # closed black outline
        interior = labels[0, top + 1 : bottom, left + 1 : right]
        assert (interior == label).all() and int((labels[0] == label).sum()) == interior.numel()
        assert (sketch[0, 0, top + 1 : bottom, left + 1 : right] == 1).all()  # paper inside
    assert set(labels.unique().tolist()) == set(range(COUNT + 2))
    # 1-px lines: no 2 x 2 block is all ink
    ink = (sketch[0, 0] == 0).float()
    assert F.avg_pool2d(ink[None, None], kernel_size=2, stride=1).max() < 1


def test_colours_are_primaries_constant_per_rectangle():
    batch = snail.snail_batch(64, SIZE, COUNT, torch.Generator().manual_seed(1))
    color, labels = batch["color"], batch["labels"]
    assert color.shape == (64, 3, SIZE, SIZE)
    primaries = torch.eye(3)
    seen = {label: set() for label in range(1, COUNT + 1)}
    for sample in range(64):
        for label in range(1, COUNT + 1):
            pixels = color[sample][:, labels[sample] == label].T  # (P, 3)
            assert (pixels == pixels[0]).all()  # constant inside the rectangle
            assert any(torch.equal(pixels[0], primary) for primary in primaries)
            seen[label].add(int(pixels[0].argmax()))
        assert (color[sample][:, labels[sample] == 0] == 0).all()  # lines black
        assert (color[sample][:, labels[sample] == COUNT + 1] == 1).all()  # the eye is white
    assert all(colours == {0, 1, 2} for colours in seen.values())  # every rectangle takes every colour


def test_batches_are_deterministic_with_a_seed():
    first = snail.snail_batch(4, SIZE, COUNT, torch.Generator().manual_seed(3))
    again = snail.snail_batch(4, SIZE, COUNT, torch.Generator().manual_seed(3))
    other = snail.snail_batch(4, SIZE, COUNT, torch.Generator().manual_seed(4))
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert torch.equal(first["sketch"], other["sketch"])  # the layout is fixed ...
    assert not torch.equal(first["color"], other["color"])  # ... the colours are not


def test_fixed_hints_config_gives_all_hints():
    config = snail.snail_config(count=COUNT, size=SIZE, fixed_hints=True)
    counts = geometric_count((20000,), p=config.hint_p, max_count=config.num_segments,
                             generator=torch.Generator().manual_seed(0))
    assert (counts == config.num_segments).all()
    free = snail.snail_config(count=COUNT, size=SIZE)
    assert free.hint_p == 0.125 and free.num_segments == COUNT + 2


def test_short_training_gives_finite_losses():
    size, count = 16, 3
    config = snail.snail_config(count=count, size=size)
    model, history = snail.train(config, steps=3, size=size, count=count, batch_size=2, seed=0)
    assert len(history) == 3
    for logs in history:
        assert all(math.isfinite(value) for value in logs.values())
        assert {"loss_g", "rec", "tv", "smooth", "adv", "loss_d"} <= logs.keys()
    assert history[0]["tau"] == 1.0 and history[-1]["tau"] == pytest.approx(0.1)
    model.eval()
    batch = snail.snail_batch(4, size, count, torch.Generator().manual_seed(0))
    segments = model.rank_regions(batch["sketch"][:1])
    assert segments.shape == (1, count + 2, size, size) and (segments.sum(1) == 1).all()
    accuracy = snail.colour_accuracy(model, batch, segments[0], count)
    assert accuracy.shape == (count + 3, count) and ((accuracy >= 0) & (accuracy <= 1)).all()


def _segments(order, labels, count):
    """One-hot (count + 2, H, W): channel i holds rectangle order[i]; then the leftover, then lines."""
    channels = [labels == label for label in order] + [labels == count + 1, labels == 0]
    return torch.stack(channels).float()


def test_report_on_a_perfect_ranking():
    labels = snail.snail_labels(SIZE, COUNT)
    segments = _segments(range(1, COUNT + 1), labels, COUNT)
    rows = snail.region_report(segments, labels, COUNT)
    assert [row["label"] for row in rows] == [1, 2, 3, 4, 5, 6, 0]
    assert [row["area_rank"] for row in rows] == [1, 2, 3, 4, 5, None, None]
    assert all(row["purity"] == 1.0 and row["coverage"] == 1.0 for row in rows)
    assert [row["holds"] for row in rows] == [[1], [2], [3], [4], [5], [6], [0]]
    yes, order = snail.verdict(rows, count=COUNT, judge=COUNT)
    assert yes and order == [1, 2, 3, 4, 5]
    assert "largest region first: yes" in snail.format_report(rows, count=COUNT, size=SIZE)


def test_report_on_reversed_and_mixed_rankings():
    labels = snail.snail_labels(SIZE, COUNT)
    reversed_rows = snail.region_report(_segments(range(COUNT, 0, -1), labels, COUNT), labels, COUNT)
    yes, order = snail.verdict(reversed_rows, count=COUNT)
    assert not yes and order == [5, 4, 3, 2, 1]
    assert "largest region first: no" in snail.format_report(reversed_rows, count=COUNT, size=SIZE)

    # 1, 2, 3 then 5 before 4: yes when judged on the first three, no on all five
    swapped = snail.region_report(_segments([1, 2, 3, 5, 4], labels, COUNT), labels, COUNT)
    assert snail.verdict(swapped, count=COUNT, judge=3)[0]
    assert not snail.verdict(swapped, count=COUNT, judge=5)[0]

    # one segment holding everything: rectangle 1 dominates but purity < 0.5, so no rectangle is covered
    everything = torch.zeros(COUNT + 2, SIZE, SIZE)
    everything[0] = 1.0
    rows = snail.region_report(everything, labels, COUNT)
    assert rows[0]["label"] == 1 and rows[0]["coverage"] == 1.0 and rows[0]["purity"] < 0.5
    assert rows[0]["holds"] == list(range(COUNT + 2))
    assert rows[1]["pixels"] == 0 and rows[1]["label"] is None
    assert snail.verdict(rows, count=COUNT) == (False, [])


def test_report_validates_shapes():
    labels = snail.snail_labels(SIZE, COUNT)
    with pytest.raises(ValueError, match="segments"):
        snail.region_report(F.one_hot(labels, COUNT + 2).float(), labels[:-1], COUNT)
