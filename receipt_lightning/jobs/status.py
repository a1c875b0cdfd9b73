"""Job status and details: attempts, checkpoint, cost.

Cost = instance-hours of every attempt x the price of its instance type (``conf/jobs/prices.yaml``
or ``--prices FILE``), at the Spot price for Spot attempts. Spot savings compare with the same
hours on demand; "interrupted" is what the attempts that ended INTERRUPTED or LOST cost.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.leases import LOST
from receipt_lightning.runs import JobStatus

PRICES_ENV = "RL_PRICES_FILE"
PRICES_FILE = ("jobs", "prices.yaml")  # under the Hydra config folder
WASTED_OUTCOMES = (JobStatus.INTERRUPTED, LOST)  # attempt outcomes whose hours bought nothing


def load_prices(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """{instance type: {"on_demand": $/h, "spot": $/h}} from a YAML file."""
    import yaml

    if not (path or os.environ.get(PRICES_ENV)):
        from receipt_lightning.configs import conf_dir

        path = conf_dir().joinpath(*PRICES_FILE)
    path = Path(path or os.environ[PRICES_ENV])
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as err:
        raise InputError(f"cannot read prices: {err.strerror}", source=str(path)) from None
    if not isinstance(doc, dict):
        raise InputError("prices file must map instance types to {on_demand, spot}", source=str(path))
    prices: dict[str, dict[str, float]] = {}
    for itype, row in doc.items():
        if not isinstance(row, dict) or not isinstance(row.get("on_demand"), (int, float)):
            raise InputError(f"{itype}: needs on_demand (and spot) in USD per hour", source=str(path))
        prices[str(itype)] = {
            "on_demand": float(row["on_demand"]),
            "spot": float(row.get("spot", row["on_demand"])),
        }
    return prices


def attempt_hours(attempt: dict[str, Any], now: float | None = None) -> float:
    end = attempt.get("ended_at") or (time.time() if now is None else now)
    return max(0.0, float(end) - float(attempt.get("started_at", end))) / 3600.0


def job_cost(
    attempts: list[dict[str, Any]], prices: dict[str, dict[str, float]], now: float | None = None
) -> dict:
    """Dollars per attempt and in total; types missing from ``prices`` are listed, not guessed."""
    total = on_demand = wasted = hours = 0.0
    unpriced: set[str] = set()
    rows = []
    for a in attempts:
        h = attempt_hours(a, now)
        hours += h
        itype = str(a.get("instance_type", "unknown"))
        row = prices.get(itype)
        if row is None:
            unpriced.add(itype)
            rows.append({"attempt": a.get("attempt"), "hours": h, "usd": None})
            continue
        rate = row["spot"] if a.get("lifecycle") == "spot" else row["on_demand"]
        usd = h * rate
        total += usd
        on_demand += h * row["on_demand"]
        if a.get("outcome") in WASTED_OUTCOMES:
            wasted += usd
        rows.append({"attempt": a.get("attempt"), "hours": h, "usd": usd})
    return {
        "instance_hours": hours,
        "usd": total,
        "on_demand_usd": on_demand,
        "spot_savings_usd": on_demand - total,
        "interrupted_usd": wasted,
        "unpriced_instance_types": sorted(unpriced),
        "attempts": rows,
    }


def job_details(job: dict[str, Any], prices: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """The job record with the lease bookkeeping trimmed and a ``cost`` section added."""
    attempts = job.get("attempts") or []
    out = {k: v for k, v in job.items() if k not in ("lease_message_id",)}
    out["cost"] = job_cost(attempts, prices if prices is not None else load_prices())
    return out


def _when(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or not seconds:
        return "-"
    return dt.datetime.fromtimestamp(float(seconds), tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def format_status(job: dict[str, Any]) -> str:
    """One line: id, status, attempt, priority, submitted, error."""
    parts = [
        f"job {job['job_id']}",
        f"status {job.get('status', '?')}",
        f"attempt {job.get('attempt', 0)}",
        f"priority {job.get('priority', '?')}",
        f"submitted {_when(job.get('submitted_at'))} UTC",
    ]
    if job.get("lease_owner"):
        parts.append(f"worker {job['lease_owner']}")
    if job.get("error"):
        parts.append(f"error: {job['error']}")
    return "  ".join(parts)


def format_details(details: dict[str, Any]) -> str:
    """Human-readable details: status, attempts, checkpoint, final metrics, cost."""
    lines = [format_status(details)]
    if details.get("overrides"):
        lines.append("overrides: " + " ".join(details["overrides"]))
    if details.get("sweep_id"):
        lines.append(f"sweep: {details['sweep_id']}")
    lines.append("attempts:" if details.get("attempts") else "attempts: none")
    for a in details.get("attempts") or []:
        lost = a.get("steps_lost")
        lines.append(
            f"  #{a.get('attempt')}  {a.get('outcome', '?'):<11}  {a.get('instance_id', '?')} "
            f"({a.get('instance_type', '?')}, {a.get('lifecycle', '?')})  {_when(a.get('started_at'))} -> "
            f"{_when(a.get('ended_at'))}  step {a.get('global_step', '-')}  "
            f"steps lost {'-' if lost is None else lost}"
        )
    for key in ("checkpoint", "best_checkpoint", "weights_sha256"):
        if details.get(key):
            lines.append(f"{key}: {details[key]}")
    if details.get("final_metrics"):
        lines.append("final metrics: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                   for k, v in sorted(details["final_metrics"].items())))  # fmt: skip
    if details.get("traceback_tail"):
        lines.append("traceback (tail):")
        lines += ["  " + ln for ln in str(details["traceback_tail"]).splitlines()[-15:]]
    for r in details.get("rejections") or []:
        lines.append(f"rejected {_when(r.get('at'))}: {r.get('reason')}")
    c = details["cost"]
    lines.append(
        f"cost: ${c['usd']:.4f} for {c['instance_hours']:.3f} instance-hours; on demand ${c['on_demand_usd']:.4f}, "
        f"Spot savings ${c['spot_savings_usd']:.4f}; spent on interrupted attempts ${c['interrupted_usd']:.4f}"
    )
    if c["unpriced_instance_types"]:
        lines.append(
            "  no price for: " + ", ".join(c["unpriced_instance_types"]) + " (add them to the prices file)"
        )
    return "\n".join(lines)
