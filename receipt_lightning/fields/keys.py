"""Key files (one JSON object of field -> value per receipt) and prediction files: read with
errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from receipt_lightning.errors import InputError


def read_json_object(path: Path, expected: str = "a JSON object of field -> string") -> dict:
    """A JSON file holding one object (a key file, a prediction); errors name the file and line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", source=str(path), line=err.lineno) from err
    if not isinstance(data, dict):
        raise InputError(f"expected {expected}", source=str(path))
    return data


def read_key(path: Path, fields: Sequence[str]) -> dict[str, str]:
    """Key values of one receipt, restricted to ``fields`` (missing or empty values left out)."""
    data = read_json_object(path, "a key file holding a JSON object of field -> string")
    key: dict[str, str] = {}
    for name in fields:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(f"key {name!r} must be a string, got {type(value).__name__}", source=str(path))
        if value.strip():
            key[name] = value
    return key
