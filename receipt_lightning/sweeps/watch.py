"""Reading a sweep's state from DynamoDB, once or until every trial has ended."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from receipt_lightning.errors import InputError

_CLEAR = "\x1b[H\x1b[2J"  # cursor home + clear screen (ANSI), for redrawing on a terminal


def load_summary(
    sweep_id: str,
    *,
    sweeps_table: str | None,
    jobs_table: str | None,
    metric: str | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """The sweep's summary (``summary.summarize``) from the two tables."""
    from receipt_lightning.errors import FatalError
    from receipt_lightning.sweeps.records import SweepStore, get_jobs
    from receipt_lightning.sweeps.summary import summarize

    sweep = SweepStore(sweeps_table).get(sweep_id)
    if sweep is None:
        raise InputError(f"no sweep {sweep_id!r} in table {sweeps_table!r}")
    if not jobs_table:
        raise FatalError("no jobs table: pass --dynamo-table or --stack, or set RL_JOBS_TABLE")
    jobs = get_jobs(jobs_table, list(sweep.get("job_ids") or []))
    return summarize(sweep, jobs, metric, mode)


def watch(
    load: Callable[[], dict[str, Any]],
    *,
    interval_s: float = 10.0,
    timeout_s: float | None = None,
    out: TextIO | None = None,
    draw: Callable[[dict[str, Any]], str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[dict[str, Any], bool]:
    """Call ``load`` every ``interval_s`` seconds until the sweep is done or ``timeout_s`` passes;
    draws each state with ``draw`` to ``out`` when given. Returns (last summary, done)."""
    if interval_s <= 0:
        raise InputError(f"interval {interval_s} must be positive (seconds)", source="--interval")
    deadline = None if timeout_s is None else clock() + timeout_s
    redraw = out is not None and out.isatty()
    while True:
        summary = load()
        if draw is not None and out is not None:
            text = draw(summary)
            stamp = time.strftime("%H:%M:%S")
            out.write((_CLEAR if redraw else "") + f"{text}\n[{stamp}]\n" + ("" if redraw else "\n"))
            out.flush()
        if summary["done"]:
            return summary, True
        if deadline is not None and clock() >= deadline:
            return summary, False
        wait = interval_s if deadline is None else max(0.0, min(interval_s, deadline - clock()))
        sleep(wait)
