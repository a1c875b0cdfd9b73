"""A job lease: who may run a job's trainer now, fenced by the attempt number.

Taking the lease is one conditional write on the job item: it succeeds only if the job is not
finished, nobody holds an unexpired lease, and the attempt number is still the one this worker
read (the fencing token). Every renewal and the release are conditional on (owner, attempt), so a
worker whose lease was taken over can no longer write the job, and it stops its trainer. Each
acquisition appends one entry to ``attempts``: that list is the lease history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from receipt_lightning.jobs.records import CANCEL_REQUESTED, RUNNING, TERMINAL, JobStore, UpdateBuilder
from receipt_lightning.jobs.transient import retry_transient

LOST = "LOST"  # outcome of an attempt whose worker vanished (lease expired while RUNNING)


@dataclass(frozen=True)
class Holder:
    """The worker asking for a lease."""

    worker_id: str  # unique per worker process: "<instance id>/<pid>"
    instance_id: str  # EC2 instance id, or the stable local id
    instance_type: str  # EC2 instance type, or "local"
    lifecycle: str  # "spot" | "on-demand" | "local"


def lease_is_live(job: dict[str, Any], now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return bool(job.get("lease_owner")) and float(job.get("lease_expires", 0)) >= now


class JobLease:
    """One worker's lease on one job (at most one attempt)."""

    def __init__(self, store: JobStore, job_id: str, holder: Holder, ttl_s: float):
        self.store = store
        self.job_id = job_id
        self.holder = holder
        self.ttl_s = ttl_s  # seconds a lease lives without renewal
        self.attempt: int | None = None  # fencing token once acquired
        self.started_at: float | None = None

    def acquire(self, job: dict[str, Any], message_id: str) -> bool:
        """Take the lease for attempt ``job.attempt + 1``; False if anyone else holds it."""
        now = time.time()
        if job.get("status") in TERMINAL | {CANCEL_REQUESTED} or lease_is_live(job, now):
            return False
        prev = int(job.get("attempt", 0))
        b = UpdateBuilder()
        entry = {
            "attempt": prev + 1,
            "worker_id": self.holder.worker_id,
            "instance_id": self.holder.instance_id,
            "instance_type": self.holder.instance_type,
            "lifecycle": self.holder.lifecycle,
            "started_at": now,
            "ended_at": None,
            "outcome": RUNNING,
        }
        b.set("status", RUNNING).set("attempt", prev + 1).set("lease_owner", self.holder.worker_id)
        b.set("lease_expires", now + self.ttl_s).set("lease_message_id", message_id).set("updated_at", now)
        attempts = [dict(a) for a in job.get("attempts") or []]
        if prev and len(attempts) >= prev and attempts[prev - 1].get("outcome") == RUNNING:
            # Its worker vanished without releasing: the trainer died with it (parent-death
            # signal), at the latest when the lease ran out.
            attempts[prev - 1].update(outcome=LOST, ended_at=float(job.get("lease_expires", now)))
        # The whole list is rewritten (DynamoDB refuses overlapping paths in one update); the
        # condition below makes sure nobody changed the item since it was read.
        b.set("attempts", [*attempts, entry])
        attempt, owner, status = (b.path(k) for k in ("attempt", "lease_owner", "status"))
        fence = f"{attempt} = :c0" if prev else f"attribute_not_exists({attempt})"
        if job.get("lease_owner"):
            expires = b.path("lease_expires")
            held = f"{owner} = :c5 AND {expires} = :c6 AND {expires} < :c4"
        else:
            held = f"attribute_not_exists({owner})"
        # Never start a finished job, nor one a user asked to cancel (jobs/cancel.py).
        closed = {f":t{i}": s for i, s in enumerate(sorted(TERMINAL | {CANCEL_REQUESTED}))}
        cond = f"attribute_exists(job_id) AND {fence} AND NOT {status} IN ({', '.join(closed)}) AND {held}"
        values = {**closed, **({":c0": prev} if prev else {})}
        if job.get("lease_owner"):
            values.update({":c4": now, ":c5": job["lease_owner"], ":c6": job.get("lease_expires", 0)})
        ok = self.store.update(self.job_id, b, cond, values)
        if ok:
            self.attempt, self.started_at = prev + 1, now
        return ok

    def _fenced(self, b: UpdateBuilder) -> bool:
        if self.attempt is None:
            return False
        owner, attempt = b.path("lease_owner"), b.path("attempt")
        cond = f"{owner} = :c0 AND {attempt} = :c1"
        return self.store.update(self.job_id, b, cond, {":c0": self.holder.worker_id, ":c1": self.attempt})

    def renew(self, progress: dict[str, Any] | None = None) -> bool:
        """Extend the lease by ``ttl_s``; False means it was lost (stop the trainer)."""
        now = time.time()
        b = UpdateBuilder().set("lease_expires", now + self.ttl_s).set("updated_at", now)
        if progress:
            b.set("progress", progress)
        return self._fenced(b)

    def update(self, values: dict[str, Any]) -> bool:
        """Set ``values`` on the job while this lease holds; False if fenced out."""
        b = UpdateBuilder().set("updated_at", time.time())
        for k, v in values.items():
            b.set(k, v)
        return self._fenced(b)

    def release(
        self, status: str, outcome: str, job_fields: dict[str, Any], attempt_fields: dict[str, Any]
    ) -> bool:
        """End the attempt with ``outcome`` and set the job's ``status``; False if fenced out."""
        if self.attempt is None:
            return False
        now = time.time()
        i = self.attempt - 1
        b = UpdateBuilder().set("status", status).set("lease_expires", 0).set("updated_at", now)
        b.set(f"attempts[{i}].ended_at", now).set(f"attempts[{i}].outcome", outcome)
        for k, v in attempt_fields.items():
            b.set(f"attempts[{i}].{k}", v)
        for k, v in job_fields.items():
            b.set(k, v)
        # The owner is removed in the same fenced write that checks it.
        b.remove("lease_message_id").remove("lease_owner")
        return self._fenced(b)

    def release_durably(
        self,
        status: str,
        outcome: str,
        job_fields: dict[str, Any],
        attempt_fields: dict[str, Any],
        budget_s: float,
    ) -> bool:
        """``release``, tried again through transient AWS errors for up to ``budget_s`` seconds.
        A failed try may have landed with its answer lost; the fence then refuses the next try, and
        the record says whether this attempt already ended with ``outcome``."""
        failed = False

        def once() -> bool:
            nonlocal failed
            try:
                return self.release(status, outcome, job_fields, attempt_fields)
            except Exception:
                failed = True
                raise

        what = f"job {self.job_id}: recording attempt {self.attempt} as {outcome}"
        if retry_transient(once, what, budget_s):
            return True
        if not failed:
            return False
        return self.ended_as(retry_transient(lambda: self.store.get(self.job_id), what, budget_s) or {}, outcome)

    def ended_as(self, job: dict[str, Any], outcome: str) -> bool:
        """Whether ``job`` shows this lease's attempt released with ``outcome``."""
        attempts = job.get("attempts") or []
        if self.attempt is None or len(attempts) < self.attempt or job.get("lease_owner"):
            return False
        return int(job.get("attempt", 0)) == self.attempt and attempts[self.attempt - 1].get("outcome") == outcome
