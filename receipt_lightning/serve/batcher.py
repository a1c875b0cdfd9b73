"""``InferenceBatcher``: requests wait in a bounded queue; one inference thread takes everything
waiting (up to ``max_batch`` receipts) as one batch, so concurrent requests share forward passes
and the event loop never runs the model. One thread, because torch (or ONNX Runtime) already
spreads one forward pass over the cores; two would only contend for them."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from receipt_lightning.receipt import Receipt

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The queue is full: the caller answers 503 at once rather than wait without bound."""


class InferenceBatcher:
    def __init__(self, predictor: Any, max_pending: int, max_batch: int, window_batch: int) -> None:
        self.predictor = predictor
        self.max_batch = max_batch
        self.window_batch = window_batch
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._loop, name="inference", daemon=True)
        self.batches = 0  # batches run so far (for /healthz)
        self.receipts = 0  # receipts predicted so far

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)  # blocks if full: the thread drains it
        self._thread.join(timeout=60)

    def pending(self) -> int:
        return self._queue.qsize()

    def submit(self, receipt: Receipt) -> asyncio.Future:
        """A future for ``receipt``'s prediction record, resolved on the caller's event loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        try:
            self._queue.put_nowait((receipt, future, loop))
        except queue.Full as err:
            raise Overloaded from err
        return future

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            items = [item]
            stop = False
            while len(items) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                items.append(more)
            # A request that timed out has cancelled its future; its receipt is not run. (Read
            # from this thread, ``cancelled()`` may lag by a moment: then one extra is run.)
            items = [i for i in items if not i[1].cancelled()]
            if items:
                self._run(items)
            if stop:
                return

    def _run(self, items: list) -> None:
        receipts = [receipt for receipt, _, _ in items]
        try:
            records = self.predictor.predict_records(receipts, batch_size=self.window_batch)
        except Exception as err:  # handed to each waiting request (500), the thread lives on
            if len(items) > 1:  # one bad receipt must not fail the others batched with it
                for item in items:
                    self._run([item])
                return
            log.exception("prediction failed")
            _, future, loop = items[0]
            loop.call_soon_threadsafe(_set_exception, future, err)
            return
        self.batches += 1
        self.receipts += len(items)
        for (_, future, loop), record in zip(items, records, strict=True):
            loop.call_soon_threadsafe(_set_result, future, record)


def _set_result(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future, err: BaseException) -> None:
    if not future.done():
        future.set_exception(err)
