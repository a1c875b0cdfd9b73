"""The job queue: submit jobs, run workers, report status (see docs/queue.md).

``from receipt_lightning.jobs import submit_training_job, submit_overrides`` (resolved lazily, so
importing the package stays cheap).
"""

from __future__ import annotations

from typing import Any

__all__ = ["submit_overrides", "submit_training_job"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from receipt_lightning.jobs import submit

        return getattr(submit, name)
    raise AttributeError(f"module 'receipt_lightning.jobs' has no attribute {name!r}")
