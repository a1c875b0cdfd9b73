"""Why the worker stops a job it did not finish: a cancel request, ``max_runtime_s``, the
no-progress watchdog, ``max_interruptions`` (settings: jobs/guards.py; cancel: jobs/cancel.py).

Hooks used by the worker:

- ``before_start``: a received job that is cancelled or already over its runtime is closed
  (CANCELLED / TIMED_OUT) and its message deleted; no trainer starts.
- ``AttemptGuard.poll`` (every supervision tick): a thread of its own reads the job once per
  heartbeat (a cancel request) and copies the trainer's progress onto it (step, epoch, measured steps/s: what
  ``job-status --watch`` shows), compares the runtime with ``max_runtime_s`` and asks the stall
  watchdog; the first reason found is the ``Stop``: SIGTERM now (the trainer writes a durable
  checkpoint and exits 75, as for a Spot notice), SIGKILL after its grace.
- ``AttemptGuard.finish`` (when the trainer has exited): records the outcome of a stopped
  attempt: CANCELLED and TIMED_OUT end the job (message deleted); a stall counts as a failure
  (retried after the backoff, FAILED after ``max_failures``); an interruption that reaches
  ``max_interruptions`` ends the job FAILED. A trainer that finished (exit 0) is COMPLETED
  whatever was asked of it meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from receipt_lightning.errors import EXIT_INTERRUPTED, EXIT_OK
from receipt_lightning.jobs import queues
from receipt_lightning.jobs.guards import GuardSettings, StallWatchdog, runtime_used_s
from receipt_lightning.jobs.records import (
    CANCELLED,
    FAILED,
    RETRYING,
    TERMINAL,
    TIMED_OUT,
    JobStore,
    UpdateBuilder,
)

log = logging.getLogger(__name__)
CANCEL, MAX_RUNTIME, STALLED = "cancel", "max_runtime", "stalled"
MIN_CHECK_S = 1.0  # floor of the cancel-check period (s); production heartbeats are 20 s
PROGRESS_EVERY_S = 2.0  # most frequent progress write onto the job record (s)


@dataclass(frozen=True)
class Stop:
    kind: str  # cancel | max_runtime | stalled
    reason: str  # human-readable, recorded as the job's error / the attempt's stop_reason
    grace_s: float  # seconds from SIGTERM to SIGKILL


def _close_unleased(store: JobStore, job_id: str, status: str, error: str) -> bool:
    """End a job nobody holds; False if a worker holds it or it ended meanwhile."""
    now = time.time()
    b = UpdateBuilder().set("status", status).set("error", error).set("ended_at", now).set("updated_at", now)
    st, owner, expires = b.path("status"), b.path("lease_owner"), b.path("lease_expires")
    closed = {f":t{i}": s for i, s in enumerate(sorted(TERMINAL))}
    cond = (f"NOT {st} IN ({', '.join(closed)}) AND "
            f"(attribute_not_exists({owner}) OR {expires} < :now)")  # fmt: skip
    return store.update(job_id, b, cond, {**closed, ":now": now})


def before_start(worker: Any, m: queues.Received, job: dict[str, Any]) -> str | None:
    """Close a job that must not start (cancelled, over its runtime); None: go on."""
    job_id = job["job_id"]
    cancel = job.get("cancel")
    if isinstance(cancel, dict):
        why = f"cancelled: {cancel.get('reason', 'by user')}"
        if _close_unleased(worker.store, job_id, CANCELLED, why):
            queues.settle("delete", m)
            log.info("job %s: %s (never started this time)", job_id, why)
            return CANCELLED
        return None
    settings = GuardSettings.from_job(job)
    used = runtime_used_s(job)
    if settings.max_runtime_s is not None and used >= settings.max_runtime_s:
        why = f"ran {used:.0f} s over its attempts, max_runtime_s is {settings.max_runtime_s:g}"
        if _close_unleased(worker.store, job_id, TIMED_OUT, why):
            queues.settle("delete", m)
            return TIMED_OUT
    return None


class AttemptGuard:
    """Enforces a job's guard rails during one attempt (``attempt`` is a jobs.attempt.Attempt)."""

    def __init__(self, attempt: Any, proc: Any):
        self.a = attempt
        self.proc = proc
        self.store: JobStore = attempt.w.store
        self.job_id: str = attempt.msg.job_id
        self.settings = GuardSettings.from_job(attempt.job)
        self.started_at = float(attempt.lease.started_at or time.time())
        # Read through transient errors: one throttled GetItem here would otherwise end an
        # attempt whose trainer has just started (LOST, and the job waits out its lease).
        fresh = attempt.read_job() or attempt.job
        # Runtime of earlier attempts; this one's counts from its start.
        self.runtime_before = runtime_used_s(fresh, now=self.started_at)
        # Seconds between reads of the job record (a cancel request): the heartbeat, at least
        # MIN_CHECK_S; progress is written at most every PROGRESS_EVERY_S (a display only).
        self.check_s = max(float(attempt.opts.heartbeat_s), MIN_CHECK_S)
        self._next_progress = 0.0
        self.watchdog = StallWatchdog(proc.run_dir, self.settings.stall_timeout_s, time.time())
        self.stop: Stop | None = None
        self._last_progress: dict[str, Any] = {}
        # The record is read and written on a thread of its own, so a slow DynamoDB call never
        # delays the supervision loop (a Spot notice must reach the trainer at once).
        self._record_stop: Stop | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._check_loop, name="attempt-guard", daemon=True)
        self._thread.start()

    def _check_loop(self) -> None:
        while not self._closed.wait(self.check_s):
            found = self._check_record()
            if found is not None:
                self._record_stop = found
                return

    def close(self) -> None:
        """Stop reading the record (the attempt is over)."""
        self._closed.set()

    def runtime_s(self, now_wall: float | None = None) -> float:
        return self.runtime_before + max(
            0.0, (time.time() if now_wall is None else now_wall) - self.started_at
        )

    def poll(self, now: float) -> Stop | None:
        """A reason to stop the trainer now, or None. ``now`` is ``time.monotonic()``."""
        if self.stop is not None:
            return None
        stalled = self.watchdog.poll(time.time())
        stop = self._record_stop
        limit = self.settings.max_runtime_s
        if stop is None and limit is not None and self.runtime_s() > limit:
            stop = Stop(MAX_RUNTIME, f"max_runtime_s {limit:g} reached ({self.runtime_s():.0f} s over its attempts)",
                        self.a.opts.stop_grace_s)  # fmt: skip
        if stop is None and stalled:
            stop = Stop(STALLED, f"stalled: no new training step for {self.settings.stall_timeout_s:g} s",
                        self.settings.stall_grace_s)  # fmt: skip
        if stop is not None:
            self.stop = stop
            log.warning("job %s: stopping the trainer: %s", self.job_id, stop.reason)
        return stop

    def _check_record(self) -> Stop | None:
        """One read (a cancel request) and, on new progress, one fenced write of it."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            job = self.store.get(self.job_id) or {}
            progress = self.watchdog.summary()
            if progress and progress != self._last_progress and time.monotonic() >= self._next_progress:
                self._next_progress = time.monotonic() + PROGRESS_EVERY_S
                self._last_progress = progress
                b = UpdateBuilder().set("progress", {**progress, "attempt": self.a.lease.attempt})
                owner, attempt = b.path("lease_owner"), b.path("attempt")
                self.store.update(self.job_id, b, f"{owner} = :c0 AND {attempt} = :c1",
                                  {":c0": self.a.lease.holder.worker_id, ":c1": self.a.lease.attempt})  # fmt: skip
        except (BotoCoreError, ClientError) as err:
            # The lease renewal decides whether this worker may go on; a missed look is retried
            # at the next heartbeat.
            log.warning("job %s: guard check failed: %s", self.job_id, err)
            return None
        cancel = job.get("cancel")
        if isinstance(cancel, dict):
            return Stop(CANCEL, f"cancelled: {cancel.get('reason', 'by user')}", self.a.opts.stop_grace_s)
        return None

    def finish(
        self, rc: int, summary: dict[str, Any], fields: dict[str, Any], job_fields: dict[str, Any]
    ) -> str | None:
        """Record a stopped attempt; None: not stopped by a guard, the worker's usual path."""
        self.close()
        if rc == EXIT_OK:
            return None
        stop = self.stop
        if stop is None or stop.kind != CANCEL:
            job = self.a.read_job() or {}
            if isinstance(job.get("cancel"), dict) and (stop is None or stop.kind != STALLED):
                # Asked while the trainer was stopping for another reason: the user's wins.
                stop = Stop(CANCEL, f"cancelled: {job['cancel'].get('reason', 'by user')}", 0.0)
        durable = rc == EXIT_INTERRUPTED
        if stop is not None:
            fields["stop_reason"] = stop.reason
        if stop is not None and stop.kind in (CANCEL, MAX_RUNTIME):
            status = CANCELLED if stop.kind == CANCEL else TIMED_OUT
            job_fields.update(error=stop.reason, ended_at=time.time())
            if summary.get("last_checkpoint"):
                job_fields["checkpoint"] = summary["last_checkpoint"]
            if not durable:
                fields["note"] = f"trainer exited {rc}, not 75: its newest checkpoint may be older"
            if not self.a.release(status, status, job_fields, fields):
                return "LEASE_LOST"
            queues.settle("delete", self.a.m)
            return status
        if stop is not None and stop.kind == STALLED:
            return self._failed_attempt(stop.reason, rc, fields, job_fields)
        if durable or self.proc.stop_requested:
            limit = self.settings.max_interruptions
            count = int(self.a.job.get("interruptions", 0)) + 1
            if limit is not None and count >= limit:
                why = f"interrupted {count} times, max_interruptions is {limit}"
                job_fields.update(interruptions=count, error=why, ended_at=time.time(), dead_lettered=True)
                if not self.a.release(FAILED, "INTERRUPTED", job_fields, fields):
                    return "LEASE_LOST"
                self.a.dead_letter(why)
                return FAILED
        return None

    def _failed_attempt(
        self, reason: str, rc: int, fields: dict[str, Any], job_fields: dict[str, Any]
    ) -> str:
        """A stalled attempt counts as a failure: retried after the backoff, FAILED at max_failures."""
        opts = self.a.opts
        fields["reason"] = "stalled"
        failures = int(self.a.job.get("failures", 0)) + 1
        job_fields.update(error=f"{reason} (trainer exit {rc})", failures=failures)
        if failures >= opts.max_failures:
            job_fields.update(dead_lettered=True, ended_at=time.time())
            if not self.a.release(FAILED, FAILED, job_fields, fields):
                return "LEASE_LOST"
            self.a.dead_letter(f"failed {failures} times: {reason}")
            return FAILED
        delay = opts.backoff_s(failures)
        job_fields["retry_at"] = time.time() + delay
        if not self.a.release(RETRYING, FAILED, job_fields, fields):
            return "LEASE_LOST"
        queues.settle("hide", self.a.m, delay)
        return RETRYING
