"""Which checkpoint a run directory stands for: the one place that turns "a run directory or a
checkpoint" into a checkpoint file (``predict``, ``export``, warm starts).

A run directory's ``summary.json`` names its ``best_checkpoint`` (the monitored metric's best)
and its ``last_checkpoint``; the best is taken, else the last. Those paths are absolute on the
machine that trained (an EFS mount point); where one does not exist here, the file of the same
name under the run directory's ``checkpoints/`` is taken (the run directory was copied or is
mounted elsewhere).
"""

from __future__ import annotations

from pathlib import Path

from receipt_lightning.errors import InputError
from receipt_lightning.runs import SUMMARY_FILE, read_summary

CHECKPOINT_FIELDS = ("best_checkpoint", "last_checkpoint")  # summary.json keys, in preference order


def resolve_checkpoint(path: str | Path) -> Path:
    """``path`` itself when it is a file, else the checkpoint its run directory's summary names."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputError("no such checkpoint file or run directory", source=str(path))
    try:
        summary = read_summary(path)
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        raise InputError(f"unreadable {SUMMARY_FILE}: {err}", source=str(path)) from err
    if summary is None:
        raise InputError(
            f"a directory without {SUMMARY_FILE}: give a run directory or a .ckpt file", source=str(path)
        )
    for key in CHECKPOINT_FIELDS:
        named = summary.get(key)
        if not named or not isinstance(named, str):
            continue
        for candidate in (Path(named), path / "checkpoints" / Path(named).name):
            if candidate.is_file():
                return candidate
    named = {key: summary.get(key) for key in CHECKPOINT_FIELDS}
    raise InputError(f"{SUMMARY_FILE} names no checkpoint that exists here ({named})", source=str(path))


def is_final_fit(path: str | Path) -> bool:
    """Whether the run that ``path`` (a run directory, or a checkpoint in its ``checkpoints/``)
    belongs to trained on every receipt with no validation (``summary.json`` ``validated``
    false): scoring it on a held-out split scores receipts it trained on."""
    path = Path(path)
    run_dir = path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else None
    if run_dir is None:
        return False
    try:
        summary = read_summary(run_dir)
    except ValueError:  # unreadable: resolve_checkpoint reports it where it matters
        return False
    return bool(summary) and summary.get("validated") is False
