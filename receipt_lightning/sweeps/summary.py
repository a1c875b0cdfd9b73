"""A sweep's state from its record and its jobs' records: counts by status, each trial's metric,
the best trial so far and the first failure. Pure functions over plain dicts.

Status buckets: ``queued`` (QUEUED, or RETRYING: waiting for its next attempt), ``running``,
``completed``, ``interrupted`` (Spot-interrupted, waiting to resume), ``failed`` (the trainer ran
and failed for good; its message is dead-lettered too), ``dead_lettered`` (REJECTED: refused
before any trainer ran) and ``missing`` (listed by the sweep, no job record). A sweep has ended
when every trial is completed, failed or dead-lettered.
"""

from __future__ import annotations

import math
from typing import Any

from receipt_lightning.runs import JobStatus
from receipt_lightning.sweeps.ids import trial_params

BUCKETS: tuple[str, ...] = ("queued", "running", "completed", "interrupted", "failed", "dead_lettered")
_BUCKET_OF: dict[str, str] = {  # JobStatus members hash and compare as their strings
    JobStatus.QUEUED: "queued",
    JobStatus.RETRYING: "queued",
    JobStatus.RUNNING: "running",
    JobStatus.COMPLETED: "completed",
    JobStatus.INTERRUPTED: "interrupted",
    JobStatus.FAILED: "failed",
    JobStatus.REJECTED: "dead_lettered",
    # Fleet operations: a trial being cancelled is still running; cancelled or timed out, it
    # has ended without a result (job-retry may queue it again).
    JobStatus.CANCEL_REQUESTED: "running",
    JobStatus.CANCELLED: "failed",
    JobStatus.TIMED_OUT: "failed",
}
ENDED: frozenset[str] = frozenset({"completed", "failed", "dead_lettered"})


def bucket(job: dict[str, Any] | None) -> str:
    if job is None:
        return "missing"
    return _BUCKET_OF.get(str(job.get("status")), "queued")


def metric_value(job: dict[str, Any] | None, metric: str) -> float | None:
    """The trial's final ``metric`` (from the completed job), None if absent or not finite."""
    metrics = (job or {}).get("final_metrics") or {}
    value = metrics.get(metric)
    if value is None and "/" in metric:
        value = metrics.get(metric.replace("/", "_"))  # loggers that flatten "val/f1" to "val_f1"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def default_mode(metric: str) -> str:
    """Lower is better for losses and errors, higher for everything else."""
    return "min" if any(w in metric.lower() for w in ("loss", "error", "mse", "mae")) else "max"


def summarize(
    sweep: dict[str, Any],
    jobs: dict[str, dict[str, Any]],
    metric: str | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """The JSON that ``sweep-status --json`` prints."""
    metric = metric or sweep.get("metric") or "val/f1"
    mode = mode or (sweep.get("mode") if metric == sweep.get("metric") else None) or default_mode(metric)
    swept = list((sweep.get("parameter_space") or {}).keys())
    trials_overrides = sweep.get("trials") or {}
    counts = dict.fromkeys(BUCKETS, 0)
    trials = []
    for job_id in sorted(sweep.get("job_ids") or [], key=lambda j: _order(trials_overrides.get(j), swept)):
        job = jobs.get(job_id)
        state = bucket(job)
        counts[state] = counts.get(state, 0) + 1
        trials.append(
            {
                "job_id": job_id,
                "status": state,
                "job_status": (job or {}).get("status"),
                "params": trial_params(trials_overrides.get(job_id) or [], swept),
                "metric": metric_value(job, metric),
                "attempts": len((job or {}).get("attempts") or []),
                "error": (job or {}).get("error"),
                "submitted_at": (job or {}).get("submitted_at"),
                "ended_at": (job or {}).get("ended_at"),
            }
        )
    scored = [t for t in trials if t["status"] == "completed" and t["metric"] is not None]
    best = None
    if scored:
        pick = max if mode == "max" else min
        best = pick(scored, key=lambda t: t["metric"])
    failures = [t for t in trials if t["status"] in ("failed", "dead_lettered")]
    first_failure = min(failures, key=lambda t: t["ended_at"] or math.inf) if failures else None
    ended = sum(counts[b] for b in ENDED)
    return {
        "sweep_id": sweep["sweep_id"],
        "metric": metric,
        "mode": mode,
        "parameter_space": sweep.get("parameter_space") or {},
        "fixed_overrides": sweep.get("fixed_overrides") or [],
        "total": len(trials),
        "counts": {k: v for k, v in counts.items() if k in BUCKETS or v},
        "ended": ended,
        "done": ended == len(trials),
        "best": best,
        "first_failure": first_failure,
        "trials": trials,
        "created_at": sweep.get("created_at"),
    }


def _order(overrides: list[str] | None, swept: list[str]) -> tuple:
    """Trials in parameter-space order (numbers compared as numbers)."""
    params = trial_params(overrides or [], swept)
    return tuple(_sortable(params.get(k, "")) for k in swept)


def _sortable(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
