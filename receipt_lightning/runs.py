"""Run contracts, each defined here once: run ids, run and job statuses (``RunStatus``), the
checkpoint file name, ``summary.json``, atomic durable writes, weight hashes.

Stdlib only at import time: the worker, the CLI and the trainer all import it.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

SUMMARY_FILE = "summary.json"  # <run_dir>/summary.json, written by train.py at the end of every attempt

# Checkpoint files: <ckpt_dir>/step-<global_step:08d>.ckpt (docs/contracts.md). The stem is also
# the ``filename`` template of Lightning's ModelCheckpoint, which appends CHECKPOINT_SUFFIX itself.
CHECKPOINT_SUFFIX = ".ckpt"
CHECKPOINT_FILENAME_TEMPLATE = "step-{step:08d}"  # ModelCheckpoint(filename=...)
_CHECKPOINT_NAME = re.compile(r"^step-(\d{8,})" + re.escape(CHECKPOINT_SUFFIX) + "$")

TMP_PREFIX = ".tmp-"  # temporary files of atomic writes: hidden, never a checkpoint name


class _StrEnum(str, enum.Enum):
    """A str-valued enum that prints, formats and stores as its value on every Python >= 3.10
    (``str, Enum`` alone prints ``Class.MEMBER`` from 3.12 on)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class RunStatus(_StrEnum):
    """A training run's status: ``summary.json``'s ``status``, the DynamoDB run record, and the
    job statuses of the same name (``receipt_lightning.jobs.records.JobStatus``)."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"  # stopped with a checkpoint to resume from (Spot notice, SIGTERM)

    @classmethod
    def from_lightning(cls, status: str) -> RunStatus:
        """Ours for a status Lightning passes to ``Logger.finalize``. "finished" is what it passes
        when a requeue signal stops training: an interruption that will be resumed. Anything
        unknown counts as FAILED (never leaves a record at RUNNING)."""
        return {"success": cls.COMPLETED, "failed": cls.FAILED, "finished": cls.INTERRUPTED}.get(
            status, cls.FAILED
        )


class JobStatus(_StrEnum):
    """A queued job's status in the jobs table; the run statuses keep their ``RunStatus`` strings.
    Terminal ones (``TERMINAL_JOB_STATUSES``) never change again."""

    QUEUED = "QUEUED"  # submitted, waiting for a worker
    RUNNING = RunStatus.RUNNING.value  # a worker holds its lease and runs the trainer
    INTERRUPTED = RunStatus.INTERRUPTED.value  # stopped with a checkpoint; re-queued to resume
    RETRYING = "RETRYING"  # failed, waiting out its backoff before the next attempt
    COMPLETED = RunStatus.COMPLETED.value
    FAILED = RunStatus.FAILED.value  # failed for good (fatal, or max_failures reached)
    REJECTED = "REJECTED"  # refused before any trainer ran (bad message or job file)
    # Fleet operations (jobs/cancel.py, jobs/guards.py): a user asked to stop the job; it stopped
    # on that request; it ran past its max_runtime. CANCELLED and TIMED_OUT end the job like
    # FAILED does (only `job-retry` queues it again).
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


TERMINAL_JOB_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.REJECTED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
)


def new_run_id() -> str:
    """A short, sortable, unique id: UTC date + 8 random hex digits (e.g. 20261129-3fa9c2d1).
    The date only helps humans sort; the run directory is keyed by the id, never by time."""
    return time.strftime("%Y%m%d", time.gmtime()) + "-" + secrets.token_hex(4)


def checkpoint_name(global_step: int) -> str:
    """``step-<global_step:08d>.ckpt``: the file name of the checkpoint of ``global_step``."""
    return CHECKPOINT_FILENAME_TEMPLATE.format(step=global_step) + CHECKPOINT_SUFFIX


def checkpoint_step(path: str | os.PathLike[str]) -> int | None:
    """The global step in a checkpoint's file name (the last path component), or None for any
    other name (Lightning's default ``epoch=..-step=...ckpt``, temporary files, sidecars)."""
    match = _CHECKPOINT_NAME.match(os.path.basename(os.fspath(path)))
    return int(match.group(1)) if match else None


def fsync_dir(dirpath: str | os.PathLike[str]) -> None:
    """Make a rename in ``dirpath`` durable."""
    fd = os.open(os.fspath(dirpath) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _HashingWriter:
    """File-like object that hashes what passes through it (torch.save only calls write)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()


def write_atomic(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], None],
    before_replace: Callable[[str], None] | None = None,
) -> str:
    """Write ``path`` atomically and durably through ``write(fileobj)``; returns the sha256 hex.

    The bytes go to a hidden temporary file (``TMP_PREFIX``) in the same directory, which is
    fsynced, renamed onto ``path`` (atomic on POSIX and NFSv4/EFS) and the directory fsynced, so
    readers see the old file or the new one, never half of one, even after a crash.
    ``before_replace(sha256)`` runs after the temporary file is durable, just before the rename.
    """
    dirpath = os.path.dirname(os.path.abspath(path))
    os.makedirs(dirpath, exist_ok=True)
    name = os.path.basename(os.fspath(path))
    tmp = os.path.join(dirpath, f"{TMP_PREFIX}{name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        with open(tmp, "wb") as f:
            writer = _HashingWriter(f)
            write(writer)
            f.flush()
            os.fsync(f.fileno())
        digest = writer.sha256.hexdigest()
        if before_replace is not None:
            before_replace(digest)
        os.replace(tmp, path)
    except BaseException:
        # Any failure (including KeyboardInterrupt) must not leave the temporary file behind.
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(dirpath)
    return digest


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> str:
    """``write_atomic`` for bytes in memory; returns their sha256 hex."""
    return write_atomic(path, lambda f: f.write(data))


def write_json_atomic(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """``data`` as indented, key-sorted JSON (anything else as its ``str``), written atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes_atomic(path, text.encode())


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """``<run_dir>/summary.json``, or None when there is none yet (or it is not a JSON object)."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def weights_sha256(state_dict: Mapping[str, Any]) -> str:
    """sha256 over the tensors of a state_dict in sorted key order (key, dtype, shape, bytes),
    so two runs can be compared for bit-identical weights."""
    import torch

    h = hashlib.sha256()
    for key in sorted(state_dict):
        value = state_dict[key]
        if not isinstance(value, torch.Tensor):
            continue
        t = value.detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Lightning's callback_metrics (tensors) as plain floats."""
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue  # non-scalar entries (none expected) are left out of the summary
    return dict(sorted(out.items()))
