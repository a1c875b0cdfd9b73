"""``SpotInterruptionCallback``: from a Spot notice or SIGTERM to a durable checkpoint and a stop.

Sources of a stop: the metadata service's ``spot/instance-action`` (polled by a daemon thread,
``spot_poller``), optionally its rebalance recommendation, and SIGTERM. Any of them only records
a notice; at the next step boundary (``on_train_batch_end`` after an optimizer step) all ranks
agree (any rank saw one -> all stop), the checkpoint of the current step is saved and made
durable, the loggers record ``INTERRUPTED``, and ``JobInterrupted`` ends ``fit()``; the training
entry point turns it into exit code 75 (``errors.EXIT_INTERRUPTED``).

Lightning's own SIGTERM handling (``trainer/connectors/signal_connector.py``) is registered in
``Trainer._run`` after ``on_fit_start``: it chains the previous handler, sets
``trainer.received_sigterm``, and the loops then raise ``SIGTERMException``, a ``SystemExit``
with no code, i.e. exit status 0, at points we do not control (after our batch hook, inside
validation, at epoch end). To make ours win, the handler is installed after Lightning's (at
sanity-check or train start) and chains the handler that was there *before* ``fit``, leaving
Lightning's notifier out; what else the notifier did, forwarding the signal to processes its
launcher spawned, is done here. Both restore the same pre-``fit`` handler when ``fit`` ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from receipt_lightning.aws.imds import IMDSClient
from receipt_lightning.errors import JobInterrupted
from receipt_lightning.training.lightning_compat import clear_received_sigterm
from receipt_lightning.training.spot.interruption import (
    drain_checkpoint_io,
    flush_loggers,
    record_interruption,
    save_step_checkpoint,
)
from receipt_lightning.training.spot.poller import NoticePoller, utc_now_iso
from receipt_lightning.training.spot.settings import SpotConfig, parse_spot_config
from receipt_lightning.training.spot.sigterm import SigtermRelay

log = logging.getLogger(__name__)


def build_spot_callback(spot_cfg: SpotConfig | Mapping[str, Any]) -> SpotInterruptionCallback:
    """The callback for the ``spot`` config group (see ``conf/spot/default.yaml``)."""
    s = parse_spot_config(spot_cfg)
    return SpotInterruptionCallback(
        endpoint=s.endpoint,
        poll_interval_s=s.poll_interval_s,
        timeout_s=s.timeout_s,
        rebalance_as_notice=s.rebalance_as_notice,
        handle_sigterm=s.handle_sigterm,
    )


class SpotInterruptionCallback(Callback):
    """Stops training at a step boundary after a durable checkpoint when a notice arrives.

    ``endpoint=None`` turns metadata polling off; SIGTERM is still handled (``handle_sigterm``).
    After a stop, ``interruption`` holds the notice and timings (seconds, from this process
    seeing the notice) for ``summary.json``.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        poll_interval_s: float = 5.0,
        timeout_s: float = 1.0,
        rebalance_as_notice: bool = False,
        handle_sigterm: bool = True,
    ):
        self.endpoint = endpoint
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.rebalance_as_notice = rebalance_as_notice
        self.interruption: dict[str, Any] | None = None
        # Written by the poller thread or the signal handler, read by the main thread: a plain
        # attribute (an atomic store in CPython); no lock, as a handler must never wait on one.
        self._pending: dict[str, Any] | None = None
        self._poller: NoticePoller | None = None
        self._relay = SigtermRelay(self._on_sigterm) if handle_sigterm else None
        self._trainer: pl.Trainer | None = None
        self._forwarded = False
        self._last_step = -1
        self._saved: tuple[int, str] | None = None  # (global step, path) of our last save

    @property
    def pending_notice(self) -> dict[str, Any] | None:
        """The notice seen and not yet acted on (a copy), or ``None``."""
        pending = self._pending
        return dict(pending) if pending is not None else None

    @property
    def polling(self) -> bool:
        return self._poller is not None and self._poller.running

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        self._trainer = trainer
        self.interruption, self._pending, self._saved, self._forwarded = None, None, None, False
        if self._relay is not None:
            self._relay.capture()  # the pre-fit handler: Lightning's is not installed yet

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # One poller per machine: other local ranks learn of a notice through the step's reduction.
        if self.endpoint is None or trainer.local_rank != 0:
            return
        client = IMDSClient(self.endpoint, timeout_s=self.timeout_s)
        self._poller = NoticePoller(client, self.poll_interval_s, self._on_notice, self.rebalance_as_notice)
        self._poller.start()

    @override
    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._take_over_sigterm(trainer)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._take_over_sigterm(trainer)
        self._last_step = trainer.global_step

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step == self._last_step:
            return  # accumulating gradients: no optimizer step, so not a resumable boundary
        self._last_step = step
        pending = self._pending
        # Every rank reaches this line at the same step, so the reduction cannot deadlock.
        if trainer.strategy.reduce_boolean_decision(pending is not None, all=False):
            self._stop_here(trainer, pending)

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # On an exception Lightning calls no ``teardown`` hook, only this one.
        self._shutdown()

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._shutdown()

    def _stop_here(self, trainer: pl.Trainer, pending: dict[str, Any] | None) -> None:
        if pending is None:  # another rank saw it
            pending = _notice("notice-on-another-rank", None, None)
        seen = pending["seen_monotonic_s"]
        at_boundary = time.monotonic()
        path, saved_now = self._save(trainer)
        drained = drain_checkpoint_io(trainer.strategy.checkpoint_io)
        durable = time.monotonic()
        info: dict[str, Any] = {
            "reason": pending["reason"],
            "action": pending["action"],
            "notice_time": pending["notice_time"],
            "seen_at": pending["seen_at"],
            "global_step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "checkpoint": path,
            "checkpoint_saved_now": saved_now,
            "checkpoint_io_drained": drained,
            "durable_at": utc_now_iso(),
        }
        if trainer.is_global_zero:
            record_interruption(trainer.loggers, info)
            flush_loggers(trainer.loggers)
        done = time.monotonic()
        info.update(
            status_written_at=utc_now_iso(),
            seconds_seen_to_boundary=round(at_boundary - seen, 4),
            seconds_seen_to_durable=round(durable - seen, 4),
            seconds_seen_to_status=round(done - seen, 4),
            seen_monotonic_s=seen,
            status_monotonic_s=done,
        )
        self.interruption = info
        log.warning(
            "spot: %s (action %s, time %s): checkpoint %s durable at step %d, %.2f s after the notice; "
            "stopping",
            info["reason"],
            info["action"],
            info["notice_time"],
            path,
            info["global_step"],
            info["seconds_seen_to_durable"],
        )
        raise JobInterrupted(info["reason"], info["action"], info["notice_time"])

    def _save(self, trainer: pl.Trainer) -> tuple[str, bool]:
        """Path of the checkpoint of the current step, and whether it was written now."""
        if self._saved is not None and self._saved[0] == trainer.global_step:
            return self._saved[1], False
        path, saved_now = save_step_checkpoint(trainer)
        self._saved = (trainer.global_step, path)
        return path, saved_now

    def _take_over_sigterm(self, trainer: pl.Trainer) -> None:
        if self._relay is None or self._relay.installed:
            return
        if trainer.received_sigterm:
            # Arrived while Lightning's handler was in place (between on_fit_start and now): take
            # it over, and clear Lightning's flag, else its loop raises SIGTERMException (exit
            # status 0) at the first batch end that is not a step boundary of ours.
            if self._pending is None:
                self._pending = _notice("sigterm", None, utc_now_iso())
            clear_received_sigterm(trainer)
        self._relay.install()

    def _on_notice(self, notice: dict[str, Any]) -> None:
        if self._pending is None:
            self._pending = notice
        log.warning(
            "spot: %s notice (action %s, time %s); stopping at the next step",
            notice["reason"],
            notice["action"],
            notice["notice_time"],
        )

    def _on_sigterm(self, signum: int) -> None:
        if self._pending is None:
            self._pending = _notice("sigterm", None, utc_now_iso())
        launcher = self._trainer.strategy.launcher if self._trainer is not None else None
        if launcher is not None and not self._forwarded:
            self._forwarded = True
            launcher.kill(signum)  # as Lightning's notifier: pass it on to spawned ranks

    def _shutdown(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        if self._relay is not None:
            self._relay.restore()


def _notice(reason: str, action: str | None, notice_time: str | None) -> dict[str, Any]:
    now = utc_now_iso()
    return {
        "reason": reason,
        "action": action,
        "notice_time": notice_time or now,
        "seen_at": now,
        "seen_monotonic_s": time.monotonic(),
    }
