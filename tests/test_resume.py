"""Exact resume: a run stopped at a checkpoint (mid-epoch, or killed after it) and resumed
ends with the same weights and optimiser state, tensor for tensor, as a run that never stopped.

A clean stop is a callback setting ``trainer.should_stop`` (what Ctrl-C and SIGTERM amount
to: training ends after the current batch). ``max_steps`` is not used to stop early: it
sets the length of the learning-rate schedule (and of the methods' ``progress``), so a run
with a smaller ``max_steps`` is a different, shorter run rather than an interrupted one.
A kill is simulated by resuming from an intermediate ``step=N.ckpt`` instead of the last one.
"""

import logging

import lightning as L
import pytest
import torch
from safetensors.torch import load_file

from tinct.train import TrainConfig, fit

POINT_HINTS = {"base_channels": 8, "disc_channels": 8, "depth": 2}
GUIDING_PAINTER = {"base_channels": 8, "num_segments": 6}
# 6 images, batch 2: 3 batches (6 optimiser steps, G and D) per epoch; 4 epochs: 24 steps;
# a checkpoint every 4 steps (2 batches): steps 4 and 8 are mid-epoch, 12 ends epoch 1
POINT_RUN = dict(limit=6, epochs=4, checkpoint_every=4)
LAST_STEP = 24


class StopAt(L.Callback):
    """Stop training cleanly after the batch that reaches optimiser step ``step``."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True


def _config(tmp_path, name, **changes):
    values = dict(size=32, batch_size=2, samples=2, sample_hints=(0, 2), accelerator="cpu", out=str(tmp_path / name))
    values.update(changes)
    return TrainConfig(**values)


def _checkpoint(run, step: int) -> dict:
    return torch.load(run / "checkpoints" / f"step={step}.ckpt", map_location="cpu", weights_only=True)


def _mid_epoch(checkpoint: dict) -> bool:
    """Lightning's own record: the checkpoint's epoch has batches left to train on."""
    current = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]
    return 0 < current["processed"] < 3


def _differences(a, b, where: str = "") -> list[str]:
    """Where two checkpoint (sub)trees differ: tensors by torch.equal, the rest by ==."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
        return [] if same else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where} keys"]
        return [d for key in a for d in _differences(a[key], b[key], f"{where}/{key}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where} length"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}/{i}")]
    return [] if a == b else [where]


def _assert_same_training(expected_run, resumed_run, step: int) -> None:
    """Every exported tensor and the final checkpoint's weights, optimiser and LR-scheduler
    states are identical."""
    expected, resumed = load_file(expected_run / "model" / "model.safetensors"), load_file(
        resumed_run / "model" / "model.safetensors")
    assert expected.keys() == resumed.keys()
    unequal = [key for key in expected if not torch.equal(expected[key], resumed[key])]
    assert not unequal, f"{len(expected) - len(unequal)} of {len(expected)} tensors equal; first: {unequal[:3]}"
    final_expected, final_resumed = _checkpoint(expected_run, step), _checkpoint(resumed_run, step)
    for key in ("state_dict", "optimizer_states", "lr_schedulers", "global_step", "tinct_batches_done"):
        assert not _differences(final_expected[key], final_resumed[key], key), _differences(
            final_expected[key], final_resumed[key], key)[:5]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The point-hint run that never stops (augmentation on, the default)."""
    root = tmp_path_factory.mktemp("resume")
    fit("point_hints", _config(root, "full", **POINT_RUN), POINT_HINTS)
    return root / "full"


def test_stopped_mid_epoch_resumes_exactly(tmp_path, uninterrupted):
    config = _config(tmp_path, "stopped", **POINT_RUN)
    fit("point_hints", config, POINT_HINTS, callbacks=(StopAt(8),))
    last = torch.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 8 and _mid_epoch(last)  # epoch 1, one of its three batches done
    assert not (tmp_path / "stopped" / "checkpoints" / f"step={LAST_STEP}.ckpt").exists()
    fit("point_hints", config, POINT_HINTS, resume="auto")
    _assert_same_training(uninterrupted, tmp_path / "stopped", LAST_STEP)


def test_killed_resumes_exactly_from_an_earlier_checkpoint_with_workers(tmp_path, uninterrupted):
    """Trained on to step 14, then resumed from step 4 (mid-epoch 0), as after a kill that
    lost the later checkpoints; with two loader workers, which must change nothing."""
    config = _config(tmp_path, "killed", num_workers=2, **POINT_RUN)
    fit("point_hints", config, POINT_HINTS, callbacks=(StopAt(14),))
    checkpoint = tmp_path / "killed" / "checkpoints" / "step=4.ckpt"
    assert _mid_epoch(torch.load(checkpoint, map_location="cpu", weights_only=True))
    fit("point_hints", config, POINT_HINTS, resume=str(checkpoint))
    _assert_same_training(uninterrupted, tmp_path / "killed", LAST_STEP)


def test_guiding_painter_resumes_exactly(tmp_path):
    """GuidingPainter draws Gumbel noise and hint counts in every step; 4 images, batch 2:
    2 batches (4 steps) per epoch, stopped after step 2, mid-epoch 0."""
    run = dict(limit=4, epochs=2, checkpoint_every=2)
    fit("guiding_painter", _config(tmp_path, "full", **run), GUIDING_PAINTER)
    config = _config(tmp_path, "stopped", **run)
    fit("guiding_painter", config, GUIDING_PAINTER, callbacks=(StopAt(2),))
    fit("guiding_painter", config, GUIDING_PAINTER, resume="auto")
    _assert_same_training(tmp_path / "full", tmp_path / "stopped", 8)


def test_a_checkpoint_of_an_earlier_version_resumes_with_a_warning(tmp_path, caplog):
    config = _config(tmp_path, "old", limit=4, epochs=2, checkpoint_every=2)
    fit("point_hints", config, POINT_HINTS, callbacks=(StopAt(2),))
    path = tmp_path / "old" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("DataModule", "tinct_method"):  # what earlier versions did not write
        del checkpoint[key]
    torch.save(checkpoint, path)
    with caplog.at_level(logging.WARNING, logger="tinct.train"):
        folder = fit("point_hints", config, POINT_HINTS, resume="auto")
    assert any("earlier version" in record.getMessage() and "not exactly" in record.getMessage()
               for record in caplog.records)
    assert (folder / "model.safetensors").is_file() and _checkpoint(tmp_path / "old", 8)["global_step"] == 8


# ----------------------------------------------------------------------------- the sampler


def test_epoch_order_is_pure_in_seed_and_epoch_and_shards_over_processes():
    from tinct.data.sampling import EpochSampler, epoch_order

    assert epoch_order(10, seed=3, epoch=2) == epoch_order(10, seed=3, epoch=2)
    assert epoch_order(10, seed=3, epoch=2) != epoch_order(10, seed=3, epoch=1)
    assert sorted(epoch_order(10, seed=3, epoch=2)) == list(range(10))

    one = EpochSampler(10, batch_size=2, seed=3)
    one.set_epoch(2)
    pairs = list(one)
    assert [index for index, _ in pairs] == epoch_order(10, seed=3, epoch=2)
    assert pairs == list(one)  # iterating again repeats the epoch exactly

    shards = []
    for rank in (0, 1, 2):
        sampler = EpochSampler(10, batch_size=2, seed=3, rank=rank, world_size=3)
        sampler.set_epoch(2)
        shards.append([index for index, _ in sampler])
        assert len(sampler) == 4  # ceil(10 / 3): padded so every process gets as many
    assert [len(shard) for shard in shards] == [4, 4, 4]
    assert set().union(*shards) == set(range(10))


def test_resume_at_skips_batches_of_that_epoch_only_and_keeps_the_length():
    from tinct.data.sampling import EpochSampler

    full = EpochSampler(9, batch_size=2, seed=0)
    full.set_epoch(1)
    epoch_1 = list(full)
    full.set_epoch(2)
    epoch_2 = list(full)

    resumed = EpochSampler(9, batch_size=2, seed=0)
    resumed.resume_at(1, 3)
    assert len(resumed) == 9  # the full epoch: Lightning counts the rest itself
    assert list(resumed) == epoch_1[6:]  # three batches of two skipped
    resumed.set_epoch(1)  # Lightning sets the (same) epoch again when the resumed epoch starts
    assert list(resumed) == epoch_1[6:]
    resumed.set_epoch(2)
    assert list(resumed) == epoch_2  # the next epoch is whole


def test_seeded_transform_draws_from_the_key_only():
    from tinct.data.augment import joint_flip_crop
    from tinct.data.sampling import SeededTransform, draw_seed

    images = [{"color": torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(i))} for i in range(3)]
    dataset = SeededTransform(images, lambda sample, generator: joint_flip_crop(sample, size=8, generator=generator))
    first = dataset[(1, draw_seed(0, 5, 1))]["color"]
    torch.manual_seed(123)  # the global generator plays no part
    assert torch.equal(dataset[(1, draw_seed(0, 5, 1))]["color"], first)
    others = [dataset[(1, draw_seed(0, epoch, 1))]["color"] for epoch in range(6, 12)]
    assert any(not torch.equal(other, first) for other in others)  # another epoch, another draw
    with pytest.raises(TypeError, match="index, draw_seed"):
        dataset[1]
