"""List jobs (``receipt-lightning jobs``) and workers (``receipt-lightning workers``).

Jobs come from the jobs table's ``status-submitted`` index (partition: status, sort: submitted
time): one query per status asked for, newest first, each followed past DynamoDB's 1 MB pages
lazily, and the per-status streams merged by submitted time. A listing of the newest 50 jobs
reads about 50 items per status, however large the table grows; nothing scans it.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from receipt_lightning.aws.resources import JOBS_STATUS_INDEX, PRIORITIES
from receipt_lightning.errors import InputError
from receipt_lightning.jobs.ddb import deserialize
from receipt_lightning.jobs.records import ALL_STATUSES

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}  # seconds per unit
MAX_LIMIT = 10_000  # jobs one listing returns at most


def parse_age(text: str) -> float:
    """``"30m"``, ``"12h"``, ``"7d"`` -> seconds."""
    m = _AGE.match(text.strip())
    if not m:
        raise InputError(f"age {text!r}: expected a number and a unit s/m/h/d/w (e.g. 30m, 12h, 7d)")
    return float(m.group(1)) * _AGE_UNITS[m.group(2)]


@dataclass(frozen=True)
class JobFilter:
    """What ``jobs`` shows; every field narrows the listing."""

    statuses: tuple[str, ...] = ALL_STATUSES  # statuses as spelled in the jobs table
    priority: str | None = None  # high | normal | low
    sweep_id: str | None = None  # only this sweep's trials
    since: float | None = None  # submitted at or after (seconds since the epoch)

    def validate(self) -> JobFilter:
        bad = [s for s in self.statuses if s not in ALL_STATUSES]
        if bad:
            raise InputError(f"status {bad[0]!r} is not one of {', '.join(ALL_STATUSES)}")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise InputError(f"priority {self.priority!r} is not one of {', '.join(PRIORITIES)}")
        return self


def _query_status(table: str, status: str, f: JobFilter, page_size: int | None) -> Iterator[dict[str, Any]]:
    """One status's jobs, newest first, page after page."""
    from receipt_lightning.aws.session import client

    ddb = client("dynamodb")
    names = {"#s": "status"}
    values: dict[str, Any] = {":s": {"S": status}}
    cond = "#s = :s"
    if f.since is not None:
        names["#t"] = "submitted_at"
        cond += " AND #t >= :since"
        values[":since"] = {"N": repr(float(f.since))}
    filters = []
    if f.priority:
        names["#p"] = "priority"
        values[":p"] = {"S": f.priority}
        filters.append("#p = :p")
    if f.sweep_id:
        names["#w"] = "sweep_id"
        values[":w"] = {"S": f.sweep_id}
        filters.append("#w = :w")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": JOBS_STATUS_INDEX,
        "KeyConditionExpression": cond,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,  # newest first
    }
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    if page_size:
        kwargs["Limit"] = page_size
    while True:
        resp = ddb.query(**kwargs)
        for item in resp.get("Items", []):
            yield deserialize(item) or {}
        if "LastEvaluatedKey" not in resp:
            return
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def list_jobs(
    table: str, f: JobFilter = JobFilter(), limit: int = 50, page_size: int | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` jobs matching ``f``, newest first. ``page_size`` caps the items per
    DynamoDB request (None: about ``limit``); tests set it small to cross pages."""
    if not table:
        raise InputError("no jobs table: pass --dynamo-table or --stack, or set RL_JOBS_TABLE")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit {limit}: expected 1..{MAX_LIMIT}")
    f.validate()
    # Items per request: about what one listing shows, so a large table costs a page per status,
    # not DynamoDB's 1 MB default; later pages are read only when filters drop items.
    page_size = page_size or min(max(limit, 25), 1000)
    streams = [_query_status(table, s, f, page_size) for s in dict.fromkeys(f.statuses)]
    merged = heapq.merge(*streams, key=lambda j: -float(j.get("submitted_at") or 0))
    out = []
    for job in merged:
        out.append(job)
        if len(out) >= limit:
            break
    return out


def _when(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or not seconds:
        return "-"
    return dt.datetime.fromtimestamp(float(seconds), tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _ago(seconds: Any, now: float) -> str:
    if not isinstance(seconds, (int, float)) or not seconds:
        return "-"
    d = max(0.0, now - float(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if d >= size:
            return f"{d / size:.0f}{unit} ago"
    return f"{d:.0f}s ago"


JOB_COLUMNS = ("job_id", "status", "priority", "attempt", "submitted_at", "sweep_id", "error")


def job_row(job: dict[str, Any]) -> dict[str, Any]:
    """The listed fields of one job (``--json``): statuses as in the table, times in epoch s."""
    row = {k: job.get(k) for k in JOB_COLUMNS}
    row["interruptions"] = int(job.get("interruptions") or 0)
    row["step"] = (job.get("progress") or {}).get("global_step")
    return row


def format_jobs(jobs: Sequence[dict[str, Any]], now: float | None = None) -> str:
    now = time.time() if now is None else now
    if not jobs:
        return "no jobs"
    rows = [("JOB", "STATUS", "PRIO", "ATT", "SUBMITTED (UTC)", "AGE", "STEP", "SWEEP", "ERROR")]
    for j in jobs:
        step = (j.get("progress") or {}).get("global_step")
        rows.append((
            str(j.get("job_id")), str(j.get("status", "?")), str(j.get("priority", "?")),
            str(j.get("attempt", 0)), _when(j.get("submitted_at")), _ago(j.get("submitted_at"), now),
            "-" if step is None else str(step), str(j.get("sweep_id") or "-"),
            str(j.get("error") or "")[:60],
        ))  # fmt: skip
    return _table(rows)


def _table(rows: Iterable[Sequence[str]]) -> str:
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


# ---------------------------------------------------------------- workers


def list_workers(table: str, now: float | None = None) -> list[dict[str, Any]]:
    """Every entry of the instance registry (a small table: one item per worker process),
    each with ``stale`` (missed three heartbeats) and ``heartbeat_age_s``; newest heartbeat first."""
    from receipt_lightning.aws.session import client
    from receipt_lightning.jobs.registry import is_stale

    if not table:
        raise InputError(
            "no instances table: pass --instance-registry-table or --stack, or set RL_INSTANCES_TABLE"
        )
    now = time.time() if now is None else now
    ddb = client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    items: list[dict[str, Any]] = []
    while True:
        resp = ddb.scan(**kwargs)
        items += [deserialize(i) or {} for i in resp.get("Items", [])]
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    for item in items:
        item["stale"] = is_stale(item, now)
        item["heartbeat_age_s"] = round(now - float(item.get("heartbeat_at") or 0), 1)
    return sorted(items, key=lambda i: -float(i.get("heartbeat_at") or 0))


WORKER_COLUMNS = ("instance_id", "machine_id", "instance_type", "lifecycle", "state", "current_job",
                  "heartbeat_at", "heartbeat_age_s", "stale", "spot_notice")  # fmt: skip


def worker_row(w: dict[str, Any]) -> dict[str, Any]:
    return {k: w.get(k) for k in WORKER_COLUMNS}


def format_workers(workers: Sequence[dict[str, Any]]) -> str:
    if not workers:
        return "no workers registered"
    rows = [("WORKER", "INSTANCE", "TYPE", "MARKET", "STATE", "JOB", "LAST HEARTBEAT", "LIVE", "NOTICES")]
    for w in workers:
        notice = w.get("spot_notice")
        notices = f"{notice.get('action')} at {notice.get('time')}" if isinstance(notice, dict) else "-"
        rows.append((
            str(w.get("instance_id")), str(w.get("machine_id", "?")), str(w.get("instance_type", "?")),
            str(w.get("lifecycle", "?")), str(w.get("state", "?")), str(w.get("current_job") or "-"),
            f"{_when(w.get('heartbeat_at'))} ({w.get('heartbeat_age_s', '?')} s ago)",
            "stale" if w.get("stale") else "live", notices,
        ))  # fmt: skip
    return _table(rows)
