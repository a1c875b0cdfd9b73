"""Which Hydra sweepers a queue launcher can serve (standard library only: the launcher plugin
imports this when Hydra scans plugins).

A queue launcher returns as soon as the jobs are queued, before any has trained, so it has no
objective values to give back. Sweepers that only enumerate combinations never read them; those
that pick the next trials from results (Optuna, Nevergrad, Ax) do, and are refused.
"""

from __future__ import annotations

from receipt_lightning.errors import FatalError

# Sweepers that never read a job's return value (they only enumerate combinations).
RESULT_FREE_SWEEPERS: frozenset[str] = frozenset({"hydra._internal.core_plugins.basic_sweeper.BasicSweeper"})


class SweeperNeedsResults(FatalError):
    """The configured sweeper needs objective values that a queue launcher cannot return."""


def check_sweeper(target: str | None) -> None:
    """Raise ``SweeperNeedsResults`` unless ``target`` (``hydra.sweeper._target_``) is result-free."""
    if target in RESULT_FREE_SWEEPERS:
        return
    raise SweeperNeedsResults(
        f"hydra/launcher=sqs cannot drive the sweeper {target!r}: it queues jobs and returns at once, "
        "so it has no objective values to give back, and this sweeper needs them to choose the next "
        "trials. Run it locally with Hydra's basic launcher (drop hydra/launcher=sqs; "
        "python -m receipt_lightning.sweeps.optimize returns the objective), or sweep a grid on the "
        "queue with the basic sweeper (see docs/sweeps.md)."
    )
