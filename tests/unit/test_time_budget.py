"""The time budget: a run whose first steps show it would overrun stops earlier, on a fully
decayed schedule, and keeps that decision when resumed; a run that fits is unchanged."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from receipt_lightning.model.optim import WarmupDecay, linear_warmup_decay
from receipt_lightning.training.callbacks.time_budget import TimeBudget, affordable_total


class FakeClock:
    """Seconds that advance by ``step_s`` at every read after ``start``."""

    def __init__(self, step_s: float):
        self.now = 0.0
        self.step_s = step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


class Scheduled(BoringModel):
    def __init__(self, warmup: int = 10):
        super().__init__()
        self.warmup = warmup
        self.lrs: list[float] = []

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.layer.parameters(), lr=0.1)
        total = int(self.trainer.max_steps)
        scheduler = linear_warmup_decay(optimizer, self.warmup, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_batch_start(self, batch, batch_idx):
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])


def fit(tmp_path, budget: TimeBudget, max_steps: int = 200, ckpt_path=None, model=None):
    model = model or Scheduled()
    trainer = L.Trainer(
        max_steps=max_steps,
        callbacks=[budget],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        limit_val_batches=0,
    )
    trainer.fit(model, ckpt_path=ckpt_path)
    return trainer, model


def test_affordable_total():
    # 100 s budget, 20 spent, 10 kept: 70 s at 2 s a step = 35 more steps from step 20.
    assert affordable_total(20, 200, 2.0, 20.0, 100.0, 10.0) == 55
    assert affordable_total(20, 40, 2.0, 20.0, 100.0, 10.0) == 40  # fits: the plan
    assert affordable_total(20, 200, 2.0, 200.0, 100.0, 10.0) == 21  # already over: stop next step


def test_warmup_decay_retarget_is_continuous_and_ends_at_zero():
    w = WarmupDecay(10, 100)
    before = [w(s) for s in range(60)]
    w.retarget(50, 60)
    assert [w(s) for s in range(51)] == before[:51]  # nothing before the knee changes
    assert w(55) == pytest.approx(before[50] / 2) and w(60) == 0.0


def test_a_run_that_would_overrun_stops_within_budget_on_a_decayed_schedule(tmp_path):
    clock = FakeClock(step_s=0.5)  # one read per batch: 0.5 s a step
    budget = TimeBudget(minutes=1.0, started=0.0, probe_steps=10, reserve_s=10.0, clock=clock)
    trainer, model = fit(tmp_path, budget)
    assert budget.planned_total == 200
    assert 20 < budget.decided_total < 200
    assert trainer.global_step == budget.decided_total
    assert model.lrs[-1] < 0.1 * max(model.lrs)  # decayed, not cut off mid-schedule
    assert budget.summary()["time_budget"] == {
        "minutes": 1.0,
        "planned_steps": 200,
        "steps": trainer.global_step,
    }


def test_a_run_that_fits_is_unchanged(tmp_path):
    unbudgeted = fit(tmp_path / "a", TimeBudget(minutes=None))[1].lrs
    budget = TimeBudget(minutes=60.0, started=0.0, probe_steps=10, clock=FakeClock(0.01))
    trainer, model = fit(tmp_path / "b", budget)
    assert trainer.global_step == budget.decided_total == 200
    assert model.lrs == unbudgeted


def test_a_resumed_run_keeps_its_decision(tmp_path):
    budget = TimeBudget(minutes=1.0, started=0.0, probe_steps=10, reserve_s=10.0, clock=FakeClock(0.5))
    trainer, model = fit(tmp_path, budget, max_steps=200)
    decided = budget.decided_total
    path = tmp_path / "mid.ckpt"
    trainer.save_checkpoint(path)
    # Resumed on a fast machine with a fresh clock: no re-planning, the same end step.
    again = TimeBudget(minutes=1.0, started=0.0, probe_steps=10, clock=FakeClock(0.001))
    trainer2, model2 = fit(tmp_path, again, max_steps=200, ckpt_path=str(path))
    assert again.decided_total == decided and trainer2.global_step == decided


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="positive"):
        TimeBudget(minutes=0)
    with pytest.raises(ValueError, match="probe_steps"):
        TimeBudget(minutes=5, probe_steps=2)


class SlowingClock(FakeClock):
    """``fast_s`` per read for the first ``fast_reads`` reads, then ``slow_s``."""

    def __init__(self, fast_s: float, slow_s: float, fast_reads: int):
        super().__init__(fast_s)
        self.reads, self.slow_s, self.fast_reads = 0, slow_s, fast_reads

    def __call__(self) -> float:
        self.reads += 1
        if self.reads > self.fast_reads:
            self.step_s = self.slow_s
        return super().__call__()


def test_a_machine_that_slows_after_the_probe_is_planned_again_and_ends_within_budget(tmp_path):
    # 0.2 s a step through the probe: 200 steps (40 s) fit 60 s with 10 s kept. From read 40 on a
    # step takes 0.5 s: the plan would end near 95 s; the later checks shorten it.
    clock = SlowingClock(0.2, 0.5, fast_reads=40)
    budget = TimeBudget(
        minutes=1.0, started=0.0, probe_steps=10, reserve_s=10.0, clock=clock, recheck_steps=10
    )
    trainer, model = fit(tmp_path, budget)
    assert budget.planned_total == 200 and budget.cut_short
    assert trainer.global_step == budget.decided_total < 200
    assert clock.now <= 60.0 - 10.0 + 10 * 0.5  # within one check's worth of steps of the budget
    assert model.lrs[-1] < 0.1 * max(model.lrs)  # decayed to the new end
    # Deciding once only, as before: the slowed run overruns.
    once = SlowingClock(0.2, 0.5, fast_reads=40)
    trainer, _ = fit(tmp_path / "once", TimeBudget(1.0, started=0.0, probe_steps=10, reserve_s=10.0, clock=once,
                                                    recheck_steps=None))  # fmt: skip
    assert trainer.global_step == 200 and once.now > 80.0


def test_later_checks_never_lengthen_a_run_and_leave_one_that_fits_alone(tmp_path):
    # Slow through the probe (cut), fast afterwards: the end step stays where the probe put it.
    clock = SlowingClock(0.5, 0.01, fast_reads=12)
    budget = TimeBudget(
        minutes=1.0, started=0.0, probe_steps=10, reserve_s=10.0, clock=clock, recheck_steps=5
    )
    trainer, _ = fit(tmp_path, budget)
    assert trainer.global_step == budget.decided_total < 200 == budget.planned_total
    unbudgeted = fit(tmp_path / "a", TimeBudget(minutes=None))[1].lrs
    _, model = fit(
        tmp_path / "b", TimeBudget(60.0, started=0.0, probe_steps=10, clock=FakeClock(0.01), recheck_steps=5)
    )
    assert model.lrs == unbudgeted


class StopAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step >= self.step:
            trainer.should_stop = True


def test_a_resumed_run_checks_on_from_the_time_it_had_spent_not_the_new_clock(tmp_path):
    # Interrupted at step 60 after 0.2 s steps (about 12 s of the budget spent); the new process's
    # clock starts at 1,000 s and steps take 0.5 s: the budget counts on from 12 s, so the run is
    # cut near where a run that slowed at step 60 would be, not at once (1,000 s "spent") and not
    # never (counting from 0).
    first = TimeBudget(minutes=1.0, started=0.0, probe_steps=10, reserve_s=10.0, clock=FakeClock(0.2),
                       recheck_steps=10)  # fmt: skip
    model = Scheduled()
    trainer = L.Trainer(max_steps=200, callbacks=[first, StopAt(60)], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                        limit_val_batches=0)  # fmt: skip
    trainer.fit(model)
    assert trainer.global_step == 60 and first.decided_total == 200
    trainer.save_checkpoint(tmp_path / "mid.ckpt")
    spent = torch.load(tmp_path / "mid.ckpt", weights_only=False)["callbacks"]["TimeBudget"]["spent_s"]
    assert 10.0 < spent < 15.0
    clock = FakeClock(0.5)
    clock.now = 1000.0
    again = TimeBudget(
        minutes=1.0, started=1000.0, probe_steps=10, reserve_s=10.0, clock=clock, recheck_steps=10
    )
    trainer2, _ = fit(tmp_path, again, max_steps=200, ckpt_path=str(tmp_path / "mid.ckpt"))
    # 60 s - 10 s kept - ~12.5 s spent = ~37 s at 0.5 s a step: about 75 more steps after the
    # first check (10 steps, 5 s) finds the slowdown.
    assert 120 <= trainer2.global_step == again.decided_total <= 150
    assert clock.now - 1000.0 + spent <= 60.0


def test_a_checkpoint_from_before_the_later_checks_keeps_its_decision_unchecked(tmp_path):
    old = TimeBudget(minutes=1.0, clock=FakeClock(0.5))
    old.load_state_dict({"planned_total": 200, "decided_total": 120})
    assert old.decided_total == 120 and old.recheck_steps is None
