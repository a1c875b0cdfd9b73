"""The jobs table: one item per job, the source of truth for its status, lease and attempts."""

from __future__ import annotations

import re
import time
from typing import Any

from receipt_lightning.errors import FatalError, RetryableError
from receipt_lightning.jobs.ddb import deserialize, is_conditional_failure, serialize
from receipt_lightning.runs import TERMINAL_JOB_STATUSES, JobStatus

# Short names for the job statuses (defined once, in receipt_lightning.runs.JobStatus).
QUEUED, RUNNING, INTERRUPTED = JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.INTERRUPTED
RETRYING, COMPLETED = JobStatus.RETRYING, JobStatus.COMPLETED
FAILED, REJECTED = JobStatus.FAILED, JobStatus.REJECTED
TERMINAL = TERMINAL_JOB_STATUSES
CANCEL_REQUESTED, CANCELLED, TIMED_OUT = JobStatus.CANCEL_REQUESTED, JobStatus.CANCELLED, JobStatus.TIMED_OUT
# Every status as spelled in the jobs table (listing filters, --json output).
ALL_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
MAX_REJECTIONS = 6  # rejections kept on a job item (the newest); rejection_count counts all
MAX_REJECTION_TRIES = 5  # optimistic rewrites of the rejection list before giving up (retryable)
_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


class UpdateBuilder:
    """Builds an UpdateExpression with placeholder names for every path segment."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._sets: list[str] = []
        self._removes: list[str] = []

    def path(self, dotted: str) -> str:
        parts = []
        for seg in dotted.split("."):
            m = _SEGMENT.match(seg)
            if not m:
                raise FatalError(f"bad attribute path {dotted!r}")
            alias = f"#n{len(self.names)}"
            self.names[alias] = m.group(1)
            parts.append(alias + m.group(2))
        return ".".join(parts)

    def value(self, v: Any) -> str:
        alias = f":v{len(self.values)}"
        self.values[alias] = v
        return alias

    def set(self, dotted: str, v: Any) -> UpdateBuilder:
        self._sets.append(f"{self.path(dotted)} = {self.value(v)}")
        return self

    def append(self, dotted: str, items: list[Any]) -> UpdateBuilder:
        p = self.path(dotted)
        empty = self.value([])
        self._sets.append(f"{p} = list_append(if_not_exists({p}, {empty}), {self.value(items)})")
        return self

    def add(self, dotted: str, n: int) -> UpdateBuilder:
        p = self.path(dotted)
        self._sets.append(f"{p} = if_not_exists({p}, {self.value(0)}) + {self.value(n)}")
        return self

    def remove(self, dotted: str) -> UpdateBuilder:
        self._removes.append(self.path(dotted))
        return self

    def expression(self) -> str:
        out = []
        if self._sets:
            out.append("SET " + ", ".join(self._sets))
        if self._removes:
            out.append("REMOVE " + ", ".join(self._removes))
        return " ".join(out)


class JobStore:
    """Reads and writes job items in one table."""

    def __init__(self, table: str, call_timeout_s: float | None = None):
        if not table:
            raise FatalError("no jobs table: pass --dynamo-table or set RL_JOBS_TABLE")
        self.table = table
        # None: the session's default client (5 tries, 30 s reads). A lease store sets a short
        # timeout and 2 tries, so one renewal can never outlast the lease it renews.
        self.call_timeout_s = call_timeout_s

    def _ddb(self):
        from receipt_lightning.aws.session import client

        if self.call_timeout_s is None:
            return client("dynamodb")
        from botocore.config import Config

        config = Config(
            retries={"total_max_attempts": 2, "mode": "standard"},  # the first try and one retry
            connect_timeout=min(2.0, self.call_timeout_s),
            read_timeout=self.call_timeout_s,
        )
        return client("dynamodb", config=config)

    def create(self, item: dict[str, Any]) -> bool:
        """Write a new job; False (and no change) if the job id already exists."""
        try:
            self._ddb().put_item(
                TableName=self.table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except Exception as err:
            if is_conditional_failure(err):
                return False
            raise
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        resp = self._ddb().get_item(
            TableName=self.table, Key=serialize({"job_id": job_id}), ConsistentRead=True
        )
        return deserialize(resp.get("Item"))

    def update(
        self,
        job_id: str,
        builder: UpdateBuilder,
        condition: str | None = None,
        condition_values: dict[str, Any] | None = None,
    ) -> bool:
        """Apply ``builder``; False if ``condition`` (which may use ``#name`` aliases made by the
        builder's ``path`` and its own ``:c*`` values) did not hold."""
        values = dict(builder.values)
        values.update(condition_values or {})
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": serialize({"job_id": job_id}),
            "UpdateExpression": builder.expression(),
            "ExpressionAttributeNames": builder.names,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = serialize(values)
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            self._ddb().update_item(**kwargs)
        except Exception as err:
            if is_conditional_failure(err):
                return False
            raise
        return True

    def record_rejection(self, job_id: str, reason: str, *, mark_rejected: bool) -> None:
        """Record why a message was refused. The job becomes REJECTED when it has no status yet
        (no record: a stray message), or when the message is its own (``mark_rejected``) and the
        job is waiting unleased (QUEUED, INTERRUPTED, RETRYING); a refused copy never changes a
        running or finished job.

        The item stays small whatever arrives: the reason is cut to ``MAX_REASON_CHARS`` and only
        the newest ``MAX_REJECTIONS`` are kept (``rejection_count`` counts them all). The list is
        rewritten under a condition on that count, so concurrent rejections never lose a write.
        """
        from receipt_lightning.jobs.messages import short_reason

        reason = short_reason(reason)
        for _ in range(MAX_REJECTION_TRIES):
            job = self.get(job_id) or {}
            count = int(job.get("rejection_count", len(job.get("rejections") or [])))
            now = time.time()
            kept = [*(job.get("rejections") or [])[-(MAX_REJECTIONS - 1) :], {"at": now, "reason": reason}]
            b = UpdateBuilder().set("rejections", kept).set("rejection_count", count + 1)
            counter = b.path("rejection_count")
            if "rejection_count" in job:
                fence, values = f"{counter} = :c3", {":c3": count}
            else:
                fence, values = f"attribute_not_exists({counter})", {}
            if "status" not in job or (
                mark_rejected and job.get("status") in (QUEUED, INTERRUPTED, RETRYING) and not job.get("lease_owner")
            ):
                b.set("status", REJECTED).set("error", reason).set("dead_lettered", True).set("ended_at", now)
                status = b.path("status")
                if "status" in job:
                    owner = b.path("lease_owner")
                    cond = f"{status} IN (:c0, :c1, :c2) AND attribute_not_exists({owner})"
                    values.update({":c0": QUEUED, ":c1": INTERRUPTED, ":c2": RETRYING})
                else:
                    cond = f"attribute_not_exists({status})"
                fence = f"{fence} AND {cond}"
            if self.update(job_id, b, fence, values):
                return
        raise RetryableError(f"job {job_id}: rejection not recorded after {MAX_REJECTION_TRIES} tries (contention)")

    def scan(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every job (small tables: tests, the dev stack, status listings)."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while len(out) < limit:
            resp = self._ddb().scan(**kwargs)
            out += [deserialize(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return out[:limit]
