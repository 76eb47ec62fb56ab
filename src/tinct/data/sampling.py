"""Seeded, epoch-aware sampling, so that a training run stopped anywhere resumes exactly.

Everything random about the training data is a pure function of ``(seed, epoch, index)``:

- :class:`EpochSampler` draws the order of an epoch from ``(seed, epoch)`` only (never from
  a generator whose state runs on through training), shards it over the processes itself
  (rank ``r`` of ``W`` takes every ``W``-th position, padded like ``DistributedSampler``),
  and can start an epoch after the batches already trained on. It yields
  ``(index, draw_seed)`` pairs: the dataset index and the seed of that sample's own draws.
- :class:`SeededTransform` wraps a dataset: ``dataset[(index, draw_seed)]`` is
  ``transform(dataset[index], generator=torch.Generator().manual_seed(draw_seed))``; the
  transform (the joint flip and crop) never touches the global random state, so the same
  sample gets the same draw in any worker process, before or after a resume.

``len(sampler)`` is always the full epoch's length for this process, also while an epoch
resumes part-way, so a training loop that counts batches (Lightning's) ends the epoch at
the right place: it restores how many batches of the epoch are done and fetches only the
rest, which is exactly what the sampler then yields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

_ORDER, _SAMPLE = 0, 1  # independent streams of the run's seed: epoch orders and per-sample draws


def _derive_seed(seed: int, *key: int) -> int:
    """A 63-bit seed for the stream ``key`` of ``seed`` (NumPy's SeedSequence: well mixed)."""
    return int(np.random.SeedSequence(seed % 2**64, spawn_key=key).generate_state(1, np.uint64)[0]) >> 1


def epoch_order(size: int, *, seed: int, epoch: int) -> list[int]:
    """The order of the ``size`` samples in ``epoch``: a permutation seeded by ``(seed, epoch)``."""
    generator = torch.Generator().manual_seed(_derive_seed(seed, _ORDER, epoch))
    return torch.randperm(size, generator=generator).tolist()


def draw_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index``'s random draws (augmentation) in ``epoch``."""
    return _derive_seed(seed, _SAMPLE, epoch, index)


class EpochSampler(torch.utils.data.Sampler):
    """Shuffled ``(index, draw_seed)`` pairs for one process: pure in ``(seed, epoch)``.

    Args:
        size: samples in the dataset.
        batch_size: samples per batch (what :meth:`resume_at` skips in).
        seed: the run's seed.
        rank, world_size: this process and the number of processes; each takes every
            ``world_size``-th position of the epoch's order, padded (by repeating its start)
            to a multiple of ``world_size`` so all processes get as many samples.
    """

    def __init__(self, size: int, *, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank {rank} of {world_size}")
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self._resume: tuple[int, int] = (0, 0)  # (epoch, batches of it already trained on)

    def __len__(self) -> int:
        return math.ceil(self.size / self.world_size)  # the full epoch, also while resuming one

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop at the start of every epoch."""
        self.epoch = epoch

    def resume_at(self, epoch: int, batches: int) -> None:
        """Start at ``epoch``; in that epoch only, skip the first ``batches`` batches."""
        if epoch < 0 or batches < 0:
            raise ValueError(f"epoch and batches must be >= 0, got epoch {epoch}, batches {batches}")
        self.epoch = epoch
        self._resume = (epoch, batches)

    def skipped_batches(self, epoch: int) -> int:
        """How many batches of ``epoch`` this sampler leaves out (only in the resumed epoch)."""
        resumed_epoch, batches = self._resume
        return batches if epoch == resumed_epoch else 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        order = epoch_order(self.size, seed=self.seed, epoch=epoch)
        padded = order + order[: len(self) * self.world_size - self.size]  # (len * world,)
        mine = padded[self.rank :: self.world_size]
        for index in mine[self.skipped_batches(epoch) * self.batch_size :]:
            yield index, draw_seed(self.seed, epoch, index)


class SeededTransform(torch.utils.data.Dataset):
    """``dataset[(index, draw_seed)]`` -> ``transform(dataset[index], generator=...)``, the
    generator seeded with ``draw_seed``: every random draw of a sample is fixed by its key."""

    def __init__(self, dataset, transform: Callable[..., dict]):
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise TypeError(f"SeededTransform takes (index, draw_seed) keys from an EpochSampler, got {key!r}")
        index, seed = key
        return self.transform(self.dataset[index], generator=torch.Generator().manual_seed(seed))
