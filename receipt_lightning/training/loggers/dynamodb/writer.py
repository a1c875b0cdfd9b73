"""A background thread that writes items to one DynamoDB table with BatchWriteItem.

``put`` only stores the item in memory and never touches the network, so the training loop never
waits for DynamoDB. The thread sends at most ``MAX_BATCH`` (25) items per call: AWS rejects more,
moto does not, so the limit is enforced here. ``UnprocessedItems``, throttling, 5xx and connection
errors are retried with exponential backoff and full jitter for at most ``max_retry_time_s`` per
batch; any other error is kept and re-raised by the next ``flush``.
"""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from receipt_lightning.errors import FatalError, ReceiptLightningError, RetryableError

log = logging.getLogger(__name__)

MAX_BATCH = 25  # BatchWriteItem's limit on items per request
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


def backoff_delay(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float]) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
    [0, min(cap, base * 2**attempt)], seconds."""
    return rand() * min(cap_s, base_s * (2**attempt))


def is_retryable(err: BaseException) -> bool:
    """Throttling, 5xx and connection trouble may pass; everything else will not."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in RETRYABLE_CODES or int(status) >= 500
    return isinstance(err, (ConnectionError, HTTPClientError))


def default_client() -> Any:
    """A DynamoDB client whose own retries are off: this writer owns retry and its time bound."""
    from botocore.config import Config

    from receipt_lightning.aws.session import client

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=20,
        # Items are built by our own code and DynamoDB validates them again; skipping botocore's
        # client-side check saves ~30 % of the writer thread's CPU per batch.
        parameter_validation=False,
    )
    return client("dynamodb", config=config)


class DynamoDBBatchWriter:
    """Buffers items (Python values: str, ``Decimal``, bool, maps, lists) keyed by ``key_names``;
    a later ``put`` of the same key replaces the buffered item (last write wins, and no batch
    ever holds a key twice, which DynamoDB rejects)."""

    def __init__(
        self,
        table: str,
        *,
        key_names: tuple[str, ...] = ("run_id", "sk"),
        client_factory: Callable[[], Any] = default_client,
        flush_interval_s: float = 2.0,
        max_retry_time_s: float = 120.0,
        base_backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.table = table
        self._key_names = key_names
        self._client_factory = client_factory
        self._flush_interval_s = flush_interval_s  # longest an item waits while < 25 are buffered
        self._max_retry_time_s = max_retry_time_s
        self._base_backoff_s = base_backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._cond = threading.Condition()
        self._pending: dict[tuple, dict[str, Any]] = {}
        self._in_flight = 0
        self._flush_waiters = 0
        self._closing = False
        self._error: ReceiptLightningError | None = None
        self._thread: threading.Thread | None = None
        self.items_written = 0
        self.calls = 0
        atexit.register(_flush_at_exit, weakref.ref(self))

    def put(self, item: dict[str, Any]) -> None:
        """Buffer one item; returns at once."""
        key = tuple(item[k] for k in self._key_names)
        with self._cond:
            self._pending[key] = item
            if self._thread is None or not self._thread.is_alive():
                self._start()
            elif len(self._pending) in (1, MAX_BATCH):
                # Wake the thread only to start the flush interval or to send a full batch.
                self._cond.notify_all()

    def flush(self, timeout_s: float | None = None) -> None:
        """Block until every item put so far is written; re-raise a stored write error once."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._pending or self._in_flight:
                    if self._thread is None or not self._thread.is_alive():
                        self._start()
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise RetryableError(
                            f"DynamoDB table {self.table!r}: {len(self._pending) + self._in_flight} "
                            f"items still unwritten after {timeout_s:.1f} s"
                        )
                    self._cond.wait(left)
            finally:
                self._flush_waiters -= 1
            err, self._error = self._error, None
        if err is not None:
            raise err

    def close(self, timeout_s: float | None = None) -> None:
        """Flush, then stop the thread (a later ``put`` starts a new one)."""
        try:
            self.flush(timeout_s)
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
                thread = self._thread
            if thread is not None:
                thread.join(timeout=5.0)
            with self._cond:
                self._closing = False
                self._thread = None

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending) + self._in_flight

    def _start(self) -> None:
        # Daemon: a process that exits without finalize must not hang on this thread; the
        # atexit hook still gives buffered items a bounded chance to be written.
        self._thread = threading.Thread(target=self._run, name=f"ddb-writer-{self.table}", daemon=True)
        self._thread.start()

    def _next_batch(self) -> list[dict[str, Any]] | None:
        with self._cond:
            first_seen = None  # when the oldest buffered item was first seen, monotonic seconds
            while not self._closing:
                if len(self._pending) >= MAX_BATCH or (self._pending and self._flush_waiters):
                    break
                if not self._pending:
                    first_seen = None
                    self._cond.wait()
                    continue
                first_seen = first_seen or time.monotonic()
                left = first_seen + self._flush_interval_s - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if not self._pending:
                return None
            keys = list(self._pending)[:MAX_BATCH]
            batch = [self._pending.pop(k) for k in keys]
            self._in_flight = len(batch)
            return batch

    def _run(self) -> None:
        client = None
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                if client is None:
                    client = self._client_factory()
                self._write(client, batch)
                written, err = len(batch), None
            except ReceiptLightningError as e:
                written, err = 0, e
            except Exception as e:  # noqa: BLE001 - kept and re-raised at flush, never lost
                written, err = 0, FatalError(f"DynamoDB table {self.table!r}: write failed: {e!r}")
            with self._cond:
                self._in_flight = 0
                self.items_written += written
                if err is not None:
                    log.error("%s (%d items dropped)", err, len(batch))
                    if self._error is None:
                        self._error = err
                self._cond.notify_all()

    def _write(self, client: Any, batch: list[dict[str, Any]]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        if len(batch) > MAX_BATCH:
            raise FatalError(f"internal: batch of {len(batch)} items exceeds {MAX_BATCH}")
        ser = TypeSerializer()
        requests = [{"PutRequest": {"Item": {k: ser.serialize(v) for k, v in it.items()}}} for it in batch]
        start = self._clock()
        attempt = 0
        while requests:
            try:
                self.calls += 1
                resp = client.batch_write_item(RequestItems={self.table: requests})
                requests = resp.get("UnprocessedItems", {}).get(self.table, [])
                what = f"{len(requests)} unprocessed items"
            except Exception as e:  # noqa: BLE001 - classified right here: retried or raised
                if not is_retryable(e):
                    raise FatalError(f"DynamoDB table {self.table!r}: BatchWriteItem failed: {e}") from e
                what = f"{type(e).__name__}: {e}"
            if not requests:
                return
            delay = backoff_delay(attempt, self._base_backoff_s, self._max_backoff_s, self._rand)
            attempt += 1
            if self._clock() - start + delay > self._max_retry_time_s:
                raise RetryableError(
                    f"DynamoDB table {self.table!r}: gave up after {attempt} attempts in "
                    f"{self._clock() - start:.1f} s ({what})"
                )
            log.debug("BatchWriteItem retry %d in %.3f s: %s", attempt, delay, what)
            self._sleep(delay)


def _flush_at_exit(ref: weakref.ref) -> None:
    writer = ref()
    if writer is None or not writer.pending:
        return
    try:
        writer.flush(timeout_s=10.0)
    except ReceiptLightningError as e:  # at exit there is no caller left to raise to; say it
        log.error("unwritten metrics at exit: %s", e)
