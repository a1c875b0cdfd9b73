"""``StepClock``: wall-clock time at the end of every training step of a Lightning run."""

from __future__ import annotations

import time

import lightning as L
from typing_extensions import override

from benchmarks.trainer_compare.shared import batch_record


class StepClock(L.Callback):
    """Records ``perf_counter`` at each training batch end (seconds) and the batch's sizes; the
    interval between two ends covers everything the loop does for one step, data loading
    included."""

    def __init__(self) -> None:
        self.step_ends: list[float] = []
        self.cpu_ends: list[float] = []  # process CPU seconds, all threads
        self.batches: list[dict[str, int]] = []
        self.threads = 0

    @override
    def on_train_start(self, trainer, pl_module) -> None:
        import torch

        self.threads = torch.get_num_threads()  # what the loop really runs with

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.step_ends.append(time.perf_counter())
        self.cpu_ends.append(time.process_time())
        self.batches.append(batch_record(batch))
