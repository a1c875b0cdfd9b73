"""A resumable, length-grouped batch sampler.

Batches are drawn from a permutation seeded by ``(seed, epoch)`` only, so any epoch's order is
recomputed from two integers: no ``torch.Generator`` whose state drifts across epochs, and a
resume restores the position in O(1) (``state_dict`` holds the epoch and the number of batches
already yielded; nothing is replayed).

Length grouping: the shuffled indices are cut into mega-batches of ``group_factor`` batches,
each sorted by length, so a batch holds receipts of similar length and padding is small, while
batch order is shuffled again so long and short batches interleave.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, seed: int, epoch: int, shuffle: bool, group_factor: int
) -> list[list[int]]:
    """The batches of one epoch, as lists of dataset indices. Pure and deterministic."""
    order = list(range(len(lengths)))
    if not shuffle:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng = random.Random(seed * 1_000_003 + epoch)
    rng.shuffle(order)
    if group_factor > 1:
        mega = batch_size * group_factor
        grouped: list[int] = []
        for i in range(0, len(order), mega):
            grouped += sorted(order[i : i + mega], key=lambda j: -lengths[j])
        order = grouped
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


class ResumableBatchSampler:
    """Length-grouped batch sampler with ``set_epoch`` (called by Lightning each epoch) and
    ``state_dict``/``load_state_dict`` (saved by torchdata's StatefulDataLoader, which Lightning
    checkpoints with the fit loop)."""

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        group_factor: int = 50,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.group_factor = group_factor
        self.epoch = 0
        self._yielded = 0  # batches handed out in the current epoch
        self._resume_from: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        # A restored state wins over Lightning's set_epoch for the same epoch, which it calls
        # after the loader state has been loaded.
        if self._resume_from is not None and self._resume_from[0] == epoch:
            return
        self._resume_from = None
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        batches = length_grouped_batches(
            self.lengths, self.batch_size, self.seed, self.epoch, self.shuffle, self.group_factor
        )
        start = 0
        if self._resume_from is not None and self._resume_from[0] == self.epoch:
            start = self._resume_from[1]
        self._resume_from = None
        self._yielded = start
        for batch in batches[start:]:
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self._yielded = int(state["yielded"])
        self._resume_from = (self.epoch, self._yielded)
