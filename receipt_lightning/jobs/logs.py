"""Trainer logs readable from outside the VPC: the worker copies each attempt's log
(``<run dir>/worker/attempt-N.log`` on EFS) into the metrics table, and ``job-logs`` reads it.

Items: partition ``run_id`` = the job id, sort key ``l#<attempt:04d>#<seq:08d>`` for chunk
``seq`` (text cut at a line end, at most ``chunk_bytes``) and ``l#<attempt:04d>#end`` once the
attempt is over. Why DynamoDB and not CloudWatch Logs or S3: see docs/aws.md "Job logs".

The rate is bounded: one PutItem of at most ``chunk_bytes`` per ``interval_s`` while the
trainer runs (16 KiB/s by default: far more than a training log writes; a flood falls behind
rather than costing more), ``max_bytes`` per attempt in all, and on exit at most
``final_chunks`` more chunks (the end of the log, where tracebacks are), with a line saying
what was skipped. The full log stays on EFS.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)
PREFIX = "l#"
END = "end"


def chunk_key(attempt: int, seq: int) -> str:
    return f"{PREFIX}{attempt:04d}#{seq:08d}"


def end_key(attempt: int) -> str:
    return f"{PREFIX}{attempt:04d}#{END}"


@dataclass(frozen=True)
class ShipLimits:
    interval_s: float = 2.0  # seconds between shipments while the trainer runs
    chunk_bytes: int = 16 * 1024  # bytes per item (DynamoDB items are <= 400 KB; 1 WCU per KB)
    max_bytes: int = 8 * 1024 * 1024  # bytes shipped per attempt at most, then a marker line
    final_chunks: int = 16  # chunks shipped at most once the trainer has exited


class LogShipper:
    """Copies one attempt's log file into the metrics table from a background thread."""

    def __init__(self, table: str, job_id: str, attempt: int, path: Path, limits: ShipLimits = ShipLimits()):
        self.table, self.job_id, self.attempt, self.path = table, job_id, attempt, Path(path)
        self.limits = limits
        self.offset = 0  # bytes of the file already shipped (or skipped)
        self.seq = 0  # next chunk number
        self.shipped = 0  # bytes shipped so far
        self._capped = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _put(self, sk: str, text: str, **extra: Any) -> None:
        from receipt_lightning.aws.session import client
        from receipt_lightning.jobs.ddb import serialize

        item = {
            "run_id": self.job_id,
            "sk": sk,
            "text": text,
            "at": time.time(),
            "attempt": self.attempt,
            **extra,
        }
        client("dynamodb").put_item(TableName=self.table, Item=serialize(item))

    def _read_new(self, limit: int) -> bytes:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                return f.read(limit)
        except OSError:
            return b""  # not created yet: nothing to ship

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def ship_once(self, final: bool = False) -> bool:
        """Ship at most one chunk; True if something was shipped."""
        if self._capped:
            return False
        if self.shipped >= self.limits.max_bytes:
            skipped = self._size() - self.offset
            self._put(chunk_key(self.attempt, self.seq),
                      f"[receipt-lightning: log capped at {self.limits.max_bytes} bytes for this attempt; "
                      f"the rest ({skipped} bytes so far) is in {self.path} on the shared file system]\n")  # fmt: skip
            self.seq += 1
            self._capped = True
            return True
        data = self._read_new(self.limits.chunk_bytes)
        if not data:
            return False
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) < self.limits.chunk_bytes and not final:
                return False  # half a line: wait for its end
            cut = len(data)
        text = data[:cut].decode("utf-8", errors="replace")
        self._put(chunk_key(self.attempt, self.seq), text)
        self.seq += 1
        self.offset += cut
        self.shipped += cut
        return True

    def _run(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        while not self._stop.wait(self.limits.interval_s):
            try:
                self.ship_once()
            except (BotoCoreError, ClientError) as err:
                # Logs are for people; the next interval tries again from the same offset.
                log.warning("job %s: log shipping failed: %s", self.job_id, err)

    def start(self) -> LogShipper:
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread, ship the end of the log (bounded), then the end marker."""
        from botocore.exceptions import BotoCoreError, ClientError

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            remaining = self._size() - self.offset
            budget = self.limits.final_chunks * self.limits.chunk_bytes
            if remaining > budget and not self._capped:
                self._put(chunk_key(self.attempt, self.seq),
                          f"[receipt-lightning: {remaining - budget} bytes skipped here; "
                          f"the full log is {self.path} on the shared file system]\n")  # fmt: skip
                self.seq += 1
                self.offset += remaining - budget
            for _ in range(self.limits.final_chunks + 1):
                if not self.ship_once(final=True):
                    break
            self._put(end_key(self.attempt), "", chunks=self.seq)
        except (BotoCoreError, ClientError) as err:
            log.warning("job %s: final log shipment failed: %s", self.job_id, err)


def start_shipping(attempt: Any, proc: Any) -> LogShipper | None:
    """The worker's hook: ship this attempt's log when the worker knows the metrics table."""
    table = attempt.opts.metrics_table
    if not table:
        return None
    return LogShipper(table, attempt.msg.job_id, int(attempt.lease.attempt or 0), proc.log_path).start()


# ---------------------------------------------------------------- reading (job-logs)


@dataclass
class Chunk:
    attempt: int
    seq: int  # -1 for the end marker
    text: str


def read_chunks(table: str, job_id: str, attempt: int, after_seq: int = -1) -> Iterator[Chunk]:
    """Chunks of ``attempt`` after ``after_seq``, in order; the end marker last (seq -1)."""
    from receipt_lightning.aws.session import client
    from receipt_lightning.jobs.ddb import deserialize

    ddb = client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "run_id = :r AND sk BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {
            ":r": {"S": job_id},
            ":lo": {"S": chunk_key(attempt, after_seq + 1)},
            ":hi": {"S": end_key(attempt)},
        },
        "ConsistentRead": True,
    }
    while True:
        resp = ddb.query(**kwargs)
        for raw in resp.get("Items", []):
            item = deserialize(raw) or {}
            tail = str(item["sk"]).rsplit("#", 1)[1]
            yield Chunk(attempt, -1 if tail == END else int(tail), str(item.get("text", "")))
        if "LastEvaluatedKey" not in resp:
            return
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def print_logs(
    table: str,
    job_id: str,
    get_job: Callable[[], dict[str, Any] | None],
    *,
    attempt: int | None = None,
    follow: bool = False,
    poll_s: float = 1.0,
    out: TextIO | None = None,
    timeout_s: float | None = None,
) -> int:
    """Print the log of ``attempt`` (None: every attempt in order, each under a header). With
    ``follow``, keep printing new lines until the job ends (or that attempt ends). Returns the
    chunks printed."""
    from receipt_lightning.jobs.records import TERMINAL

    out = out or sys.stdout
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    current, seq, printed, header_done = attempt or 1, -1, 0, False
    while True:
        ended = False
        for chunk in read_chunks(table, job_id, current, seq):
            if chunk.seq == -1:
                ended = True
                break
            if attempt is None and not header_done:
                out.write(f"==> attempt {current} <==\n")
                header_done = True
            out.write(chunk.text)
            seq, printed = chunk.seq, printed + 1
        out.flush()
        job = get_job() or {}
        latest = int(job.get("attempt") or 0)
        if attempt is None and current < latest and (ended or not follow):
            current, seq, header_done = current + 1, -1, False  # on to the next attempt
            continue
        if not follow or (ended and (attempt is not None or job.get("status") in TERMINAL)):
            return printed
        if not ended and job.get("status") in TERMINAL and current >= latest:
            # The job ended but this attempt's end marker never came (its worker vanished, or
            # the marker is on its way): allow a few polls, then stop.
            if time.time() - float(job.get("ended_at") or 0) > 10 * poll_s:
                return printed
        if deadline is not None and time.monotonic() > deadline:
            return printed
        time.sleep(poll_s)
