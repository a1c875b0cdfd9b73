"""The jobs table: one item per job, the source of truth for its status, lease and attempts."""

from __future__ import annotations

import re
import time
from typing import Any

from receipt_lightning.errors import FatalError
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

    def __init__(self, table: str):
        if not table:
            raise FatalError("no jobs table: pass --dynamo-table or set RL_JOBS_TABLE")
        self.table = table

    def _ddb(self):
        from receipt_lightning.aws.session import client

        return client("dynamodb")

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
        running or finished job."""
        now = time.time()
        b = UpdateBuilder().append("rejections", [{"at": now, "reason": reason}])
        b.set("status", REJECTED).set("error", reason).set("dead_lettered", True).set("ended_at", now)
        status = b.path("status")
        cond = f"attribute_not_exists({status})"
        if mark_rejected:
            owner = b.path("lease_owner")
            cond += f" OR ({status} IN (:c0, :c1, :c2) AND attribute_not_exists({owner}))"
        values = {":c0": QUEUED, ":c1": INTERRUPTED, ":c2": RETRYING} if mark_rejected else None
        if self.update(job_id, b, cond, values):
            return
        self.update(job_id, UpdateBuilder().append("rejections", [{"at": now, "reason": reason}]))

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
