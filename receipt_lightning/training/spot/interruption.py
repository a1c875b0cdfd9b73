"""Saving the interruption checkpoint, making it durable and recording it: functions over
duck-typed plugins, so they work with any ``CheckpointIO`` and any ``Logger``.

- ``save_step_checkpoint``: ``<dirpath>/step-<global_step:08d>.ckpt`` through the trainer's
  ``ModelCheckpoint`` when there is one (its bookkeeping stays right), unless it saved this very
  step already.
- ``drain_checkpoint_io``: the EFS plugin's ``drain()`` blocks until its asynchronous saves are
  fsynced and re-raises their errors; it may sit under a Lightning wrapper (``checkpoint_io``).
- ``flush_loggers``: Lightning's ``save()`` plus ``flush()`` where a logger has one.
- ``record_interruption``: ``record_status(RunStatus.INTERRUPTED, ...)`` and ``log_event("interrupted",
  ...)`` on loggers that have them (the DynamoDB logger).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from receipt_lightning.runs import RunStatus, checkpoint_name
from receipt_lightning.training.lightning_compat import (
    last_saved_path,
    last_saved_step,
    save_through_model_checkpoint,
)


def checkpoint_path(dirpath: str | os.PathLike[str], global_step: int) -> str:
    return os.path.join(os.fspath(dirpath), checkpoint_name(global_step))


def save_step_checkpoint(trainer: pl.Trainer) -> tuple[str, bool]:
    """Save the checkpoint of the current step; its path and whether it was written now. Call on
    every rank (the strategy writes on rank zero only, and waits for all)."""
    step = trainer.global_step
    mc = trainer.checkpoint_callback
    mc = mc if isinstance(mc, ModelCheckpoint) else None
    if mc is not None and last_saved_step(mc) == step and last_saved_path(mc):
        return last_saved_path(mc), False  # ModelCheckpoint saved this very step
    dirpath = (
        mc.dirpath if mc is not None and mc.dirpath else os.path.join(trainer.default_root_dir, "checkpoints")
    )
    path = checkpoint_path(dirpath, step)
    if mc is not None and not mc.save_weights_only:
        # ModelCheckpoint's own save keeps its bookkeeping right (see the compat function).
        # With save_last=True that is a second full file; save_last="link" costs a symlink.
        save_through_model_checkpoint(mc, trainer, path)
    else:
        trainer.save_checkpoint(path, weights_only=False)  # resumable even if mc saves weights only
    return path, True


def drain_checkpoint_io(checkpoint_io: Any) -> bool:
    """Call ``drain()`` on ``checkpoint_io`` or on the plugin it wraps; whether one was found."""
    seen: set[int] = set()
    plugin = checkpoint_io
    while plugin is not None and id(plugin) not in seen:
        seen.add(id(plugin))
        drain = getattr(plugin, "drain", None)
        if callable(drain):
            drain()
            return True
        plugin = getattr(plugin, "checkpoint_io", None)
    return False


def flush_loggers(loggers: Iterable[Any]) -> None:
    for logger in loggers:
        for name in ("save", "flush"):
            method = getattr(logger, name, None)
            if callable(method):
                method()


def record_interruption(loggers: Iterable[Any], info: dict[str, Any]) -> None:
    """Status and event on every logger that records them; ``info`` as built by the callback."""
    detail = {k: info[k] for k in ("action", "notice_time", "reason", "global_step", "checkpoint")}
    message = (
        f"interrupted ({info['reason']}, action {info['action']}, notice time {info['notice_time']}) at step "
        f"{info['global_step']}; checkpoint {info['checkpoint']}"
    )
    for logger in loggers:
        record_status = getattr(logger, "record_status", None)
        if callable(record_status):
            # record_status logs its own "interrupted" event with these details.
            record_status(RunStatus.INTERRUPTED, **detail)
            continue
        log_event = getattr(logger, "log_event", None)
        if callable(log_event):
            log_event("interrupted", message, **detail)
