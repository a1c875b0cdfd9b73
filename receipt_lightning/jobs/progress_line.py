"""``job-status --watch``: one live line per job: status, attempt, step (of the total), epoch,
the latest metrics, interruptions, measured steps per second and the ETA they give.

Step, epoch, total and rate come from the job record's ``progress``, which the worker copies
from the trainer's ``progress.json`` at each heartbeat (jobs/stops.py, the rate measured over
this attempt's reports); metrics come from the metrics table when there is one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

PREFERRED_METRICS = ("val/f1", "train/loss", "val/loss")
MAX_METRICS = 4  # metrics on the line


def eta_s(progress: dict[str, Any]) -> float | None:
    """Seconds left at the measured rate; None when the total or the rate is unknown."""
    step, total, rate = progress.get("global_step"), progress.get("total_steps"), progress.get("steps_per_s")
    if (
        not isinstance(step, int)
        or not isinstance(total, int)
        or not isinstance(rate, (int, float))
        or rate <= 0
    ):
        return None
    return max(0, total - step) / rate


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _pick(metrics: dict[str, float]) -> list[tuple[str, float]]:
    names = [n for n in PREFERRED_METRICS if n in metrics]
    names += sorted(n for n in metrics if n not in names)
    return [(n, metrics[n]) for n in names[:MAX_METRICS]]


def status_line(job: dict[str, Any], metrics: dict[str, float] | None = None) -> str:
    p = job.get("progress") if isinstance(job.get("progress"), dict) else {}
    parts = [f"job {job.get('job_id')}", str(job.get("status", "?")), f"attempt {job.get('attempt', 0)}"]
    step, total = p.get("global_step"), p.get("total_steps")
    if isinstance(step, int):
        if isinstance(total, int) and total > 0:
            parts.append(f"step {step}/{total} ({100 * step / total:.0f}%)")
        else:
            parts.append(f"step {step}")
    if isinstance(p.get("epoch"), int):
        parts.append(f"epoch {p['epoch']}")
    for name, value in _pick(metrics or {}):
        parts.append(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}")
    parts.append(f"interruptions {int(job.get('interruptions') or 0)}")
    if isinstance(p.get("steps_per_s"), (int, float)):
        parts.append(f"{p['steps_per_s']:.3g} steps/s")
    eta = eta_s(p)
    if eta is not None and job.get("status") == "RUNNING":
        parts.append(f"ETA {_duration(eta)}")
    if job.get("error"):
        parts.append(f"error: {str(job['error'])[:120]}")
    return "  ".join(parts)


def latest_metrics(table: str | None, job_id: str) -> dict[str, float]:
    if not table:
        return {}
    from receipt_lightning.training.loggers.dynamodb.reader import MetricsReader

    return {name: p.value for name, p in MetricsReader(table).latest_metrics(job_id).items()}


def watch(
    load: Callable[[], tuple[dict[str, Any], dict[str, float]]],
    *,
    interval_s: float = 5.0,
    timeout_s: float | None = None,
    out: TextIO | None = None,
) -> tuple[dict[str, Any], bool]:
    """Redraw the line until the job ends (True) or ``timeout_s`` passes (False). On a terminal
    the line is rewritten in place; otherwise each changed line is printed once."""
    from receipt_lightning.jobs.records import TERMINAL

    out = out or sys.stdout
    tty = out.isatty()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last = ""
    while True:
        job, metrics = load()
        line = status_line(job, metrics)
        if tty:
            out.write("\r\x1b[2K" + line)
        elif line != last:
            out.write(line + "\n")
        out.flush()
        last = line
        if job.get("status") in TERMINAL:
            if tty:
                out.write("\n")
            return job, True
        if deadline is not None and time.monotonic() > deadline:
            if tty:
                out.write("\n")
            return job, False
        time.sleep(interval_s)
