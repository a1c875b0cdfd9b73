"""Key files (one JSON object of field -> value per receipt) and prediction files: read with
errors that name the file and line."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from receipt_lightning.errors import InputError

log = logging.getLogger(__name__)


def read_json_object(path: Path, expected: str = "a JSON object of field -> string") -> dict:
    """A JSON file holding one object (a key file, a prediction); errors name the file and line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        log.warning("%s:%d: invalid UTF-8 (%s at byte %d); undecodable bytes replaced", path, line,
                    err.reason, err.start)  # fmt: skip
        text = raw.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", source=str(path), line=err.lineno) from err
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", source=str(path)) from None
    except ValueError as err:  # an integer over Python's digit limit
        raise InputError(f"invalid number: {str(err)[:120]}", source=str(path)) from None
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
