"""``ProgressRecorder``: writes ``<run_dir>/progress.json`` every N optimizer steps.

After a hard kill, the next attempt compares the newest valid checkpoint with the last progress
the killed attempt recorded, to account the work lost (``checkpointing.resume_info``). The file
is small and written atomically (temporary file + rename), so a kill never leaves half of it.
Steps done after the last record are not counted: the figure is a lower bound with a resolution
of ``every_n_steps``.

Each record names the attempt (an ``Attempt``, created once per attempt by the code that builds
its trainer and given to both the recorder and ``resume_info``). Before an attempt records its
own progress, the previous attempt's last record is kept as ``progress.previous.json``, so the
accounting also works when asked after this attempt has started recording.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from receipt_lightning.runs import write_atomic, write_bytes_atomic

PROGRESS_FILE = "progress.json"
PREVIOUS_FILE = "progress.previous.json"
CHECKPOINT_TIMES_KEPT = 50  # more than any keep_last_k in use


@dataclass(frozen=True)
class Attempt:
    """One attempt at a run (one trainer process, or one run of a local multirun)."""

    id: str  # random hex naming this attempt's progress records
    started_unix: float  # unix seconds when the attempt began building its trainer

    @classmethod
    def start(cls) -> Attempt:
        """A new attempt starting now; create it once, when the attempt builds its trainer."""
        return cls(id=secrets.token_hex(8), started_unix=time.time())


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None  # never written, or written by a tool that did not write atomically
    return data if isinstance(data, dict) else None


def read_previous_progress(run_dir: str, attempt: Attempt) -> dict[str, Any] | None:
    """The last progress an attempt of ``run_dir`` before ``attempt`` recorded, or None."""
    current = _read(os.path.join(run_dir, PROGRESS_FILE))
    if current is not None and current.get("attempt_id") == attempt.id:
        return _read(os.path.join(run_dir, PREVIOUS_FILE))
    return current


class ProgressRecorder(Callback):
    def __init__(self, run_dir: str, every_n_steps: int = 10, *, attempt: Attempt) -> None:
        self.run_dir = run_dir
        self.every_n_steps = max(1, every_n_steps)
        self.attempt = attempt  # the attempt whose progress this records
        self._kept_previous = False
        self._finished = False
        # global step -> unix time of the latest checkpoints, so the next attempt knows when the
        # state it resumes from was taken even after retention deleted the file
        self._checkpoint_times: dict[str, float] = {}
        self._total_steps: int | None = None  # optimizer steps the run will take (the ETA of job-status --watch)

    def _record(self, trainer: pl.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        path = os.path.join(self.run_dir, PROGRESS_FILE)
        if not self._kept_previous:
            previous = _read(path)
            if previous is not None and previous.get("attempt_id") != self.attempt.id:
                with open(path, "rb") as src:
                    write_atomic(
                        os.path.join(self.run_dir, PREVIOUS_FILE), lambda f: shutil.copyfileobj(src, f)
                    )
            self._kept_previous = True
        payload = {
            "attempt_id": self.attempt.id,
            "global_step": int(trainer.global_step),
            "epoch": int(trainer.current_epoch),
            "time_unix": time.time(),
            "attempt_started_unix": self.attempt.started_unix,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "finished": self._finished,
            "total_steps": self._total_steps,
            "checkpoint_times": self._checkpoint_times,
        }
        data = json.dumps(payload, indent=1).encode()
        write_bytes_atomic(path, data)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        try:
            total = trainer.estimated_stepping_batches
        except MisconfigurationException:
            total = None  # an infinite run (no max_steps nor max_epochs): no total, no ETA
        if isinstance(total, (int, float)) and total != float("inf") and total > 0:
            self._total_steps = int(total)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self._record(trainer)

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._checkpoint_times[str(trainer.global_step)] = time.time()
        for step in sorted(self._checkpoint_times, key=int)[:-CHECKPOINT_TIMES_KEPT]:
            del self._checkpoint_times[step]
        self._record(trainer)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finished = True
        self._record(trainer)
