"""One attempt of one job: run the trainer under a lease, then record the outcome.

Outcomes: exit 0 -> COMPLETED (message deleted); exit 75, or any exit after the worker asked the
trainer to stop -> INTERRUPTED (lease released, a *new* message sent, the old one deleted, so
receive counts never grow on a healthy job); exit 2/3 -> FAILED at once (fatal, dead-lettered);
other exits -> RETRYING after a backoff (the same message made invisible), FAILED and
dead-lettered after ``max_failures``. A lost lease -> the trainer is killed and nothing written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from receipt_lightning.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from receipt_lightning.jobs import queues
from receipt_lightning.jobs.leases import JobLease
from receipt_lightning.jobs.messages import JobMessage
from receipt_lightning.jobs.queues import Received
from receipt_lightning.jobs.records import COMPLETED, FAILED, INTERRUPTED, RETRYING
from receipt_lightning.jobs.trainer_process import TrainerProcess
from receipt_lightning.runs import checkpoint_step

log = logging.getLogger(__name__)
EXIT_FATAL_CODES = (EXIT_USAGE, 3)  # usage error, receipt_lightning.errors.EXIT_FATAL


def resume_step(summary: dict[str, Any]) -> int | None:
    """The global step this attempt resumed from (its summary's resume info or checkpoint name)."""
    info = summary.get("resume") if isinstance(summary.get("resume"), dict) else {}
    for key in ("global_step", "step", "checkpoint_step"):
        if isinstance(info.get(key), int):
            return info[key]
    resumed_from = summary.get("resumed_from")
    return checkpoint_step(resumed_from) if isinstance(resumed_from, str) else None


def steps_lost(previous: dict[str, Any], summary: dict[str, Any]) -> int | None:
    """Steps the previous attempt trained that this one had to redo (None: unknown)."""
    info = summary.get("resume") if isinstance(summary.get("resume"), dict) else {}
    if isinstance(info.get("steps_lost"), int):
        return info["steps_lost"]
    start, reached = resume_step(summary), previous.get("global_step")
    if start is None or not isinstance(reached, int):
        return None
    return max(0, reached - start)


class Attempt:
    """Runs ``args`` for ``msg`` while holding ``lease``; ``worker`` gives options and services."""

    def __init__(self, worker: Any, m: Received, msg: JobMessage, job: dict[str, Any], lease: JobLease):
        self.w, self.m, self.msg, self.job, self.lease = worker, m, msg, job, lease
        self.opts = worker.opts
        self.guard: Any = None  # jobs/stops.py AttemptGuard once the trainer runs

    def run(self, args: list[str]) -> str:
        """Train and record; returns the outcome."""
        run_dir = self.opts.root / "runs" / self.msg.job_id
        proc = TrainerProcess(
            self.w.trainer_cmd, args, run_dir, self.lease.attempt or 0, self.w.trainer_env()
        )
        proc.start()
        log.info("job %s attempt %s: trainer pid %s", self.msg.job_id, self.lease.attempt, proc.proc.pid)
        # Fleet operations (issue 20): cancel, max_runtime, stall watchdog; the log to DynamoDB.
        from receipt_lightning.jobs import logs, stops

        shipper, scale_in = None, getattr(self.w, "scale_in", None)
        try:
            self.guard = stops.AttemptGuard(self, proc)
            shipper = logs.start_shipping(self, proc)
            if scale_in is not None:
                scale_in.protect(True)  # busy: scale in idle workers first (jobs/scale_in.py)
            return self._supervise(proc)
        finally:
            if proc.proc is not None and proc.proc.poll() is None:
                proc.kill()  # an error here must never leave a trainer running without a lease
            if self.guard is not None:
                self.guard.close()
            if shipper is not None:
                shipper.close()
            if scale_in is not None:
                scale_in.protect(False)

    def _supervise(self, proc: TrainerProcess) -> str:
        next_beat = time.monotonic() + self.opts.heartbeat_s
        kill_at: float | None = None
        rc = None
        while rc is None:
            rc = proc.wait(0.2)
            if rc is not None:
                break
            now = time.monotonic()
            if self.w.watch.drain.is_set() and proc.stop_requested is None:
                proc.request_stop(self.w.watch.reason or "drain")
                kill_at = now + self.opts.stop_grace_s
            if kill_at is not None and now > kill_at:
                log.warning(
                    "job %s: trainer ignored SIGTERM for %.0f s; killing",
                    self.msg.job_id,
                    self.opts.stop_grace_s,
                )
                rc = proc.kill()
                break
            stop = self.guard.poll(now) if self.guard is not None and proc.stop_requested is None else None
            if stop is not None:  # a guard rail (jobs/stops.py): SIGTERM now, SIGKILL after its grace
                proc.request_stop(stop.reason)
                kill_at = now + stop.grace_s
            if now >= next_beat:
                next_beat = now + self.opts.heartbeat_s
                if not self.lease.renew():
                    log.error("job %s: lease lost (taken over); killing the trainer", self.msg.job_id)
                    proc.kill()
                    return "LEASE_LOST"
                queues.settle("hide", self.m, self.opts.lease_ttl_s)
                self.w.beat("draining" if self.w.watch.drain.is_set() else "busy", self.msg.job_id)
        return self.finish(proc, rc)

    def finish(self, proc: TrainerProcess, rc: int) -> str:
        summary = proc.summary() or {}
        fields: dict[str, Any] = {"exit_code": rc, "log": str(proc.log_path)}
        job_fields: dict[str, Any] = {}
        if isinstance(summary.get("global_step"), int):
            fields["global_step"] = summary["global_step"]
        start = resume_step(summary) if summary else None
        if start is not None:
            fields["resumed_from_step"] = start
        prev = (self.lease.attempt or 1) - 1
        attempts = self.job.get("attempts") or []
        if summary and prev >= 1 and len(attempts) >= prev:
            lost = steps_lost(attempts[prev - 1], summary)
            if lost is not None:
                job_fields[f"attempts[{prev - 1}].steps_lost"] = lost
        stopped = self.guard.finish(rc, summary, fields, job_fields) if self.guard is not None else None
        if stopped is not None:  # cancelled, timed out, stalled, too many interruptions
            return stopped
        if rc == EXIT_OK:
            return self._completed(summary, fields, job_fields)
        if rc == EXIT_INTERRUPTED or proc.stop_requested:
            return self._interrupted(proc, fields, job_fields)
        tail = proc.log_tail()
        last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "")
        error = f"trainer exited with code {rc}: {last}"[:1000]
        job_fields.update(error=error, traceback_tail=tail)
        failures = int(self.job.get("failures", 0)) + 1
        job_fields["failures"] = failures
        if rc in EXIT_FATAL_CODES or failures >= self.opts.max_failures:
            why = "fatal error (not retried)" if rc in EXIT_FATAL_CODES else f"failed {failures} times"
            job_fields.update(dead_lettered=bool(self.w.opts.dlq_url), ended_at=time.time())
            if self.lease.release(FAILED, FAILED, job_fields, fields):
                queues.dead_letter(self.w.opts.dlq_url, self.m, f"{why}: {error}", self.msg.job_id)
            return FAILED
        delay = self.opts.backoff_s(failures)
        job_fields["retry_at"] = time.time() + delay
        if self.lease.release(RETRYING, FAILED, job_fields, fields):
            queues.settle("hide", self.m, delay)
        return RETRYING

    def _completed(self, summary: dict[str, Any], fields: dict[str, Any], job_fields: dict[str, Any]) -> str:
        job_fields.update(
            ended_at=time.time(),
            final_metrics=summary.get("metrics") or {},
            weights_sha256=summary.get("weights_sha256"),
            global_step=summary.get("global_step"),
            checkpoint=summary.get("last_checkpoint"),
            best_checkpoint=summary.get("best_checkpoint"),
        )
        if self.lease.release(
            COMPLETED, COMPLETED, {k: v for k, v in job_fields.items() if v is not None}, fields
        ):
            queues.settle("delete", self.m)
        return COMPLETED

    def _interrupted(self, proc: TrainerProcess, fields: dict[str, Any], job_fields: dict[str, Any]) -> str:
        delivery = int(self.job.get("delivery", self.msg.delivery)) + 1
        job_fields.update(delivery=delivery, interruptions=int(self.job.get("interruptions", 0)) + 1)
        if proc.stop_requested:
            fields["stop_reason"] = proc.stop_requested
        if not self.lease.release(INTERRUPTED, INTERRUPTED, job_fields, fields):
            return "LEASE_LOST"
        # Released first, then re-sent, then the old message deleted: a crash in between leaves
        # the old message, which reappears after its visibility timeout and resumes the job.
        queues.send(self.m.queue_url, replace(self.msg, delivery=delivery))
        queues.settle("delete", self.m)
        return INTERRUPTED
