"""The value a result-driven sweeper (Optuna) optimises: one metric of a finished run.

Read from the run's ``summary.json`` (written by ``train.run`` at the end of every attempt), so it
is exactly what the queue records as the job's ``final_metrics``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

DEFAULT_OBJECTIVE = "val/f1"


def objective_name(cfg: Any) -> str:
    """``cfg.objective`` when the config has one, else ``val/f1``."""
    from omegaconf import OmegaConf

    name = OmegaConf.select(cfg, "objective", default=None)
    return str(name) if name else DEFAULT_OBJECTIVE


def objective(cfg: Any) -> float | None:
    """The run's final ``objective_name(cfg)`` metric; None when the run left no summary or the
    metric is missing or not finite (Optuna then records the trial as failed)."""
    path = Path(str(cfg.paths.run_dir)) / "summary.json"
    try:
        metrics = json.loads(path.read_text()).get("metrics") or {}
    except (OSError, ValueError):
        return None  # the run died before writing its summary: no value to report
    value = metrics.get(objective_name(cfg))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
