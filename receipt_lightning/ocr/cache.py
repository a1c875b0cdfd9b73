"""OCR results cached on disk by content: ``sha256(image bytes)`` + engine version + the settings
that change what the engine reads. The same scan under another name, in another epoch or another
run is never OCR'd twice; a new engine version or setting misses and re-reads.

Layout: ``<cache_dir>/<key[:2]>/<key>.json``, written atomically (temporary file + rename), so a
killed run leaves no half-written entry. An unreadable entry is a miss (with a warning) and is
rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from receipt_lightning.ocr.result import OcrPage

log = logging.getLogger(__name__)


def cache_key(data: bytes, engine_version: str, settings: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(hashlib.sha256(data).digest())
    h.update(json.dumps({"engine": engine_version, "settings": settings}, sort_keys=True).encode())
    return h.hexdigest()


class OcrCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[OcrPage] | None:
        path = self._path(key)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return [OcrPage.from_dict(p) for p in json.loads(raw)["pages"]]
        except (ValueError, KeyError, TypeError) as exc:  # a damaged entry: read again, then overwrite
            log.warning("%s: unreadable OCR cache entry (%s), OCR runs again", path, exc)
            return None

    def put(self, key: str, pages: list[OcrPage], meta: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({**meta, "pages": [p.to_dict() for p in pages]}, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)  # no half-written entry left behind; the error goes on
            raise
