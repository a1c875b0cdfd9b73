"""Cancel and retry jobs (``job-cancel``, ``job-retry``).

Cancel writes ``cancel = {at, reason}`` and status CANCEL_REQUESTED in one conditional update of
an unfinished job. The ``cancel`` attribute is the signal every worker acts on; the status is
what people see (a lease release may overwrite a status, never the attribute):

- no worker holds the job (QUEUED, INTERRUPTED, RETRYING): taking the lease is refused for a
  CANCEL_REQUESTED job (jobs/leases.py), and the next worker to receive its message records
  CANCELLED and deletes the message without starting a trainer (``stops.before_start``);
- a worker runs it: the worker reads the job at its next heartbeat, SIGTERMs the trainer (a
  durable checkpoint, exit 75, as for a Spot notice), records CANCELLED and deletes the message.

Retry queues a FAILED, CANCELLED or TIMED_OUT job again under the same id: the run directory is
keyed by the job id, so the trainer resumes from the newest valid checkpoint. Changed overrides
are vetted like a submission; the attempt list is kept whole, each retry is appended to
``retries``, and the runtime budget (max_runtime) counts from the retry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.records import (
    CANCEL_REQUESTED,
    CANCELLED,
    FAILED,
    QUEUED,
    TERMINAL,
    TIMED_OUT,
    JobStore,
    UpdateBuilder,
)

RETRYABLE: tuple[str, ...] = (FAILED, CANCELLED, TIMED_OUT)
MAX_REASON_CHARS = 500  # a reason is shown, never executed; cap what is stored
MAX_RETRIES_KEPT = 100  # retry history entries kept on the item (DynamoDB items are <= 400 KB)


def _clean_reason(reason: str | None) -> str:
    text = " ".join((reason or "cancelled by user").split())
    return text[:MAX_REASON_CHARS] or "cancelled by user"


def request_cancel(store: JobStore, job_id: str, reason: str | None = None) -> dict[str, Any]:
    """Ask for ``job_id`` to stop; returns the job as written. Raises ``InputError`` for an
    unknown or finished job. Asking twice keeps the first request."""
    job = store.get(job_id)
    if job is None:
        raise InputError(f"no job {job_id!r} in table {store.table!r}")
    status = job.get("status")
    if status in TERMINAL:
        raise InputError(f"job {job_id} is {status}: nothing to cancel")
    if job.get("cancel"):
        return job
    now = time.time()
    b = UpdateBuilder().set("status", CANCEL_REQUESTED).set("updated_at", now)
    b.set("cancel", {"at": now, "reason": _clean_reason(reason), "status_before": status})
    st = b.path("status")
    closed = {f":c{i}": s for i, s in enumerate(sorted(TERMINAL))}
    cond = f"attribute_exists(job_id) AND NOT {st} IN ({', '.join(closed)})"
    if not store.update(job_id, b, cond, closed):
        now_job = store.get(job_id) or {}
        raise InputError(f"job {job_id} is {now_job.get('status')}: nothing to cancel")
    return store.get(job_id) or job


def retry_job(
    store: JobStore,
    job_id: str,
    overrides: Sequence[str] | None = None,
    *,
    queue_url: str | None = None,
    guards: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue a FAILED, CANCELLED or TIMED_OUT job again; ``overrides`` (None: unchanged) are
    merged over the job's (same key: the new one wins) and vetted like a submission; ``guards``
    changes guard settings (max_runtime_s, ...). Returns the job as written."""
    from receipt_lightning.jobs import queues
    from receipt_lightning.jobs.guards import GuardSettings
    from receipt_lightning.jobs.messages import JobMessage, PoisonMessage
    from receipt_lightning.jobs.overrides import validate_overrides
    from receipt_lightning.jobs.submit import merge_overrides

    job = store.get(job_id)
    if job is None:
        raise InputError(f"no job {job_id!r} in table {store.table!r}")
    status = job.get("status")
    if status not in RETRYABLE:
        raise InputError(f"job {job_id} is {status}; only {', '.join(RETRYABLE)} jobs can be retried")
    new_overrides = list(job.get("overrides") or [])
    if overrides:
        new_overrides = merge_overrides(new_overrides, overrides)
        try:
            validate_overrides(new_overrides)
        except PoisonMessage as err:
            raise InputError(str(err)) from None
    url = queue_url or job.get("queue_url")
    if not url:
        raise InputError(f"job {job_id} records no queue URL; pass --queue-url")
    delivery = int(job.get("delivery") or 1) + 1
    msg = JobMessage(
        job_id=job_id,
        overrides=new_overrides,
        priority=str(job.get("priority") or "normal"),
        dataset=job.get("dataset"),
        data_format=job.get("data_format"),
        delivery=delivery,
        sweep_id=job.get("sweep_id"),
        submitted_at=float(job.get("submitted_at") or time.time()),
    )
    msg.encode()  # size check before anything is written
    now = time.time()
    attempts = int(job.get("attempt") or 0)
    entry = {"at": now, "from_status": status, "after_attempt": attempts,
             "error": job.get("error"), "overrides": new_overrides if overrides else None}  # fmt: skip
    retries = [*(job.get("retries") or []), {k: v for k, v in entry.items() if v is not None}]
    b = UpdateBuilder().set("status", QUEUED).set("updated_at", now).set("delivery", delivery)
    b.set("overrides", new_overrides).set("failures", 0).set("interruptions", 0)
    b.set("retries", retries[-MAX_RETRIES_KEPT:]).set("runtime_from_attempt", attempts)
    if guards:
        merged = GuardSettings.from_job(job).replace(**guards)
        b.set("guards", merged.to_dict())
    for gone in ("error", "traceback_tail", "dead_lettered", "ended_at", "retry_at", "cancel", "sent_at"):
        b.remove(gone)
    st, att = b.path("status"), b.path("attempt")
    values = {":c0": status, ":c1": attempts}
    cond = f"{st} = :c0 AND " + (f"{att} = :c1" if attempts else f"attribute_not_exists({att})")
    if not attempts:
        values.pop(":c1")
    if not store.update(job_id, b, cond, values):
        raise InputError(f"job {job_id} changed while retrying it; look again (job-status {job_id})")
    message_id = queues.send(url, msg)
    store.update(job_id, UpdateBuilder().set("sent_at", time.time()).set("message_id", message_id))
    return store.get(job_id) or job
