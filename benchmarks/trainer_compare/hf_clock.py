"""``HFStepClock``: wall-clock time at the end of every optimizer step of a ``transformers.Trainer``."""

from __future__ import annotations

import time

from transformers import TrainerCallback
from typing_extensions import override


class HFStepClock(TrainerCallback):
    """Records ``perf_counter`` at each ``on_step_end`` (seconds); batch sizes come from the
    collator, which sees batches in step order."""

    def __init__(self) -> None:
        self.step_ends: list[float] = []
        self.cpu_ends: list[float] = []  # process CPU seconds, all threads
        self.threads = 0

    @override
    def on_train_begin(self, args, state, control, **kwargs):
        import torch

        self.threads = torch.get_num_threads()

    @override
    def on_step_end(self, args, state, control, **kwargs):
        self.step_ends.append(time.perf_counter())
        self.cpu_ends.append(time.process_time())
