"""``CadenceCheckpoint``: a ``ModelCheckpoint`` that saves every N train steps AND at least every
M minutes since the last save, whichever comes first.

Lightning's ``ModelCheckpoint`` accepts only one trigger per instance; two instances would each
save at the same step now and then and keep separate clocks. Its ``on_train_batch_end`` already
evaluates a step trigger and a time trigger together, so this subclass sets both, and restarts
the time clock after every save (a step-triggered save also resets the minutes).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from typing_extensions import override

from receipt_lightning.training.lightning_compat import (
    model_checkpoint_save,
    restart_time_clock,
    set_train_time_interval,
)


class CadenceCheckpoint(ModelCheckpoint):
    def __init__(
        self, dirpath: str, every_n_train_steps: int, every_n_minutes: float | None, **kwargs: Any
    ) -> None:
        interval = timedelta(minutes=every_n_minutes) if every_n_minutes else None
        if every_n_train_steps > 0:
            super().__init__(dirpath=dirpath, every_n_train_steps=every_n_train_steps, **kwargs)
            # Both triggers at once: ModelCheckpoint's validation forbids it, its logic supports it.
            set_train_time_interval(self, interval)
        else:
            super().__init__(dirpath=dirpath, train_time_interval=interval, every_n_train_steps=0, **kwargs)

    # Overrides a protected ModelCheckpoint method (listed in lightning_compat.PRIVATES): every
    # save of this callback, step- or time-triggered, goes through it.
    @override
    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        model_checkpoint_save(self, trainer, filepath)
        restart_time_clock(self)
