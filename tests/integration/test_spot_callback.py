"""SpotInterruptionCallback in a real Trainer with a tiny module, against the IMDSv2 stub.

The notice (or SIGTERM) is raised from inside a training step, and the step waits (bounded) until
the callback has seen it, so the stop step is deterministic: a notice seen during the step that
ends at global step N gives ``step-N.ckpt``.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from receipt_lightning.aws.imds_stub import IMDSStub  # noqa: E402
from receipt_lightning.errors import JobInterrupted  # noqa: E402
from receipt_lightning.training.lightning_compat import last_saved_step  # noqa: E402
from receipt_lightning.training.spot.callback import SpotInterruptionCallback  # noqa: E402
from tests.support.spot_tiny import RecordingLogger, TinyModule, make_loader, make_trainer, wait_for

NOTICE_TIME = "2026-11-29T12:02:00Z"


@pytest.fixture
def stub():
    with IMDSStub() as s:
        yield s


@pytest.fixture
def previous_handler():
    """A Python SIGTERM handler in place before fit: must be chained, then restored."""
    calls = []

    def handler(signum, frame):
        calls.append(signum)

    old = signal.signal(signal.SIGTERM, handler)
    handler.calls = calls
    yield handler
    signal.signal(signal.SIGTERM, old)


def polling_callback(endpoint, **kw):
    return SpotInterruptionCallback(endpoint=endpoint, poll_interval_s=0.05, timeout_s=0.5, **kw)


def test_notice_mid_epoch_saves_next_step_and_stops(stub, tmp_path):
    cb, logger = polling_callback(stub.endpoint), RecordingLogger()

    def at_step(module, batch_idx):
        if module.trainer.global_step == 5:  # mid-epoch (16 batches an epoch)
            stub.set_notice("terminate", NOTICE_TIME)
            assert wait_for(lambda: cb.pending_notice is not None)

    trainer = make_trainer(tmp_path, cb, logger, max_epochs=3)
    with pytest.raises(JobInterrupted) as exc:
        trainer.fit(TinyModule(at_step), make_loader())
    assert (exc.value.reason, exc.value.action, exc.value.notice_time) == (
        "spot-interruption",
        "terminate",
        NOTICE_TIME,
    )
    ckpt = tmp_path / "ckpt" / "step-00000006.ckpt"
    assert ckpt.exists() and trainer.global_step == 6
    assert torch.load(ckpt, weights_only=True)["global_step"] == 6
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step-00000006.ckpt"]
    status, detail = logger.statuses[-1]
    assert status == "INTERRUPTED"
    assert detail == {
        "action": "terminate",
        "notice_time": NOTICE_TIME,
        "reason": "spot-interruption",
        "global_step": 6,
        "checkpoint": str(ckpt),
    }
    # A logger that records status logs its own "interrupted" event: no second one.
    assert not [e for e in logger.events if e[0] == "interrupted"] and logger.flushes >= 1
    info = cb.interruption
    assert info["global_step"] == 6 and info["checkpoint_saved_now"]
    assert 0 <= info["seconds_seen_to_durable"] <= info["seconds_seen_to_status"]
    assert not cb.polling
    # ModelCheckpoint's bookkeeping knows this save: nobody saves this step a second time.
    assert last_saved_step(trainer.checkpoint_callback) == 6
    assert SpotInterruptionCallback()._save(trainer) == (str(ckpt), False)


def test_sigterm_mid_training_same_outcome_and_handler_restored(tmp_path, previous_handler):
    cb, logger = SpotInterruptionCallback(endpoint=None), RecordingLogger()  # no polling at all

    def at_step(module, batch_idx):
        if module.trainer.global_step == 5:
            os.kill(os.getpid(), signal.SIGTERM)

    trainer = make_trainer(tmp_path, cb, logger, max_epochs=3)
    with pytest.raises(JobInterrupted) as exc:
        trainer.fit(TinyModule(at_step), make_loader())
    assert exc.value.reason == "sigterm"
    assert (tmp_path / "ckpt" / "step-00000006.ckpt").exists()
    assert logger.statuses[-1][0] == "INTERRUPTED"
    assert previous_handler.calls == [signal.SIGTERM]  # chained
    assert signal.getsignal(signal.SIGTERM) is previous_handler  # restored
    assert not trainer.received_sigterm  # Lightning's notifier never ran: no SIGTERMException


@pytest.mark.parametrize("where", ["module_batch_end", "validation"])
def test_sigterm_where_lightning_would_exit_0_still_interrupts(tmp_path, where, previous_handler):
    """Lightning's own handler raises SIGTERMException (exit status 0) after the callbacks' batch
    hook and inside validation; ours must stop at the next step instead, with JobInterrupted."""
    cb = SpotInterruptionCallback(endpoint=None)
    sent = []

    def send(module, step):
        if module.trainer.global_step == step and not sent:
            sent.append(step)
            os.kill(os.getpid(), signal.SIGTERM)

    hooks = {
        "module_batch_end": dict(after_batch=lambda m, i: send(m, 5)),
        "validation": dict(in_validation=lambda m, i: send(m, 16) if i == 1 else None),
    }[where]
    trainer = make_trainer(tmp_path, cb, RecordingLogger(), max_epochs=3, validate=where == "validation")
    with pytest.raises(JobInterrupted):
        trainer.fit(TinyModule(**hooks), make_loader(), make_loader(16) if where == "validation" else None)
    assert trainer.global_step == sent[0] + 1
    assert (tmp_path / "ckpt" / f"step-{sent[0] + 1:08d}.ckpt").exists()
    assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_no_notice_trains_to_the_end(stub, tmp_path):
    cb, logger = polling_callback(stub.endpoint), RecordingLogger()
    previous = signal.getsignal(signal.SIGTERM)
    trainer = make_trainer(tmp_path, cb, logger, max_epochs=2)
    trainer.fit(TinyModule(lambda m, i: time.sleep(0.01)), make_loader())
    assert trainer.global_step == 32 and cb.interruption is None
    assert stub.count("GET", "/latest/meta-data/spot/instance-action") >= 2
    assert not logger.statuses and not cb.polling
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.mark.parametrize("mode", ["hang", "refuse", "garbage"])
def test_bad_metadata_service_never_stalls_or_crashes(stub, tmp_path, mode):
    endpoint = stub.endpoint
    if mode == "refuse":
        stub.stop()  # nothing listens on the port any more
    else:
        stub.set_mode(mode)
    cb = polling_callback(endpoint)
    trainer = make_trainer(tmp_path, cb, RecordingLogger(), max_epochs=2)
    start = time.monotonic()
    trainer.fit(TinyModule(lambda m, i: time.sleep(0.01)), make_loader())
    # 32 steps of ~10 ms; the poller's waits (0.5 s timeouts) must not add up in the training thread.
    assert trainer.global_step == 32 and cb.interruption is None
    assert time.monotonic() - start < 20
    assert not cb.polling


def test_any_rank_stops_all(tmp_path):
    """Another rank saw a notice: the reduction says stop although this rank saw nothing."""
    cb = SpotInterruptionCallback(endpoint=None)
    decisions = []
    trainer = make_trainer(tmp_path, cb, RecordingLogger(), max_epochs=1)

    def reduce(decision, all=True):
        decisions.append((decision, all))
        return trainer.global_step >= 3

    trainer.strategy.reduce_boolean_decision = reduce
    with pytest.raises(JobInterrupted) as exc:
        trainer.fit(TinyModule(), make_loader())
    assert exc.value.reason == "notice-on-another-rank" and trainer.global_step == 3
    assert decisions == [(False, False)] * 3


def test_gradient_accumulation_stops_only_after_an_optimizer_step(stub, tmp_path):
    cb = polling_callback(stub.endpoint)

    def at_batch(module, batch_idx):
        if batch_idx == 4:  # first micro-batch of the third step (accumulating 2)
            stub.set_notice()
            assert wait_for(lambda: cb.pending_notice is not None)

    trainer = make_trainer(tmp_path, cb, RecordingLogger(), max_epochs=1, accumulate_grad_batches=2)
    with pytest.raises(JobInterrupted):
        trainer.fit(TinyModule(at_batch), make_loader())
    assert trainer.global_step == 3 and (tmp_path / "ckpt" / "step-00000003.ckpt").exists()


def test_resume_from_interruption_checkpoint_is_exact(stub, tmp_path):
    """Zero completed steps lost: interrupted at step 7 and resumed, the final weights equal an
    uninterrupted run's, bit for bit (stateful loader, SGD, CPU)."""
    reference = TinyModule()
    make_trainer(tmp_path / "ref", None, None, max_steps=20).fit(reference, make_loader(stateful=True))

    cb = polling_callback(stub.endpoint)

    def at_step(module, batch_idx):
        if module.trainer.global_step == 6:
            stub.set_notice()
            assert wait_for(lambda: cb.pending_notice is not None)

    with pytest.raises(JobInterrupted):
        make_trainer(tmp_path / "run", cb, None, max_steps=20).fit(
            TinyModule(at_step), make_loader(stateful=True)
        )
    ckpt = tmp_path / "run" / "ckpt" / "step-00000007.ckpt"
    resumed = TinyModule()
    trainer = make_trainer(tmp_path / "run", None, None, max_steps=20)
    trainer.fit(resumed, make_loader(stateful=True), ckpt_path=str(ckpt))
    assert trainer.global_step == 20
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


class DrainRecordingIO(TorchCheckpointIO):
    """Stands in for the EFS plugin: records saves and ``drain()`` calls, in order."""

    def __init__(self, order: list[str]):
        super().__init__()
        self.order = order

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        super().save_checkpoint(checkpoint, path, storage_options)
        self.order.append("save")

    def drain(self):
        self.order.append("drain")


def test_checkpoint_is_drained_before_the_status_is_written(tmp_path):
    order: list[str] = []

    class OrderLogger(RecordingLogger):
        def record_status(self, status, **detail):
            order.append(status)
            super().record_status(status, **detail)

    def at_step(module, batch_idx):
        if module.trainer.global_step == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    cb = SpotInterruptionCallback(endpoint=None)
    trainer = make_trainer(tmp_path, cb, OrderLogger(), max_epochs=1, plugins=[DrainRecordingIO(order)])
    with pytest.raises(JobInterrupted):
        trainer.fit(TinyModule(at_step), make_loader())
    assert order == ["save", "drain", "INTERRUPTED"]
    assert cb.interruption["checkpoint_io_drained"] is True


class LoaderSendsSigterm(TinyModule):
    """SIGTERM while the train loader is being set up: after Lightning installed its handler and
    before ours takes over (at train start)."""

    def train_dataloader(self):
        os.kill(os.getpid(), signal.SIGTERM)
        return make_loader()


@pytest.mark.parametrize("accumulate", [1, 2])
def test_sigterm_before_train_start_is_taken_over(tmp_path, accumulate, previous_handler):
    cb = SpotInterruptionCallback(endpoint=None)
    trainer = make_trainer(tmp_path, cb, RecordingLogger(), max_epochs=1, accumulate_grad_batches=accumulate)
    with pytest.raises(JobInterrupted) as exc:
        trainer.fit(LoaderSendsSigterm())
    assert exc.value.reason == "sigterm" and trainer.global_step == 1
    assert (tmp_path / "ckpt" / "step-00000001.ckpt").exists()
    assert signal.getsignal(signal.SIGTERM) is previous_handler
