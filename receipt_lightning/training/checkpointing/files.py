"""Checkpoint files on a shared filesystem (EFS): durable atomic writes, sha256 sidecars, listing.

A checkpoint ``step-00000120.ckpt`` is valid only when its sidecar ``step-00000120.ckpt.sha256``
exists and lists the sha256 of the file's bytes. The protocol for every write:

1. stream the bytes into a temporary file in the same directory, hashing them on the way
   (``receipt_lightning.runs.write_atomic`` does steps 1-3);
2. ``fsync`` the file; for a path that already holds a checkpoint, first rewrite its sidecar to
   list both the old and the new hash, so the path verifies whichever file it holds;
3. ``os.replace`` the temporary file onto the final name (atomic on POSIX and on NFSv4/EFS) and
   ``fsync`` the directory so the rename itself is durable;
4. write the sidecar (atomically, the same way) listing only the new hash.

A crash at any point leaves either the previous valid checkpoint, or a new file without a
sidecar (partial: ignored by resume discovery), or a new valid one; never a file that verifies
and fails to load.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from typing import IO

from receipt_lightning.errors import FatalError
from receipt_lightning.runs import TMP_PREFIX, checkpoint_step, write_atomic, write_bytes_atomic

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".sha256"
READ_CHUNK = 8 << 20  # bytes per read when hashing (8 MiB: large sequential reads suit EFS)


class CheckpointCorruptError(FatalError):
    """A checkpoint whose bytes do not match its recorded sha256, or that has no record."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def list_step_checkpoints(ckpt_dir: str) -> list[tuple[int, str]]:
    """``(step, path)`` of every ``step-*.ckpt`` in ``ckpt_dir``, oldest first; [] if no dir."""
    try:
        names = os.listdir(ckpt_dir)
    except FileNotFoundError:
        return []
    found = [(checkpoint_step(n), os.path.join(ckpt_dir, n)) for n in names]
    return sorted((step, path) for step, path in found if step is not None)


def write_sidecar(path: str, digests: list[str]) -> None:
    """Write ``<path>.sha256`` atomically, one ``<hex>  <name>`` line per digest (sha256sum style)."""
    text = "".join(f"{d}  {os.path.basename(path)}\n" for d in digests).encode()
    write_bytes_atomic(path + SIDECAR_SUFFIX, text)


def read_sidecar(path: str) -> list[str]:
    """The digests listed for ``path``; [] when the sidecar is missing or unreadable (not UTF-8:
    it verifies nothing, so the checkpoint counts as partial and discovery falls back past it)."""
    try:
        with open(path + SIDECAR_SUFFIX, encoding="utf-8") as f:
            return [line.split()[0] for line in f if line.strip()]
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as err:
        log.warning("%s%s: not UTF-8 (%s); treated as no record", path, SIDECAR_SUFFIX, err.reason)
        return []


def save_verified(path: str, write: Callable[[IO[bytes]], None]) -> str:
    """Save a checkpoint with the protocol in the module docstring; returns its sha256 hex."""
    old = read_sidecar(path) if os.path.exists(path) else []

    def keep_old_valid(digest: str) -> None:
        if old:  # the path already verifies: make it verify for the new bytes too before the swap
            write_sidecar(path, [*old, digest])

    digest = write_atomic(path, write, before_replace=keep_old_valid)
    write_sidecar(path, [digest])
    return digest


def read_verified(path: str) -> bytes:
    """The bytes of ``path`` after checking them against the sidecar; CheckpointCorruptError if not."""
    digests = read_sidecar(path)
    if not digests:
        raise CheckpointCorruptError(path, f"no {SIDECAR_SUFFIX} record (partial or interrupted save)")
    with open(path, "rb") as f:
        data = f.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual not in digests:
        raise CheckpointCorruptError(
            path, f"sha256 {actual[:16]}... does not match the recorded {digests[-1][:16]}..."
        )
    return data


def verify_file(path: str) -> None:
    """Check ``path`` against its sidecar in chunks (no full copy in memory)."""
    digests = read_sidecar(path)
    if not digests:
        raise CheckpointCorruptError(path, f"no {SIDECAR_SUFFIX} record (partial or interrupted save)")
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            sha.update(chunk)
    if sha.hexdigest() not in digests:
        raise CheckpointCorruptError(
            path, f"sha256 {sha.hexdigest()[:16]}... does not match the recorded record"
        )


def remove_checkpoint_files(path: str) -> None:
    """Delete a checkpoint and its sidecar. A crash in between leaves an orphan sidecar, which
    verifies nothing (a later save at that path rewrites it)."""
    for p in (path, path + SIDECAR_SUFFIX):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass  # already gone: retention is idempotent
    log.debug("removed checkpoint %s", path)


def remove_stale_temp_files(ckpt_dir: str) -> list[str]:
    """Delete temporary files a killed save left behind (ours: ``.tmp-`` prefix); returns them."""
    try:
        names = os.listdir(ckpt_dir)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        if name.startswith(TMP_PREFIX):
            try:
                os.unlink(os.path.join(ckpt_dir, name))
                removed.append(name)
            except FileNotFoundError:
                pass  # another cleaner got there first
    return removed
