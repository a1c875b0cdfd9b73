"""The sweep table ``sweep-status`` prints (and ``--watch`` redraws): pure text from a summary."""

from __future__ import annotations

from typing import Any

from receipt_lightning.sweeps.summary import BUCKETS

_ERROR_CHARS = 200  # the first failure's error, trimmed to about two terminal lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _params(params: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def counts_line(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    parts = [f"{counts.get(b, 0)} {b.replace('_', '-')}" for b in BUCKETS]
    if counts.get("missing"):
        parts.append(f"{counts['missing']} missing")
    return f"{summary['total']} trials: " + ", ".join(parts)


def render(summary: dict[str, Any]) -> str:
    """Header, counts, one row per trial (swept values, status, attempts, metric), best, failure."""
    metric = summary["metric"]
    keys = list(summary["parameter_space"].keys())
    header = ["job id", *keys, "status", "attempts", metric]
    best_id = (summary.get("best") or {}).get("job_id")
    rows = [
        [
            t["job_id"],
            *(t["params"].get(k, "-") for k in keys),
            t["status"].replace("_", "-"),
            str(t["attempts"]),
            _fmt(t["metric"]) + ("  <- best" if t["job_id"] == best_id else ""),
        ]
        for t in summary["trials"]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"sweep {summary['sweep_id']}  ({metric}, {'higher' if summary['mode'] == 'max' else 'lower'} is better)",
        counts_line(summary) + ("  [all ended]" if summary["done"] else ""),
    ]
    if summary.get("fixed_overrides"):
        lines.append("fixed: " + " ".join(summary["fixed_overrides"]))
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    best = summary.get("best")
    lines.append(
        f"best so far: {best['job_id']}  {metric}={_fmt(best['metric'])}  {_params(best['params'])}"
        if best
        else "best so far: none yet"
    )
    fail = summary.get("first_failure")
    if fail:
        error = " ".join(str(fail.get("error") or "no error recorded").split())[:_ERROR_CHARS]
        lines.append(f"first failure: {fail['job_id']} ({fail['status'].replace('_', '-')}"
                     f"{', ' + _params(fail['params']) if fail['params'] else ''}): {error}")  # fmt: skip
    return "\n".join(lines)
