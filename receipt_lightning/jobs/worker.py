"""The worker loop: take messages in priority order, admit, lease, train, record.

Per message: decode (poison -> dead-letter now, reason on the job) -> the job record decides:
finished -> delete the message; leased by a live worker -> a duplicate copy is deleted, the
holder's own redelivered message is hidden until the lease can have expired; otherwise admit the
overrides (poison -> dead-letter), take the lease (a conditional write: at most one winner) and run
one attempt. A message close to the queue's maxReceiveCount is replaced by a fresh copy first.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import replace

from receipt_lightning.jobs import queues
from receipt_lightning.jobs.admission import admit
from receipt_lightning.jobs.attempt import Attempt
from receipt_lightning.jobs.identity import detect_holder
from receipt_lightning.jobs.leases import JobLease, lease_is_live
from receipt_lightning.jobs.messages import JobMessage, PoisonMessage, decode
from receipt_lightning.jobs.records import REJECTED, RETRYING, TERMINAL, JobStore
from receipt_lightning.jobs.registry import InstanceRegistry
from receipt_lightning.jobs.spot_watch import SpotWatch
from receipt_lightning.jobs.trainer_process import trainer_command
from receipt_lightning.jobs.worker_options import WorkerOptions

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, opts: WorkerOptions):
        self.opts = opts
        self.store = JobStore(opts.jobs_table)
        self.lease_store = JobStore(opts.jobs_table, call_timeout_s=opts.lease_call_timeout_s)
        self.queues = queues.PriorityQueues(opts.queue_urls)
        self.trainer_cmd = trainer_command(opts.trainer_cmd)
        self.holder = detect_holder(opts.metadata_endpoint, opts.instance_id)
        self.registry = InstanceRegistry(opts.instances_table, self.holder, opts.heartbeat_s)
        self.watch = SpotWatch(opts.metadata_endpoint, opts.spot_poll_s)
        self.jobs_run = 0
        self.scale_in = None  # jobs/scale_in.py ScaleInWatch while run() serves
        self._next_beat = 0.0
        self._refresh_at: int | None = None  # receive count at which a message is re-sent fresh

    def trainer_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(RL_SHARED_ROOT=str(self.opts.root), RL_JOBS_TABLE=self.opts.jobs_table)
        if self.opts.metrics_table:
            env["RL_METRICS_TABLE"] = self.opts.metrics_table
        env.update(self.opts.env)
        return env

    def beat(self, state: str, job_id: str | None = None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self._next_beat = time.monotonic() + self.opts.heartbeat_s
        try:
            self.registry.heartbeat(state, job_id, self.watch.notice)
        except (BotoCoreError, ClientError) as err:
            # The registry is for humans and dashboards; the lease alone guards the job.
            log.warning("registry heartbeat failed: %s", err)

    def _on_signal(self, signum: int, _frame) -> None:
        self.watch.trigger(f"signal {signal.Signals(signum).name}")

    def run(self) -> int:
        """Serve until drained, ``max_jobs`` runs, or ``idle_timeout_s`` without messages."""
        from botocore.exceptions import BotoCoreError, ClientError

        from receipt_lightning.errors import RetryableError

        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        max_receive = self.queues.max_receive_count()
        self._refresh_at = max(2, max_receive - 1) if max_receive else None
        if not self.opts.dlq_url:
            log.warning(
                "no dead-letter queue (--dlq-url, RL_DLQ_URL, --stack, or a redrive policy on the job "
                "queues): rejected and finally failed jobs are recorded on the job and their messages deleted"
            )
        self.watch.start()
        from receipt_lightning.jobs.scale_in import ScaleInWatch

        self.scale_in = ScaleInWatch.for_worker(self).start()  # scale-in drains like a Spot notice
        self.beat("idle")
        log.info("worker %s (%s, %s) polling %s", self.holder.worker_id, self.holder.instance_type,
                 self.holder.lifecycle, ", ".join(p for p, _ in self.queues.urls))  # fmt: skip
        last_work = time.monotonic()
        try:
            while not self.watch.drain.is_set():
                if self.opts.max_jobs is not None and self.jobs_run >= self.opts.max_jobs:
                    break
                if (
                    self.opts.idle_timeout_s is not None
                    and time.monotonic() - last_work > self.opts.idle_timeout_s
                ):
                    log.info("idle for %.0f s: exiting", self.opts.idle_timeout_s)
                    break
                if time.monotonic() >= self._next_beat:
                    self.beat("idle")
                try:
                    m = self.queues.receive(self.opts.poll_wait_s, self.opts.lease_ttl_s)
                except (BotoCoreError, ClientError) as err:
                    # SQS unreachable or throttling: nothing was received, poll again shortly.
                    log.warning("receive failed: %s: %s; polling again", type(err).__name__, err)
                    time.sleep(1.0)
                    continue
                if m is None:
                    continue
                try:
                    self.handle(m)
                except (BotoCoreError, ClientError, RetryableError) as err:
                    # AWS hiccup mid-message: the message reappears after its visibility timeout
                    # and the job record's conditions keep the retry safe.
                    log.error("message %s: %s: %s; continuing", m.message_id, type(err).__name__, err)
                    time.sleep(1.0)
                except Exception as err:  # noqa: BLE001 - one message must never end the worker
                    # Not transient and raised before an attempt began (an attempt ends itself
                    # with an outcome): the message comes back after a backoff, and the queue's
                    # redrive policy dead-letters it if this keeps happening.
                    log.exception("message %s: worker error %s; continuing", m.message_id, type(err).__name__)
                    queues.settle("hide", m, self.opts.backoff_s(m.receive_count))
                last_work = time.monotonic()
        finally:
            self.watch.stop()
            self.scale_in.stop()
            try:
                self.registry.deregister()
            except (BotoCoreError, ClientError) as err:
                # The item goes stale and the registry reports it so (for humans only).
                log.warning("registry deregistration failed: %s", err)
            self.scale_in.complete()  # drained: let a scaled-in instance go now
        return 0

    def handle(self, m: queues.Received) -> str:
        """Deal with one message; returns what happened (for logs and tests)."""
        try:
            msg = decode(m.body, m.group_id)
        except PoisonMessage as err:
            return self.poison(m, err.reason, err.job_id, own=False)
        job = self.store.get(msg.job_id)
        if job is None:
            return self.poison(
                m, f"no job record for {msg.job_id!r} (submit writes it first)", msg.job_id, own=True
            )
        if job.get("status") in TERMINAL:
            queues.delete(m)
            return "ALREADY_DONE"
        if lease_is_live(job):
            return self._leased_elsewhere(m, job)
        from receipt_lightning.jobs.stops import before_start

        closed = before_start(self, m, job)  # cancelled or over max_runtime: never started
        if closed is not None:
            return closed
        wait = float(job.get("retry_at", 0) or 0) - time.time()
        if job.get("status") == RETRYING and wait > 1:
            # Backing off after a failure. The failed attempt hid its message for the backoff, but
            # a message it had replaced (visibility cap) it could not hide: the record decides.
            queues.settle("hide", m, wait)
            return "BACKING_OFF"
        mismatch = [k for k in ("overrides", "dataset", "data_format") if getattr(msg, k) != job.get(k)]
        if mismatch:
            # The record is the source of truth: a message cannot change what a job runs.
            why = f"message {', '.join(mismatch)} differ from the job record"
            return self.poison(m, why, msg.job_id, own=False)
        try:
            args = admit(msg, self.opts.root, compose_check=self.opts.compose_check,
                         extra_keys=self.opts.extra_keys, worker_args=self._worker_args())  # fmt: skip
        except PoisonMessage as err:
            return self.poison(m, err.reason, msg.job_id, own=True)
        if self._refresh_at and m.receive_count >= self._refresh_at:
            # Healthy but received often (lost workers, retries): a fresh copy starts at count 0,
            # so SQS's redrive never dead-letters a job this worker would still run.
            self._resend(m, msg, job)
            return "REFRESHED"
        lease = JobLease(self.lease_store, msg.job_id, self.holder, self.opts.lease_ttl_s)
        if not lease.acquire(job, m.message_id):
            now = self.store.get(msg.job_id) or job
            if now.get("status") in TERMINAL or lease_is_live(now):
                return self._leased_elsewhere(m, now)
            # The record changed under us (a release, a takeover): look again soon.
            queues.settle("hide", m, 1)
            return "LEASE_RACE"
        self.jobs_run += 1
        self.beat("busy", msg.job_id)
        outcome = Attempt(self, m, msg, job, lease).run(args)
        log.info("job %s attempt %s: %s", msg.job_id, lease.attempt, outcome)
        self.beat("draining" if self.watch.drain.is_set() else "idle")
        return outcome

    def _worker_args(self) -> list[str]:
        return (
            [f"spot.metadata_endpoint={self.opts.metadata_endpoint}"] if self.opts.metadata_endpoint else []
        )

    def _leased_elsewhere(self, m: queues.Received, job: dict) -> str:
        if job.get("status") in TERMINAL:
            queues.delete(m)
            return "ALREADY_DONE"
        if job.get("lease_message_id") == m.message_id:
            # The holder's own message came back: it may be dead. Hide it until the lease can
            # have expired, then whoever receives it takes over.
            if self._refresh_at and m.receive_count >= self._refresh_at:
                return self._refresh_holder_message(m, job)
            wait = float(job.get("lease_expires", 0)) - time.time() + 1
            queues.set_visibility(m, max(1.0, wait))
            return "HOLDER_MESSAGE_DEFERRED"
        # Another copy of a job whose holder still has its own message: drop the copy.
        queues.delete(m)
        return "DUPLICATE_DROPPED"

    def _refresh_holder_message(self, m: queues.Received, job: dict) -> str:
        """A running job's message deferred so often (a job longer than SQS's visibility cap,
        idle workers receiving it every lease period) that the redrive policy would soon move it
        to the dead-letter queue: swap it for a fresh copy (receive count 0) and make that copy
        the lease's message, on condition the record still names this one."""
        from receipt_lightning.jobs.records import UpdateBuilder

        msg = decode(m.body, m.group_id)
        delivery = int(job.get("delivery", msg.delivery)) + 1
        fresh_id = queues.send(m.queue_url, replace(msg, delivery=delivery))
        b = UpdateBuilder().set("lease_message_id", fresh_id).set("delivery", delivery)
        if self.store.update(msg.job_id, b, f"{b.path('lease_message_id')} = :c0", {":c0": m.message_id}):
            queues.delete(m)
            log.info("job %s: holder's message replaced by fresh copy %s", msg.job_id, fresh_id)
            return "HOLDER_MESSAGE_REFRESHED"
        # The record moved on (released, taken over, refreshed by the holder): the new copy is a
        # duplicate the next receiver sorts out; this one is handled like any other delivery.
        queues.settle("hide", m, 1)
        return "LEASE_RACE"

    def _resend(self, m: queues.Received, msg: JobMessage, job: dict) -> None:
        from receipt_lightning.jobs.records import UpdateBuilder

        delivery = int(job.get("delivery", msg.delivery)) + 1
        self.store.update(msg.job_id, UpdateBuilder().set("delivery", delivery))
        queues.send(m.queue_url, replace(msg, delivery=delivery))
        queues.delete(m)

    def poison(self, m: queues.Received, reason: str, job_id: str | None, own: bool) -> str:
        """Dead-letter ``m`` now and record why on the job (``own``: the message is the job's
        own, so a never-started job becomes REJECTED)."""
        from receipt_lightning.jobs.messages import short_reason

        reason = short_reason(reason)
        log.warning("rejected message %s (job %s): %s", m.message_id, job_id or "?", reason)
        if job_id:
            self.store.record_rejection(job_id, reason, mark_rejected=own)
        queues.dead_letter(self.opts.dlq_url, m, reason, job_id)
        return REJECTED
