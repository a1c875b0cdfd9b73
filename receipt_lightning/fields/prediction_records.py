"""Prediction records as ``predict --format json|jsonl`` and ``serve`` write them, read back
for scoring: ``{"id", <field>: value, ..., "details": {...}}``; only the field -> string keys
count, exactly as in the per-receipt files."""

from __future__ import annotations

import json
from pathlib import Path

from receipt_lightning.errors import InputError

NOT_FIELDS = ("id", "details")  # record keys that are not field names


def load_prediction_records(path: str | Path) -> dict[str, dict[str, str]]:
    """``{id: fields}`` from a JSON array of records or a JSON Lines file of them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read predictions: {err}", source=str(path)) from err
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg}", source=str(path), line=err.lineno) from err
        lines = [(i + 1, item) for i, item in enumerate(items)]
        where = "record"
    else:
        lines = []
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                lines.append((n, json.loads(raw)))
            except json.JSONDecodeError as err:
                raise InputError(f"invalid JSON: {err.msg}", source=str(path), line=n) from err
        where = "line"
    out: dict[str, dict[str, str]] = {}
    for n, record in lines:
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            raise InputError(f"{where} {n}: expected an object with a string 'id'", source=str(path))
        fields = {}
        for key, value in record.items():
            if key in NOT_FIELDS or value is None:
                continue
            if not isinstance(value, str):
                raise InputError(f"{where} {n}: field {key!r} must be a string", source=str(path))
            fields[key] = value
        if record["id"] in out:
            raise InputError(f"{where} {n}: repeated id {record['id']!r}", source=str(path))
        out[record["id"]] = fields
    return out
