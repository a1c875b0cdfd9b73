"""``TimeBudget``: a run planned in epochs, fitted into a wall-clock budget on a slower machine.

The same recipe takes 754 s on one 2-core machine and over 1,500 s on another of the same kind
(docs/sroie.md). With ``time_budget_minutes`` set, the callback times the first ``probe_steps``
optimizer steps (the first two, which warm kernels and allocators up, are left out) and
projects the end of the run: the time already spent since the callback was made (``train.py``
makes it once the data is loaded and tokenised, so a cold OCR cache does not eat into
training), the planned steps left at the median step time, and ``reserve_s`` for
the final validation, checkpoint and summary. Where the projection ends past the budget, the
run stops earlier, at the last step the budget affords, and the learning rate, instead of
being cut off mid-schedule, decays linearly from where it is to 0 at that step
(``model.optim.WarmupDecay.retarget``), so the shortened run still ends on a fully decayed
schedule, and ``train.py`` validates it at the end (a recipe that validates only after its
last epoch would otherwise report nothing). Where the run fits, nothing changes: the run is the same, step for step, as without a
budget.

A machine can also slow down after the probe (a noisy neighbour, thermal limits, a core
taken by another job): the sroie_images final fit probed 1.10 s per step and averaged 1.39 s,
ending 6 s inside its budget. So every ``recheck_steps`` steps after the decision the run
projects its end again from the median of the steps since the last check, and where that end is
now past the budget it is shortened again (never lengthened: the schedule has already decayed
towards the old end), the learning rate retargeted from where it is. A run with room to spare is
never touched.

The decision is saved in checkpoints (the callback's state, and the schedule's fields through
``LambdaLR``) with the training time the budget had counted, so a run resumed after a Spot
interruption keeps its end step and its later checks go on from the time it had spent, not from
the new process's clock and not counting the time the interruption cost. Under DDP rank 0
decides and broadcasts, so every rank stops at the same step.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import lightning as L
from typing_extensions import override

from receipt_lightning.model.optim import WarmupDecay

log = logging.getLogger(__name__)

# Steps left out of the timing: the first ones build kernels and fill allocator caches.
WARMUP_STEPS = 2


def affordable_total(
    step: int, planned_total: int, step_time_s: float, spent_s: float, budget_s: float, reserve_s: float
) -> int:
    """The last step a run at ``step`` (of ``planned_total``) can reach within ``budget_s``, having
    spent ``spent_s`` and keeping ``reserve_s`` for what follows training; ``planned_total`` when
    it fits, never below ``step + 1``."""
    left_s = budget_s - spent_s - reserve_s
    steps = int(left_s // step_time_s) if step_time_s > 0 else planned_total
    return max(step + 1, min(planned_total, step + steps))


class TimeBudget(L.Callback):
    """Stops a run early enough to end within ``minutes`` of wall time (see module docstring)."""

    def __init__(
        self,
        minutes: float | None,
        started: float | None = None,
        probe_steps: int = 20,
        reserve_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        recheck_steps: int | None = 25,
    ):
        if minutes is not None and minutes <= 0:
            raise ValueError(f"time_budget_minutes must be positive or null, got {minutes!r}")
        if probe_steps <= WARMUP_STEPS:
            raise ValueError(f"probe_steps must exceed {WARMUP_STEPS}, got {probe_steps}")
        if recheck_steps is not None and recheck_steps < 1:
            raise ValueError(
                f"recheck_steps must be a positive number of steps or None, got {recheck_steps!r}"
            )
        self.minutes = minutes  # None: no budget, the callback does nothing
        self.clock = clock  # seconds, monotonic (injected in tests)
        self.started = clock() if started is None else started  # when the budget starts (clock's time)
        self.probe_steps = probe_steps  # batches timed before deciding
        self.reserve_s = reserve_s  # seconds kept for final validation, checkpoint and summary
        self.recheck_steps = recheck_steps  # steps between later checks; None: decide once only
        self.planned_total: int | None = None  # steps the run was planned with
        self.decided_total: int | None = None  # steps the run ends at (== planned when it fits)
        self._batch_times: list[float] = []  # seconds per step since the last decision or check
        self._last_end: float | None = None
        self._restored_spent_s: float | None = None  # budget seconds spent before a resume

    @override
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_end = self.clock()
        if self.decided_total is not None:  # restored from a checkpoint: keep the decision
            trainer.fit_loop.epoch_loop.max_steps = self.decided_total
            if self._restored_spent_s is not None:  # the budget goes on from where it was
                self.started = self._last_end - self._restored_spent_s

    @override
    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx
    ) -> None:
        if self.minutes is None:
            return
        now = self.clock()
        if self._last_end is not None:
            self._batch_times.append(now - self._last_end)
        self._last_end = now
        if self.decided_total is None and len(self._batch_times) >= self.probe_steps:
            self._decide(trainer, now)
            self._batch_times.clear()
        elif (
            self.decided_total is not None
            and self.recheck_steps
            and len(self._batch_times) >= self.recheck_steps
        ):
            self._recheck(trainer, now, self.decided_total)
            self._batch_times.clear()

    def _step_time_s(self, trainer: L.Trainer, times: list[float]) -> float:
        """Median seconds per optimizer step over ``times`` (seconds per batch)."""
        return statistics.median(times) * max(1, trainer.accumulate_grad_batches)

    def _affordable(self, trainer: L.Trainer, now: float, limit: int, step_time_s: float) -> int:
        """``affordable_total`` at this step, capped at ``limit``; rank 0's answer on every rank."""
        total = affordable_total(
            int(trainer.global_step),
            limit,
            step_time_s,
            now - self.started,
            self.minutes * 60,
            self.reserve_s,
        )
        return int(trainer.strategy.broadcast(total, src=0))

    def _stop_at(self, trainer: L.Trainer, total: int) -> bool:
        """End the run at step ``total``, its learning rate decaying to 0 there; whether the
        schedule could be retargeted."""
        self.decided_total = total
        trainer.fit_loop.epoch_loop.max_steps = total
        return retarget_schedules(trainer, total)

    def _decide(self, trainer: L.Trainer, now: float) -> None:
        """The first projection, after ``probe_steps`` batches (the warm-up ones left out)."""
        step = int(trainer.global_step)
        planned = int(trainer.fit_loop.epoch_loop.max_steps)
        step_time_s = self._step_time_s(trainer, self._batch_times[WARMUP_STEPS:])
        total = self._affordable(trainer, now, planned, step_time_s)
        self.planned_total, self.decided_total = planned, total
        projected_end_s = now - self.started + (planned - step) * step_time_s + self.reserve_s
        if total >= planned:
            log.info(
                "time budget %.1f min: %d steps at %.2f s each fit (projected end %.0f s)",
                self.minutes, planned, step_time_s, projected_end_s,
            )  # fmt: skip
            return
        retargeted = self._stop_at(trainer, total)
        log.warning(
            "time budget %.1f min: a step takes %.2f s here, so the %d planned steps would end after "
            "about %.0f s; stopping at step %d (%.0f%% of the plan)%s",
            self.minutes, step_time_s, planned, projected_end_s, total, 100 * total / planned,
            ", the learning rate decaying to 0 there" if retargeted else
            " (the learning-rate schedule is not a WarmupDecay and is left as it is)",
        )  # fmt: skip

    def _recheck(self, trainer: L.Trainer, now: float, before: int) -> None:
        """A later projection from the steps since the last one: shorten the run (ending at step
        ``before``) where it would now end past the budget, never lengthen it."""
        step_time_s = self._step_time_s(trainer, self._batch_times)
        total = self._affordable(trainer, now, before, step_time_s)
        if total >= before:
            return
        retargeted = self._stop_at(trainer, total)
        log.warning(
            "time budget %.1f min: steps now take %.2f s here, so ending at step %d would overrun; "
            "stopping at step %d instead (%.0f%% of the plan)%s",
            self.minutes, step_time_s, before, total, 100 * total / (self.planned_total or total),
            ", the learning rate decaying to 0 there" if retargeted else "",
        )  # fmt: skip

    @property
    def cut_short(self) -> bool:
        """Whether the budget ended the run before its plan (its last validation may not have run)."""
        return (
            self.decided_total is not None
            and self.planned_total is not None
            and self.decided_total < self.planned_total
        )

    def summary(self) -> dict[str, Any]:
        """What summary.json records of the budget."""
        return {
            "time_budget": {
                "minutes": self.minutes,
                "planned_steps": self.planned_total,
                "steps": self.decided_total,
            }
        }

    @override
    def state_dict(self) -> dict[str, Any]:
        # spent_s: seconds of the budget used when the checkpoint was taken (None before a decision)
        spent_s = self.clock() - self.started if self.decided_total is not None else None
        return {"planned_total": self.planned_total, "decided_total": self.decided_total, "spent_s": spent_s}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.planned_total = state_dict.get("planned_total")
        self.decided_total = state_dict.get("decided_total")
        # Checkpoints from before the later checks hold no spent_s: their run is not checked again.
        spent = state_dict.get("spent_s")
        self._restored_spent_s = float(spent) if spent is not None else None
        if spent is None and self.decided_total is not None:
            self.recheck_steps = None


def retarget_schedules(trainer: L.Trainer, total: int) -> bool:
    """Make every ``WarmupDecay`` schedule of ``trainer`` reach 0 at step ``total``; whether any was."""
    found = False
    for config in trainer.lr_scheduler_configs:
        scheduler = config.scheduler
        for fn in getattr(scheduler, "lr_lambdas", []):
            if isinstance(fn, WarmupDecay):
                fn.retarget(int(scheduler.last_epoch), total)
                found = True
    return found
