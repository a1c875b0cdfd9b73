"""Structured access logs: one JSON object per request on the ``receipt_lightning.serve.access``
logger (stderr by default), e.g.::

    {"ts": "2026-11-30T14:20:01.123Z", "request_id": "5f0c...", "client": "127.0.0.1",
     "method": "POST", "path": "/v1/extract", "status": 200, "ms": 41.7, "bytes_in": 9120}

Only values the server computed or parsed are logged, never a header or body echoed back, so a
client cannot forge log lines."""

from __future__ import annotations

import json
import logging
import sys
import time

ACCESS_LOGGER = "receipt_lightning.serve.access"


def configure_access_log(stream=None) -> logging.Logger:
    """The access logger writing bare JSON lines (no level prefix) to ``stream`` (stderr)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def log_access(**fields) -> None:
    now = time.time()
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    logging.getLogger(ACCESS_LOGGER).info(json.dumps({"ts": ts, **fields}, separators=(",", ":")))
