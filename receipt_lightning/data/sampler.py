"""A resumable, length-grouped batch sampler.

Batches are drawn from a permutation seeded by ``(seed, epoch)`` only, so any epoch's order is
recomputed from two integers: no ``torch.Generator`` whose state drifts across epochs, and a
resume restores the position in O(1) (``state_dict`` holds the epoch and the number of batches
already yielded; nothing is replayed).

The sampler counts its own epochs: each new pass over it starts the next epoch. Lightning calls
``set_epoch`` only on ``loader.sampler`` and ``loader.batch_sampler.sampler``, never on the batch
sampler itself, and it stops a sized epoch after ``len(loader)`` batches without exhausting the
iterator, so the sampler cannot rely on either. A restored state whose epoch was fully yielded (a
checkpoint on the last batch of an epoch) continues with the next epoch rather than an empty one.

Length grouping: the shuffled indices are cut into mega-batches of ``group_factor`` batches,
each sorted by length, so a batch holds receipts of similar length and padding is small, while
batch order is shuffled again so long and short batches interleave.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

from receipt_lightning.errors import InputError


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
    """Length-grouped batch sampler whose position is ``(epoch, batches yielded)``, saved and
    restored by torchdata's ``StatefulDataLoader`` (which Lightning checkpoints with the fit loop).

    Each pass (``iter``) that actually starts yielding begins a new epoch, unless it continues a
    restored position. ``set_epoch`` pins the epoch of the next pass, for callers that count
    epochs themselves.

    ``generator``: pass the ``torch.Generator`` given to the DataLoader as ``generator=``. Each
    ``iter(loader)`` draws the workers' base seed from it; a fresh process would hold it at its
    initial state and draw different worker seeds from the next epoch on. The sampler saves its
    state and restores it on load (after the resumed iterator's own draw, which torchdata
    replaces by the saved base seed), so worker seeds repeat too.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        group_factor: int = 50,
        generator: Any | None = None,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}", source="ResumableBatchSampler")
        if not 0 <= rank < num_replicas:
            raise InputError(f"rank {rank} not in [0, {num_replicas})", source="ResumableBatchSampler")
        # Data parallel: every rank draws the same epoch order and takes every num_replicas-th
        # batch, all ranks the same count (the remainder is dropped, as DistributedSampler's
        # drop_last does), so they step together and the position is one integer for all.
        self.num_replicas = num_replicas
        self.rank = rank
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.group_factor = group_factor
        self.generator = generator  # torch.Generator of the loader, or None
        self.epoch = 0
        self._yielded = 0  # batches handed out in epoch ``self.epoch``
        self._started = False  # a pass has begun in this object (the next pass is a new epoch)
        self._continue = False  # the next pass continues the restored (epoch, yielded) position
        self._pinned: int | None = None  # epoch set by set_epoch for the next pass

    def set_epoch(self, epoch: int) -> None:
        # A restored position inside the same epoch wins: Lightning-style callers set the epoch
        # after the loader state was loaded.
        if self._continue and self.epoch == epoch and self._yielded < len(self):
            return
        self._continue = False
        self._pinned = epoch

    def __len__(self) -> int:
        total = (len(self.lengths) + self.batch_size - 1) // self.batch_size
        return total if self.num_replicas == 1 else total // self.num_replicas

    def _begin_pass(self) -> int:
        """Decide the (epoch, first batch) of a pass that is starting now; returns the start."""
        start = 0
        if self._pinned is not None:
            self.epoch = self._pinned
        elif self._continue:
            start = self._yielded
            if start >= len(self):  # the restored epoch was complete: go on with the next one
                self.epoch += 1
                start = 0
        elif self._started:
            self.epoch += 1
        self._pinned = None
        self._continue = False
        self._started = True
        self._yielded = start
        return start

    def __iter__(self) -> Iterator[list[int]]:
        # A generator: nothing runs until the first batch is requested, so iterators that the
        # loader creates and drops without reading (e.g. for a state_dict) do not start an epoch.
        start = self._begin_pass()
        batches = length_grouped_batches(
            self.lengths, self.batch_size, self.seed, self.epoch, self.shuffle, self.group_factor
        )
        if self.num_replicas > 1:
            batches = batches[self.rank :: self.num_replicas][: len(self)]
        for batch in batches[start:]:
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"epoch": self.epoch, "yielded": self._yielded}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()  # uint8 tensor: weights_only-safe
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            self.epoch = int(state["epoch"])
            self._yielded = int(state["yielded"])
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"bad sampler state {state!r}: {err}", source="ResumableBatchSampler") from err
        if self.generator is not None and state.get("generator") is not None:
            self.generator.set_state(state["generator"])
        self._continue = True
        self._pinned = None
        self._started = True
