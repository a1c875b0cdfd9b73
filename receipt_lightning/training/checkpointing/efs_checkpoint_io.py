"""``EFSCheckpointIO``: Lightning checkpoint IO for a shared network filesystem (EFS).

- Saves are atomic and durable, with a sha256 sidecar (see ``checkpoint_files``); loads verify
  the sidecar and unpickle with ``weights_only=True`` only, so a crafted pickle is refused.
- Contents are converted to weights_only-safe types before saving (``safe_state``).
- Retention keeps the newest ``keep_last_k`` complete checkpoints, the paths ``protected()``
  names (the best one), and the file just written; it deletes sidecars with their files.
- ``async_save``: one background writer; at most one save is in flight (a new save waits for the
  previous one, so memory holds at most one snapshot). Errors surface at the next save, at
  ``drain()`` and at ``teardown()``, which always drains.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from lightning.fabric.plugins import CheckpointIO
from typing_extensions import override

from receipt_lightning.errors import FatalError
from receipt_lightning.runs import checkpoint_step
from receipt_lightning.training.checkpointing.files import (
    SIDECAR_SUFFIX,
    CheckpointCorruptError,
    list_step_checkpoints,
    read_sidecar,
    read_verified,
    remove_checkpoint_files,
    save_verified,
)
from receipt_lightning.training.checkpointing.weights_only import to_safe_state
from receipt_lightning.training.fencing import check_fence

__all__ = ["CheckpointCorruptError", "EFSCheckpointIO"]

log = logging.getLogger(__name__)


class EFSCheckpointIO(CheckpointIO):
    def __init__(
        self,
        keep_last_k: int = 3,
        async_save: bool = False,
        protected: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        if keep_last_k < 1:
            # 0 would let retention delete the checkpoint a resume needs.
            raise FatalError(f"checkpoint.keep_last_k must be >= 1, got {keep_last_k}")
        self.keep_last_k = keep_last_k
        self.async_save = async_save
        self.protected = protected
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()  # retention and remove_checkpoint may race with the writer
        self.last_save_seconds: float | None = None  # wall time of the latest completed write

    # ---------------------------------------------------------------- saving
    @override
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise FatalError(f"{type(self).__name__} takes no storage_options (got {storage_options!r})")
        path = os.fspath(path)
        # The previous save must be durable (or its error raised) before another one starts.
        self.drain()
        # A trainer whose lease was taken over must not write into the run the new attempt owns.
        check_fence(f"checkpoint {os.path.basename(path)}")
        # Snapshot on the caller's thread: training goes on mutating the live tensors.
        state = to_safe_state(checkpoint, clone=self.async_save)
        if not self.async_save:
            self._write(state, path)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="efs-ckpt")
        self._pending = self._executor.submit(self._write_async, state, path)

    def _write_async(self, state: dict[str, Any], path: str) -> None:
        try:
            self._write(state, path)
        except BaseException as err:  # stored, re-raised on the training thread by drain()
            self._error = err

    def _write(self, state: dict[str, Any], path: str) -> None:
        import torch

        start = time.perf_counter()
        save_verified(path, lambda f: torch.save(state, f))
        self.last_save_seconds = time.perf_counter() - start
        log.info("checkpoint saved: %s (%.2f s)", path, self.last_save_seconds)
        self._apply_retention(os.path.dirname(path), keep=path)

    def drain(self) -> None:
        """Block until every pending save is durable; re-raise a stored save error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()
        error, self._error = self._error, None
        if error is not None:
            raise error

    @property
    def save_in_flight(self) -> bool:
        return self._pending is not None and not self._pending.done()

    @override
    def teardown(self) -> None:
        try:
            self.drain()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    # ---------------------------------------------------------------- loading
    @override
    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        import torch

        path = os.fspath(path)
        if weights_only is False:
            log.warning("%s: loading with weights_only=True regardless (arbitrary pickles are refused)", path)
        data = read_verified(path)
        try:
            return torch.load(io.BytesIO(data), map_location=map_location or "cpu", weights_only=True)
        except Exception as err:  # torch raises UnpicklingError, RuntimeError, ... for refused content
            raise CheckpointCorruptError(path, f"refused by torch.load(weights_only=True): {err}") from err

    # ---------------------------------------------------------------- retention
    @override
    def remove_checkpoint(self, path: Any) -> None:
        """Lightning's request to delete ``path`` (e.g. a former best). Honoured unless retention
        still keeps the file (one of the newest ``keep_last_k`` or protected)."""
        path = os.fspath(path)
        with self._lock:
            if os.path.abspath(path) in self._kept(os.path.dirname(path)):
                log.debug("kept %s (still among the newest %d or protected)", path, self.keep_last_k)
                return
            remove_checkpoint_files(path)

    def _kept(self, ckpt_dir: str, keep: str | None = None) -> set[str]:
        complete = [os.path.abspath(p) for _, p in list_step_checkpoints(ckpt_dir) if read_sidecar(p)]
        kept = set(complete[-self.keep_last_k :])
        kept.update(os.path.abspath(p) for p in (self.protected() if self.protected else []) if p)
        if keep:
            kept.add(os.path.abspath(keep))
        return kept

    def _apply_retention(self, ckpt_dir: str, keep: str) -> None:
        with self._lock:
            kept = self._kept(ckpt_dir, keep)
            listed = list_step_checkpoints(ckpt_dir)
            newest_kept = max((s for s, p in listed if os.path.abspath(p) in kept), default=-1)
            for step, path in listed:
                # Incomplete files newer than every kept one could still be written by someone
                # else; only files at or below the newest kept step are ours to delete.
                if os.path.abspath(path) not in kept and step <= newest_kept:
                    remove_checkpoint_files(path)
            for name in os.listdir(ckpt_dir):  # sidecars whose checkpoint is gone
                stem = os.path.join(ckpt_dir, name.removesuffix(SIDECAR_SUFFIX))
                if (
                    name.endswith(SIDECAR_SUFFIX)
                    and checkpoint_step(stem) is not None
                    and not os.path.exists(stem)
                ):
                    remove_checkpoint_files(stem)
