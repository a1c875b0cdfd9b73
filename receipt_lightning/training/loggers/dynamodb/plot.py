"""Training curves as a PNG (matplotlib's Agg backend, no display): loss and F1 against step.

``plot_run(run_id, table, path)`` reads the run from the metrics table (``job-details --plot``);
``plot_curves(series, path)`` draws any ``{name: [MetricPoint, ...]}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from receipt_lightning.errors import InputError
from receipt_lightning.training.loggers.dynamodb.items import MetricPoint

PANELS: tuple[tuple[str, str], ...] = (("loss", "loss"), ("f1", "F1"))  # (name substring, axis label)


def select_curves(
    series: Mapping[str, Sequence[MetricPoint]], needle: str
) -> dict[str, Sequence[MetricPoint]]:
    """The series whose name contains ``needle`` (case-insensitive), by name."""
    return {n: s for n, s in sorted(series.items()) if needle in n.lower() and s}


def plot_curves(series: Mapping[str, Sequence[MetricPoint]], path: str | Path, title: str = "") -> Path:
    """Write one panel per entry of ``PANELS`` (those with data); non-finite points are left out
    of the lines (a NaN loss shows as a gap). Raises ``InputError`` if there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")  # file output only; works without a display
    import matplotlib.pyplot as plt

    panels = [(label, select_curves(series, needle)) for needle, label in PANELS]
    panels = [(label, curves) for label, curves in panels if curves]
    if not panels:
        names = ", ".join(sorted(series)) or "none"
        raise InputError(f"no loss or F1 metric to plot (metrics: {names})", source=str(path))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.2 * len(panels)), sharex=True, squeeze=False)
    try:
        for ax, (label, curves) in zip(axes[:, 0], panels, strict=True):
            for name, points in curves.items():
                xs = [p.step for p in points]
                ys = [p.value if math.isfinite(p.value) else math.nan for p in points]
                marker = "o" if len(points) < 30 else None  # sparse (validation) curves show points
                ax.plot(xs, ys, label=name, marker=marker, markersize=3)
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.legend(loc="best", fontsize="small")
        axes[-1, 0].set_xlabel("step")
        if title:
            axes[0, 0].set_title(title)
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out


def plot_run(run_id: str, table: str, path: str | Path) -> Path:
    """Read every metric of ``run_id`` from ``table`` and draw its training curves to ``path``."""
    from receipt_lightning.training.loggers.dynamodb.reader import MetricsReader

    series = MetricsReader(table).all_series(run_id)
    if not series:
        raise InputError(f"run {run_id!r} has no metrics in table {table!r}")
    return plot_curves(series, path, title=f"run {run_id}")
