"""``ThroughputCallback``: training samples/s and non-padding tokens/s, validation excluded."""

from __future__ import annotations

import time

import lightning as L
from typing_extensions import override


class ThroughputCallback(L.Callback):
    """Times each training step from batch start to batch end (optimizer step included) and
    counts windows and real (attention-masked) tokens; ``step_times_s`` keeps every step."""

    def __init__(self) -> None:
        self.samples = 0
        self.tokens = 0
        self.train_time_s = 0.0
        self.step_times_s: list[float] = []
        self._t0: float | None = None

    @override
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._t0 = time.perf_counter()

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._t0 is None:
            return
        dt = time.perf_counter() - self._t0
        self._t0 = None
        self.step_times_s.append(dt)
        self.train_time_s += dt
        self.samples += int(batch["input_ids"].size(0))
        self.tokens += int(batch["attention_mask"].sum())

    def summary(self) -> dict[str, float]:
        t = max(self.train_time_s, 1e-9)
        times = sorted(self.step_times_s)
        return {
            "train_samples_per_s": self.samples / t,
            "train_tokens_per_s": self.tokens / t,
            "median_step_time_s": times[len(times) // 2] if times else 0.0,
            "train_steps_timed": len(times),
        }
