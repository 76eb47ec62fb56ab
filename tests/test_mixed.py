import math
import random
from collections import Counter

import pytest
import torch

from tinct.data.mixed import MixedDataset, allocate


class Fake:
    """A dataset of ``size`` samples that say who they are."""

    def __init__(self, size: int, name: str | None = None, *, extra: dict | None = None, keys=("color", "sketch")):
        self.size = size
        if name is not None:
            self.source_name = name
        self.extra = extra or {}
        self.keys = keys

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.size:
            raise IndexError(index)
        sample = {key: torch.full((1, 2, 2), float(index)) for key in self.keys}
        return {**sample, "item": index, **self.extra}


class OpenMojiDataset(Fake):
    """Named like the real one: a mix calls it ``openmoji``."""


def _draws(mix: MixedDataset) -> Counter:
    return Counter((sample["source"], sample["item"]) for sample in (mix[i] for i in range(len(mix))))


def test_equal_weights_are_the_concatenation():
    mix = MixedDataset([Fake(3, "a"), Fake(5, "b")], [1, 1])
    assert len(mix) == 8 and mix.counts == [3, 5]
    assert [(mix[i]["source"], mix[i]["item"]) for i in range(8)] == [("a", 0), ("a", 1), ("a", 2)] + [
        ("b", i) for i in range(5)
    ]
    assert mix[-1]["item"] == 4
    with pytest.raises(IndexError):
        mix[8]


def test_weights_set_how_often_each_item_is_drawn():
    mix = MixedDataset([Fake(10, "a"), Fake(10, "b")], [2, 1])
    assert len(mix) == 20 and mix.counts == [13, 7]  # 40:20 of 20 slots, largest remainder
    draws = _draws(mix)
    per_item = {name: sum(n for (source, _), n in draws.items() if source == name) / 10 for name in "ab"}
    assert per_item == {"a": 1.3, "b": 0.7}
    # every item of a member appears floor or ceil of its rate: spread evenly
    assert {n for (source, _), n in draws.items() if source == "a"} == {1, 2}
    assert all(n == 1 for (source, _), n in draws.items() if source == "b") and len(
        [k for k in draws if k[0] == "b"]) == 7
    # a weight-3 member of 4 items next to a weight-1 member of 8: 3x the draws per item
    mix = MixedDataset([Fake(4, "small"), Fake(8, "big")], [3, 1])
    draws = _draws(mix)
    small = sum(n for (s, _), n in draws.items() if s == "small") / 4
    big = sum(n for (s, _), n in draws.items() if s == "big") / 8
    assert len(mix) == 12 and small / big == pytest.approx(3.0, rel=0.35)
    assert mix.counts == [7, 5]  # 12 * 12/20 = 7.2, 12 * 8/20 = 4.8


def test_allocate_always_fills_every_slot():
    rng = random.Random(0)
    for _ in range(200):
        sizes = [rng.randint(0, 50) for _ in range(rng.randint(1, 5))]
        weights = [rng.choice([0.5, 1, 1.5, 2, 3, 0.1]) for _ in sizes]
        counts = allocate(sizes, weights)
        assert sum(counts) == sum(sizes) and all(c >= 0 for c in counts)
        assert all(c == 0 for c, n in zip(counts, sizes) if n == 0)
        total = sum(w * n for w, n in zip(weights, sizes))
        for c, n, w in zip(counts, sizes, weights):
            assert abs(c - sum(sizes) * w * n / total) < 1 if total else c == 0


def test_indexing_is_deterministic():
    def build():
        return MixedDataset([Fake(7, "a"), Fake(11, "b"), Fake(2, "c")], [0.5, 2.0, 1.0])

    first, second = build(), build()
    assert [first.locate(i) for i in range(len(first))] == [second.locate(i) for i in range(len(second))]
    assert all(torch.equal(first[i]["color"], first[i]["color"]) for i in range(len(first)))
    assert len(first) == 20 and math.isclose(sum(first.counts), 20)


def test_samples_keep_the_shared_keys_and_say_their_source():
    mix = MixedDataset([OpenMojiDataset(2, extra={"skin_tone": "light", "name": "x"}), Fake(2, "twemoji",
                                                                                           extra={"name": "y"})], [1, 1])
    assert mix.names == ["openmoji", "twemoji"]
    assert set(mix[0]) == {"color", "sketch", "item", "name", "source"}  # skin_tone: only one member has it
    assert mix[0]["source"] == "openmoji" and mix[3]["source"] == "twemoji"
    twice = MixedDataset([Fake(1, "folder"), Fake(1, "folder"), Fake(1)], [1, 1, 1])
    assert twice.names == ["folder", "folder#2", "fake"]
    assert MixedDataset([Fake(1), Fake(1)], [1, 1], names=["x", "y"])[1]["source"] == "y"


def test_a_member_without_the_training_keys_is_refused():
    mix = MixedDataset([Fake(2, "good"), Fake(2, "bad", keys=("color",))], [1, 1])
    with pytest.raises(ValueError, match="mix member bad gives no sketch"):
        mix[0]


@pytest.mark.parametrize("weights", [[1, 0], [1, -1], [1, float("nan")], [1, float("inf")], [1]])
def test_bad_weights_are_refused(weights):
    with pytest.raises(ValueError, match="weight"):
        MixedDataset([Fake(2, "a"), Fake(2, "b")], weights)


def test_an_empty_mix_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        MixedDataset([], [])
