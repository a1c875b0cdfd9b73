"""The value a result-driven sweeper (Optuna) optimises: one metric of a finished run.

Read from the run's ``summary.json`` (written by ``train.run`` at the end of every attempt), so it
is exactly what the queue records as the job's ``final_metrics``.
"""

from __future__ import annotations

import math
from typing import Any

from receipt_lightning.runs import read_summary

DEFAULT_OBJECTIVE = "val/f1"


def objective_name(cfg: Any) -> str:
    """``cfg.objective`` when the config has one, else ``val/f1``."""
    from omegaconf import OmegaConf

    name = OmegaConf.select(cfg, "objective", default=None)
    return str(name) if name else DEFAULT_OBJECTIVE


def objective(cfg: Any) -> float | None:
    """The run's final ``objective_name(cfg)`` metric; None when the run left no summary or the
    metric is missing or not finite (Optuna then records the trial as failed)."""
    try:
        summary = read_summary(str(cfg.paths.run_dir))
    except (OSError, ValueError):
        return None  # an unreadable summary (torn by a crash) gives no value to report
    metrics = (summary or {}).get("metrics") or {}  # no summary: the run died before writing it
    if not isinstance(metrics, dict):
        return None
    value = metrics.get(objective_name(cfg))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
