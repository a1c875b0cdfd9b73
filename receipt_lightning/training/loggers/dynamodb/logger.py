"""``DynamoDBLogger``: a Lightning logger that records a run in the metrics table.

Writes hyperparameters, every logged metric, the run's status record and its log events (started,
resumed from step N, checkpoint saved, interrupted, finished, failed, and whatever ``log_event``
is given) under one ``run_id``; item layout in ``receipt_lightning.training.loggers.dynamodb.items``.

``log_metrics`` only buffers: a ``DynamoDBBatchWriter`` thread writes. ``flush`` (called after every
checkpoint and at ``finalize``) blocks until all is written and re-raises a stored write error.
A later attempt with the same ``run_id`` continues the run: its attempt number goes up, and points
of replayed steps overwrite their own keys, so the series stays one, without gaps or duplicates.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from argparse import Namespace
from collections.abc import Callable, Mapping
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.callbacks.model_checkpoint import ModelCheckpoint
from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities.rank_zero import rank_zero_only, rank_zero_warn
from typing_extensions import override

from receipt_lightning.errors import InputError, ReceiptLightningError
from receipt_lightning.runs import RunStatus
from receipt_lightning.training.lightning_compat import (
    add_prefix,
    convert_params,
    last_saved_path,
    last_saved_step,
)
from receipt_lightning.training.loggers.dynamodb import items
from receipt_lightning.training.loggers.dynamodb import run_record as run
from receipt_lightning.training.loggers.dynamodb.writer import DynamoDBBatchWriter, default_client

log = logging.getLogger(__name__)

MAX_HPARAMS_JSON_CHARS = 300_000


class DynamoDBLogger(Logger):
    """Log a Lightning run to DynamoDB.

    Args:
        table: metrics table name (``aws.metrics_table`` / ``RL_METRICS_TABLE``).
        run_id: the run (== job id); every attempt of one job uses the same one.
        prefix: prepended to metric names, joined with ``-`` as ``CSVLogger`` does.
        flush_interval_s: longest a point waits in memory while fewer than 25 are buffered.
        max_retry_time_s: per batch, how long throttling is retried before giving up.
        flush_timeout_s: how long ``flush`` at a checkpoint or ``finalize`` may block.
        client_factory: makes the DynamoDB client (tests inject faults through it).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        table: str,
        run_id: str,
        *,
        prefix: str = "",
        flush_interval_s: float = 2.0,
        max_retry_time_s: float = 120.0,
        flush_timeout_s: float | None = 300.0,
        client_factory: Callable[[], Any] = default_client,
    ) -> None:
        super().__init__()
        if not table:
            raise InputError("metrics table name is empty (set aws.metrics_table or RL_METRICS_TABLE)")
        if not run_id:
            raise InputError("run_id is empty (logger.run_id)")
        self._table = str(table)
        self._run_id = str(run_id)
        self._prefix = prefix
        self._flush_timeout_s = flush_timeout_s
        self._client_factory = client_factory
        self._writer_kwargs = {"flush_interval_s": flush_interval_s, "max_retry_time_s": max_retry_time_s}
        self._experiment: DynamoDBBatchWriter | None = None
        self._run: dict[str, Any] = {}
        self._metric_names: set[str] = set()
        self._hparams: dict[str, Any] = {}
        # Events may come from another thread (a Spot-notice watcher): the first use opens the
        # attempt under a lock (re-entrant: opening logs an event), and next() on a count is
        # atomic, so no two events share a key.
        self._open_lock = threading.RLock()
        self._seq = itertools.count(1)
        self._calls = 0
        self._terminal_recorded = False  # a terminal status set by record_status(); finalize keeps it

    @property
    @override
    def name(self) -> str:
        return self._table

    @property
    @override
    def version(self) -> str:
        return self._run_id

    @property
    @rank_zero_experiment
    def experiment(self) -> DynamoDBBatchWriter:
        """The batch writer; created on first use, which also opens this attempt of the run."""
        if self._experiment is None:  # checked again under the lock: one thread opens
            with self._open_lock:
                if self._experiment is None:
                    self._open()
        return self._experiment

    def _open(self) -> None:
        # Read first: a missing table fails here, before any writer exists to hide it.
        previous = run.read_run_record(self._client_factory(), self._table, self._run_id)
        self._experiment = DynamoDBBatchWriter(
            self._table, client_factory=self._client_factory, **self._writer_kwargs
        )
        self._open_attempt(previous)

    @override
    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace | None, *args: Any, **kwargs: Any) -> None:
        plain = items.to_plain(convert_params(params))
        self._hparams.update(plain if isinstance(plain, dict) else {"params": plain})
        text = json.dumps(self._hparams, default=str)
        stored: Any = self._hparams
        if len(text) > MAX_HPARAMS_JSON_CHARS:  # would exceed DynamoDB's 400 KB item limit
            stored = {"_truncated_json": text[:MAX_HPARAMS_JSON_CHARS]}
        self.experiment.put(
            {
                "run_id": self._run_id,
                "sk": items.HPARAMS_SK,
                "params": items.to_dynamo(stored),
                "updated_at": run.now_s(),
            }
        )

    @override
    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        writer = self.experiment
        epoch = metrics.get("epoch")
        metrics = add_prefix(
            {k: v for k, v in metrics.items() if k != "epoch"}, self._prefix, self.LOGGER_JOIN_CHAR
        )
        if step is None:
            step = self._calls  # as CSVLogger: one step per call when Lightning gives none
        self._calls += 1
        wall = time.time()
        epoch_int = int(epoch) if epoch is not None else None
        new_name = False
        for name, value in metrics.items():
            number = run.scalar(value)
            if number is None:
                rank_zero_warn(
                    f"DynamoDBLogger: metric {name!r} is not a number ({type(value).__name__}); skipped"
                )
                continue
            writer.put(items.metric_item(self._run_id, name, number, int(step), epoch_int, wall))
            if name not in self._metric_names:
                self._metric_names.add(name)
                new_name = True
        self._run["last_step"] = int(step)
        if new_name:  # the run record lists metric names so readers find the series
            self._put_run()

    @override
    @rank_zero_only
    def save(self) -> None:
        # Lightning calls save() after every log_metrics: writing is the thread's job, so this
        # must not block; durability points are flush(), after_save_checkpoint() and finalize().
        super().save()

    @override
    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        step = last_saved_step(checkpoint_callback)
        path = last_saved_path(checkpoint_callback) or checkpoint_callback.last_model_path
        self._run["last_checkpoint_step"] = step
        self._run["last_checkpoint_path"] = str(path)
        self.log_event("checkpoint", f"checkpoint saved at step {step}", step=step, path=str(path))
        self.flush(self._flush_timeout_s)

    @rank_zero_only
    def log_event(self, kind: str, message: str, level: str = "INFO", **attrs: Any) -> None:
        """Record one log event (e.g. kind "warning", level "WARNING"); never blocks."""
        self._event(kind, message, level, attrs)

    def _event(self, kind: str, message: str, level: str, attrs: Mapping[str, Any]) -> None:
        attrs = items.to_dynamo(items.to_plain(dict(attrs)))
        self.experiment.put(items.event_item(self._run_id, next(self._seq), level, kind, message, attrs))

    @rank_zero_only
    def record_status(self, status: RunStatus | str, **detail: Any) -> None:
        """Set the run's status (a ``RunStatus``: RUNNING, COMPLETED, FAILED, INTERRUPTED, in any
        case) and log it as an event. A terminal status recorded here is kept by a later
        ``finalize``."""
        try:
            status = RunStatus(str(status).upper())
        except ValueError:
            choices = ", ".join(s.value for s in RunStatus)
            raise InputError(f"run status {str(status)!r} is not one of {choices}") from None
        self.experiment  # noqa: B018 - opens the attempt first, so its RUNNING does not overwrite this
        self._terminal_recorded = status != RunStatus.RUNNING
        self._set_status(status, detail)

    @rank_zero_only
    def flush(self, timeout_s: float | None = None) -> None:
        """Block until everything logged so far is written; re-raise a stored write error."""
        if self._experiment is None:
            return
        self._put_run()
        self._experiment.flush(timeout_s)

    @override
    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._experiment is None:
            return  # never used in this process (as CSVLogger)
        if not self._terminal_recorded:
            self._set_status(RunStatus.from_lightning(status), {"lightning_status": status})
        errors: list[ReceiptLightningError] = []
        for step in (
            lambda: self.flush(self._flush_timeout_s),
            lambda: self._experiment.close(timeout_s=5.0),
        ):
            try:
                step()
            except ReceiptLightningError as err:  # kept; the thread is stopped either way
                errors.append(err)
        if not errors:
            return
        if status != "failed":
            raise errors[0]
        # Lightning calls finalize("failed") while the training's own exception (e.g.
        # JobInterrupted, which decides the exit code) propagates; raising here would replace it,
        # so the write error is logged instead.
        log.error("DynamoDBLogger: metrics of run %s not all written: %s", self._run_id, errors[0])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # A thread and locks do not pickle; a copy opens its own attempt on first use.
        for name in ("_experiment", "_open_lock", "_seq"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._experiment = None
        self._open_lock = threading.RLock()
        self._seq = itertools.count(1)

    def _open_attempt(self, previous: dict[str, Any] | None) -> None:
        self._metric_names = set((previous or {}).get("metric_names") or [])
        self._run = run.next_attempt(previous)
        self._set_status(RunStatus.RUNNING, {}, event=False)
        kind, message, attrs = run.opening_event(self._run_id, previous, self._run["attempt"])
        self._event(kind, message, "INFO", attrs)

    def _set_status(self, status: RunStatus, detail: Mapping[str, Any], event: bool = True) -> None:
        self._run["status"] = status.value  # stored as the plain string
        self._run["detail"] = items.to_plain(dict(detail))
        self._put_run()
        if event:
            kind, level = run.STATUS_EVENT[status]
            text = ", ".join(f"{k}={v}" for k, v in self._run["detail"].items())
            self._event(kind, kind + (f": {text}" if text else ""), level, detail)

    def _put_run(self) -> None:
        record = {k: v for k, v in self._run.items() if v is not None}
        record.update(run_id=self._run_id, sk=items.RUN_SK, updated_at=run.now_s())
        record["metric_names"] = sorted(self._metric_names)
        self.experiment.put(items.to_dynamo(record))
