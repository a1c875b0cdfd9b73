"""Checkpointing for a training attempt: the IO plugin and callbacks from the ``checkpoint``
config, discovery of the checkpoint to resume from, and the work a resume lost.

``train.py`` does::

    attempt = Attempt.start()  # once per attempt: names its progress records
    io, callbacks = build_checkpointing(cfg.checkpoint, ckpt_dir, attempt=attempt)
    ckpt_path = find_resume_checkpoint(ckpt_dir)
    trainer = Trainer(plugins=[io], callbacks=[*callbacks, ...], ...)
    summary["resume"] = resume_info(run_dir, ckpt_path, attempt)
    trainer.fit(model, datamodule, ckpt_path=ckpt_path)

Every checkpoint is ``<ckpt_dir>/step-<global_step:08d>.ckpt`` with a ``.sha256`` sidecar.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from receipt_lightning.runs import CHECKPOINT_FILENAME_TEMPLATE
from receipt_lightning.training.checkpointing.settings import CheckpointSettings

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import Callback

    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO
    from receipt_lightning.training.checkpointing.progress import Attempt

log = logging.getLogger(__name__)

def _config(ckpt_cfg: CheckpointSettings | Mapping[str, Any]) -> dict[str, Any]:
    """The ``checkpoint`` group as a dict, validated (keys, defaults, rules: ``CheckpointSettings``)."""
    settings = ckpt_cfg if isinstance(ckpt_cfg, CheckpointSettings) else CheckpointSettings.from_mapping(ckpt_cfg)
    settings.validate()
    return asdict(settings)


def build_checkpointing(
    ckpt_cfg: CheckpointSettings | Mapping[str, Any], ckpt_dir: str, *, attempt: Attempt
) -> tuple[EFSCheckpointIO, list[Callback]]:
    """The IO plugin and the callbacks (RNG state, cadence checkpoint, best checkpoint when a
    monitor is set, progress recorder) for checkpoints in ``ckpt_dir`` (``<run_dir>/checkpoints``).
    The progress recorder records ``attempt``: give the same one to ``resume_info``."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from receipt_lightning.training.checkpointing.cadence import CadenceCheckpoint
    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO
    from receipt_lightning.training.checkpointing.exact_resume import ResumeFixes
    from receipt_lightning.training.checkpointing.files import remove_stale_temp_files
    from receipt_lightning.training.checkpointing.progress import ProgressRecorder
    from receipt_lightning.training.checkpointing.rng import RNGStateCallback

    cfg = _config(ckpt_cfg)
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in remove_stale_temp_files(ckpt_dir):
        log.info("removed %s left by an interrupted save", os.path.join(ckpt_dir, name))
    common = {"filename": CHECKPOINT_FILENAME_TEMPLATE, "auto_insert_metric_name": False, "enable_version_counter": False}
    # Cadence: keep everything from Lightning's side (save_top_k=-1); the IO's retention prunes.
    cadence = CadenceCheckpoint(
        ckpt_dir, cfg["every_n_train_steps"], cfg["every_n_minutes"], save_top_k=-1, save_last=False, **common
    )
    # ResumeFixes first: its on_train_start may rebuild the train iterator before the RNG restore.
    callbacks: list[Callback] = [ResumeFixes(), RNGStateCallback(), cadence]
    best: ModelCheckpoint | None = None
    if cfg["monitor"]:
        best = ModelCheckpoint(
            dirpath=ckpt_dir,
            monitor=cfg["monitor"],
            mode=cfg["mode"],
            save_top_k=1,
            save_last=False,
            save_on_train_epoch_end=cfg["save_on_train_epoch_end"],
            **common,
        )
        callbacks.append(best)
    io = EFSCheckpointIO(
        keep_last_k=cfg["keep_last_k"],
        async_save=cfg["async_save"],
        protected=(lambda: [best.best_model_path]) if best is not None else None,
    )
    callbacks.append(
        ProgressRecorder(
            os.path.dirname(os.path.abspath(ckpt_dir)), cfg["progress_every_n_steps"], attempt=attempt
        )
    )
    return io, callbacks


def find_resume_checkpoint(ckpt_dir: str) -> str | None:
    """The newest checkpoint in ``ckpt_dir`` whose bytes match its sha256 record and that
    ``torch.load(weights_only=True)`` accepts, or None.

    Each newer checkpoint that is corrupt, partial (no record: the save was interrupted), has an
    unreadable record, or that the safe unpickler refuses is skipped with a warning naming the
    file, so the run resumes from the newest one it can actually load.
    """
    from receipt_lightning.training.checkpointing.files import (
        CheckpointCorruptError,
        list_step_checkpoints,
        verify_file,
    )

    for _step, path in reversed(list_step_checkpoints(ckpt_dir)):
        try:
            verify_file(path)
        except CheckpointCorruptError as err:
            log.warning("skipping checkpoint %s: %s", os.path.basename(path), err.reason)
            continue
        except OSError as err:  # vanished (retention by another process) or unreadable
            log.warning("skipping checkpoint %s: %s", os.path.basename(path), err)
            continue
        refused = _refused_by_safe_load(path)
        if refused:
            log.warning("skipping checkpoint %s: %s", os.path.basename(path), refused)
            continue
        return path
    return None


def _refused_by_safe_load(path: str) -> str | None:
    """Why ``torch.load(weights_only=True)`` refuses ``path`` (None: it loads). Memory-mapped,
    so tensors are not read: only the pickle is checked."""
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001 - any refusal means "not resumable": fall back, say why
        return f"refused by torch.load(weights_only=True): {type(err).__name__}: {str(err)[:200]}"
    return None


def resume_info(run_dir: str, ckpt_path: str | None, attempt: Attempt) -> dict[str, Any]:
    """What resuming from ``ckpt_path`` costs, for ``summary.json`` and the run's records.

    ``steps_lost``: optimizer steps the previous attempt had done past the checkpoint (they are
    recomputed); ``seconds_lost``: wall seconds of that work (last recorded progress minus the
    time the checkpoint's state was taken, else its file's modification time); ``downtime_s``:
    from that last progress to the start of ``attempt`` (this one). Steps and seconds are lower
    bounds at the resolution of ``progress_every_n_steps``. It reads the previous attempt's
    record, so it may be called before or after ``trainer.fit``.
    """
    from receipt_lightning.runs import checkpoint_step
    from receipt_lightning.training.checkpointing.progress import read_previous_progress

    progress = read_previous_progress(run_dir, attempt)
    info: dict[str, Any] = {
        "resumed": ckpt_path is not None,
        "checkpoint": os.path.basename(ckpt_path) if ckpt_path else None,
        "checkpoint_step": checkpoint_step(ckpt_path) if ckpt_path else None,
        "previous_progress_step": progress.get("global_step") if progress else None,
        "steps_lost": None,
        "seconds_lost": None,
        "downtime_s": None,
    }
    if progress is None:
        return info
    info["downtime_s"] = round(max(0.0, attempt.started_unix - float(progress["time_unix"])), 3)
    ckpt_step = info["checkpoint_step"] or 0
    info["steps_lost"] = max(0, int(progress["global_step"]) - ckpt_step)
    if ckpt_path is None:
        taken_at: float | None = float(progress.get("attempt_started_unix", progress["time_unix"]))
    else:
        # when the state was taken (recorded by ProgressRecorder), else when the file was written
        taken_at = (progress.get("checkpoint_times") or {}).get(str(ckpt_step))
        if taken_at is None and os.path.exists(ckpt_path):
            taken_at = os.path.getmtime(ckpt_path)
    if taken_at is not None:
        info["seconds_lost"] = round(max(0.0, float(progress["time_unix"]) - float(taken_at)), 3)
    return info
