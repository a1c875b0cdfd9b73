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
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from receipt_lightning.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from receipt_lightning.jobs import queues
from receipt_lightning.jobs.leases import JobLease
from receipt_lightning.jobs.messages import JobMessage
from receipt_lightning.jobs.queues import Received
from receipt_lightning.jobs.records import COMPLETED, FAILED, INTERRUPTED, RETRYING
from receipt_lightning.jobs.trainer_process import ATTEMPT_ENV, JOB_ID_ENV, TrainerProcess
from receipt_lightning.jobs.transient import is_transient, retry_transient
from receipt_lightning.runs import checkpoint_step

log = logging.getLogger(__name__)
T = TypeVar("T")
EXIT_FATAL_CODES = (EXIT_USAGE, 3)  # usage error, receipt_lightning.errors.EXIT_FATAL
LEASE_EXPIRED = "LEASE_EXPIRED"  # the local deadline passed without a renewal: trainer group killed
LEASE_LOST = "LEASE_LOST"  # another attempt took the job over: nothing more is written


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
        self.replaced = False  # the received message was replaced by a fresh copy (visibility cap)

    def run(self, args: list[str]) -> str:
        """Train and record; returns the outcome."""
        run_dir = self.opts.root / "runs" / self.msg.job_id
        env = self.w.trainer_env()
        env.update({ATTEMPT_ENV: str(self.lease.attempt or 0), JOB_ID_ENV: self.msg.job_id})
        proc = TrainerProcess(self.w.trainer_cmd, args, run_dir, self.lease.attempt or 0, env)
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
        except Exception as err:  # noqa: BLE001 - any error of one attempt ends it with an outcome
            if is_transient(err):
                raise  # the worker loop logs it; the lease runs out and the job is retried (LOST)
            log.exception("job %s attempt %s: worker error", self.msg.job_id, self.lease.attempt)
            return self._worker_error(err)
        finally:
            # An error must never leave a trainer, or anything it started, running without a
            # lease: the whole process group goes, whatever the outcome.
            if proc.proc is not None:
                if proc.proc.poll() is None:
                    proc.kill()
                proc.kill_group()
            if self.guard is not None:
                self.guard.close()
            if shipper is not None:
                shipper.close()
            if scale_in is not None:
                scale_in.protect(False)

    def _supervise(self, proc: TrainerProcess) -> str:
        next_beat = time.monotonic() + self.opts.heartbeat_s
        # Local deadline: the lease expiry as this worker last extended it, minus a margin. Past
        # it another worker may take the job, so the trainer must be gone by then even if AWS
        # never answers again.
        acquired = self.lease.started_at or time.time()
        deadline = time.monotonic() + (acquired + self.opts.lease_ttl_s - time.time()) - self.opts.lease_margin_s()
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
            if now >= deadline:
                log.error(
                    "job %s: lease not renewed before its local deadline (AWS unreachable); "
                    "killing the trainer's process group",
                    self.msg.job_id,
                )
                proc.kill()
                return LEASE_EXPIRED
            stop = self.guard.poll(now) if self.guard is not None and proc.stop_requested is None else None
            if stop is not None:  # a guard rail (jobs/stops.py): SIGTERM now, SIGKILL after its grace
                proc.request_stop(stop.reason)
                kill_at = now + stop.grace_s
            if now >= next_beat:
                started = time.monotonic()
                try:
                    held = self.lease.renew()
                except Exception as err:  # noqa: BLE001 - only transient AWS errors are tolerated
                    if not is_transient(err):
                        raise
                    # One blip must not kill a healthy trainer: retry soon, until the deadline.
                    log.warning("job %s: lease renewal failed (%s: %s); retrying until the local "
                                "deadline", self.msg.job_id, type(err).__name__, err)  # fmt: skip
                    next_beat = time.monotonic() + min(self.opts.heartbeat_s, 1.0)
                    continue
                if not held:
                    log.error("job %s: lease lost (taken over); killing the trainer", self.msg.job_id)
                    proc.kill()
                    return LEASE_LOST
                deadline = started + self.opts.lease_ttl_s - self.opts.lease_margin_s()
                next_beat = time.monotonic() + self.opts.heartbeat_s
                try:
                    self._keep_message()
                except Exception as err:  # noqa: BLE001 - only transient AWS errors are tolerated
                    if not is_transient(err):
                        raise
                    log.warning("job %s: keeping the message failed (%s); next beat retries",
                                self.msg.job_id, type(err).__name__)  # fmt: skip
                self.w.beat("draining" if self.w.watch.drain.is_set() else "busy", self.msg.job_id)
        return self.finish(proc, rc)

    def _keep_message(self) -> None:
        """Keep the job's message hidden while the trainer runs. SQS caps a received message's
        total visibility (12 h): near that cap the message is replaced by a fresh copy whose id
        becomes the lease's message id (see ``Worker._leased_elsewhere``)."""
        if self.replaced:
            return
        elapsed = time.monotonic() - self.m.received_at
        left = self.opts.visibility_cap_s - elapsed
        if left > self.opts.lease_ttl_s + self.opts.heartbeat_s:
            queues.settle("hide", self.m, self.opts.lease_ttl_s)
            return
        delivery = self._next_delivery()
        fresh = replace(self.msg, delivery=delivery)
        message_id = queues.send(self.m.queue_url, fresh)
        if self.lease.update({"lease_message_id": message_id, "delivery": delivery}):
            self.job["delivery"] = delivery
            queues.settle("delete", self.m)
            self.replaced = True
            log.info("job %s: message replaced by a fresh copy %s before the visibility cap",
                     self.msg.job_id, message_id)  # fmt: skip

    def _next_delivery(self) -> int:
        """The next delivery number, from the record as it is now: idle workers may have
        replaced the job's message meanwhile, and a reused number would be deduplicated away."""
        now = self.read_job() or self.job
        return max(int(now.get("delivery", 1)), int(self.job.get("delivery", 1)), self.msg.delivery) + 1

    def release(self, status: str, outcome: str, job_fields: dict[str, Any], fields: dict[str, Any]) -> bool:
        """End the attempt with ``outcome`` (the trainer has exited); False if fenced out."""
        return self.lease.release_durably(status, outcome, job_fields, fields, self.opts.outcome_patience_s())

    def patiently(self, call: Callable[[], T], what: str) -> T:
        """``call()`` retried through transient AWS errors while the outcome is being recorded."""
        return retry_transient(call, what, self.opts.outcome_patience_s())

    def read_job(self) -> dict[str, Any] | None:
        """The job record as it is now (a consistent read), retried through transient errors."""
        return self.patiently(lambda: self.w.store.get(self.msg.job_id), f"job {self.msg.job_id}: reading its record")

    def dead_letter(self, reason: str) -> None:
        """Move the job's message to the dead-letter queue (a FIFO copy is deduplicated by the
        message id, so a second try cannot duplicate it)."""
        self.patiently(lambda: queues.dead_letter(self.w.opts.dlq_url, self.m, reason, self.msg.job_id),
                       f"job {self.msg.job_id}: dead-lettering its message")  # fmt: skip

    def _worker_error(self, err: BaseException) -> str:
        """End the attempt after an error of the worker itself (not the trainer): counted as a
        failure, retried after a backoff, FAILED and dead-lettered after ``max_failures``. Only
        plain strings and integers are written, so this record cannot fail the way the first did."""
        failures = int(self.job.get("failures", 0)) + 1
        error = f"worker error while running the attempt: {type(err).__name__}"
        job_fields: dict[str, Any] = {"error": error, "failures": failures}
        fields = {"error": error}
        if failures >= self.opts.max_failures:
            job_fields.update(dead_lettered=True, ended_at=time.time())
            if not self.release(FAILED, "FAILED", job_fields, fields):
                return LEASE_LOST
            self.dead_letter(f"failed {failures} times: {error}")
            return FAILED
        delay = self.opts.backoff_s(failures)
        job_fields["retry_at"] = time.time() + delay
        if not self.release(RETRYING, "FAILED", job_fields, fields):
            return LEASE_LOST
        queues.settle("hide", self.m, delay)  # a replaced message waits out retry_at instead
        return RETRYING

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
            if not self.release(FAILED, FAILED, job_fields, fields):
                return LEASE_LOST  # fenced out (the trainer may have stopped for that): the new owner decides
            self.dead_letter(f"{why}: {error}")
            return FAILED
        delay = self.opts.backoff_s(failures)
        job_fields["retry_at"] = time.time() + delay
        if not self.release(RETRYING, FAILED, job_fields, fields):
            return LEASE_LOST
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
        if not self.release(
            COMPLETED, COMPLETED, {k: v for k, v in job_fields.items() if v is not None}, fields
        ):
            return LEASE_LOST
        queues.settle("delete", self.m)
        return COMPLETED

    def _interrupted(self, proc: TrainerProcess, fields: dict[str, Any], job_fields: dict[str, Any]) -> str:
        delivery = self._next_delivery()
        job_fields.update(delivery=delivery, interruptions=int(self.job.get("interruptions", 0)) + 1)
        if proc.stop_requested:
            fields["stop_reason"] = proc.stop_requested
        if not self.release(INTERRUPTED, INTERRUPTED, job_fields, fields):
            return LEASE_LOST
        # Released first, then re-sent, then the old message deleted: a crash in between leaves
        # the old message, which reappears after its visibility timeout and resumes the job.
        # A FIFO send carries a deduplication id (job, delivery): trying it again cannot duplicate it.
        fresh = replace(self.msg, delivery=delivery)
        self.patiently(lambda: queues.send(self.m.queue_url, fresh), f"job {self.msg.job_id}: re-sending its message")
        queues.settle("delete", self.m)
        return INTERRUPTED
