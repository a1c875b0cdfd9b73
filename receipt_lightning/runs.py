"""Run identity and run records: run ids, atomic JSON files, ``summary.json``, weight hashes."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SUMMARY_FILE = "summary.json"


def new_run_id() -> str:
    """A short, sortable, unique id: UTC date + 8 random hex digits (e.g. 20261129-3fa9c2d1).
    The date only helps humans sort; the run directory is keyed by the id, never by time."""
    return time.strftime("%Y%m%d", time.gmtime()) + "-" + secrets.token_hex(4)


def write_json_atomic(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write to a temp file in the same directory, fsync, rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


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
