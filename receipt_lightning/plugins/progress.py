"""``ProgressRecorder``: writes ``<run_dir>/progress.json`` every N optimizer steps.

After a hard kill, the next attempt compares the newest valid checkpoint with the last progress
the killed attempt recorded, to account the work lost (``checkpointing.resume_info``). The file
is small and written atomically (temporary file + rename), so a kill never leaves half of it.
Steps done after the last record are not counted: the figure is a lower bound with a resolution
of ``every_n_steps``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from receipt_lightning.plugins.checkpoint_files import write_atomic

PROGRESS_FILE = "progress.json"


def read_progress(run_dir: str) -> dict[str, Any] | None:
    """The last recorded progress of ``run_dir``, or None if there is none or it is unreadable."""
    try:
        with open(os.path.join(run_dir, PROGRESS_FILE), encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None  # never written, or written by a tool that did not write atomically
    return data if isinstance(data, dict) else None


class ProgressRecorder(Callback):
    def __init__(self, run_dir: str, every_n_steps: int = 10) -> None:
        self.run_dir = run_dir
        self.every_n_steps = max(1, every_n_steps)
        self._attempt_started = time.time()  # unix seconds

    def _record(self, trainer: pl.Trainer, finished: bool = False) -> None:
        if not trainer.is_global_zero:
            return
        payload = {
            "global_step": int(trainer.global_step),
            "epoch": int(trainer.current_epoch),
            "time_unix": time.time(),
            "attempt_started_unix": self._attempt_started,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "finished": finished,
        }
        data = json.dumps(payload, indent=1).encode()
        write_atomic(os.path.join(self.run_dir, PROGRESS_FILE), lambda f: f.write(data))

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self._record(trainer)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer, finished=True)
