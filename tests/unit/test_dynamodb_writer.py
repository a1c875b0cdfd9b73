"""DynamoDBBatchWriter without a server: batch size limit, coalescing, retries (botocore's Stubber
and injected faults; moto never throttles nor returns UnprocessedItems), stored errors, and that
``put`` never waits for the network."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from receipt_lightning.errors import FatalError, RetryableError
from receipt_lightning.training.loggers.dynamodb.writer import (
    MAX_BATCH,
    DynamoDBBatchWriter,
    backoff_delay,
    is_retryable,
)

TABLE = "metrics"


def item(i: int, value: int = 0) -> dict:
    return {"run_id": "r", "sk": f"m#loss#{i:010d}", "step": i, "value": Decimal(value)}


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "BatchWriteItem",
    )


class FakeClient:
    """Records every BatchWriteItem; ``faults`` are raised (exceptions) or returned (dicts) first."""

    def __init__(self, faults: list | None = None, gate: threading.Event | None = None) -> None:
        self.faults = list(faults or [])
        self.gate = gate
        self.calls: list[list[dict]] = []
        self.stored: dict[str, dict] = {}

    def batch_write_item(self, RequestItems: dict) -> dict:  # noqa: N803 - boto3's name
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        requests = RequestItems[TABLE]
        self.calls.append(requests)
        assert len(requests) <= MAX_BATCH
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            if fault == "half":  # first half processed, second half returned unprocessed
                done, rest = requests[: len(requests) // 2], requests[len(requests) // 2 :]
                self._store(done)
                return {"UnprocessedItems": {TABLE: rest}}
        self._store(requests)
        return {"UnprocessedItems": {}}

    def _store(self, requests: list[dict]) -> None:
        for r in requests:
            it = r["PutRequest"]["Item"]
            self.stored[it["sk"]["S"]] = it


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def make_writer(client, clock: FakeClock | None = None, **kw) -> DynamoDBBatchWriter:
    clock = clock or FakeClock()
    kw.setdefault("flush_interval_s", 60.0)  # only full batches or flush() send, unless a test says so
    return DynamoDBBatchWriter(
        TABLE, client_factory=lambda: client, sleep=clock.sleep, clock=clock, rand=lambda: 1.0, **kw
    )


def test_batches_never_exceed_25_items():
    client = FakeClient()
    writer = make_writer(client)
    for i in range(60):
        writer.put(item(i))
    writer.close()
    assert sorted(len(c) for c in client.calls) == [10, 25, 25]
    assert len(client.stored) == 60 and writer.items_written == 60


def test_same_key_is_written_once_with_the_last_value():
    client = FakeClient()
    writer = make_writer(client)
    for v in range(3):
        writer.put(item(7, value=v))
    writer.flush()
    assert [len(c) for c in client.calls] == [1]
    assert client.stored["m#loss#0000000007"]["value"] == {"N": "2"}
    writer.close()


def test_flush_interval_sends_a_partial_batch_without_flush():
    client = FakeClient()
    writer = make_writer(client, flush_interval_s=0.05)
    writer.put(item(1))
    deadline = time.monotonic() + 5
    while not client.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [len(c) for c in client.calls] == [1]
    writer.close()


def test_throttling_unprocessed_and_5xx_are_retried_with_stubber():
    import boto3

    client = boto3.session.Session(region_name="us-east-1").client("dynamodb")
    clock = FakeClock()
    writer = make_writer(client, clock, base_backoff_s=0.1, max_backoff_s=1.0)
    batch = [item(i) for i in range(10)]
    requests = [
        {
            "PutRequest": {
                "Item": {
                    "run_id": {"S": "r"},
                    "sk": {"S": it["sk"]},
                    "step": {"N": str(i)},
                    "value": {"N": "0"},
                }
            }
        }
        for i, it in enumerate(batch)
    ]
    with Stubber(client) as stub:
        stub.add_client_error(
            "batch_write_item", "ProvisionedThroughputExceededException", http_status_code=400
        )
        stub.add_client_error("batch_write_item", "ThrottlingException", http_status_code=400)
        stub.add_response(
            "batch_write_item",
            {"UnprocessedItems": {TABLE: requests[6:]}},
            {"RequestItems": {TABLE: requests}},
        )
        stub.add_client_error("batch_write_item", "InternalServerError", http_status_code=500)
        stub.add_client_error("batch_write_item", "RequestLimitExceeded", http_status_code=400)
        stub.add_response(
            "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {TABLE: requests[6:]}}
        )
        for it in batch:
            writer.put(it)
        writer.close()
        stub.assert_no_pending_responses()
    assert writer.calls == 6 and writer.items_written == 10
    # Full jitter with rand() == 1 gives the ceiling: base * 2**attempt, capped.
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.0]


def test_injected_unprocessed_items_and_connection_errors_are_retried():
    client = FakeClient(faults=["half", EndpointConnectionError(endpoint_url="http://x"), "half"])
    writer = make_writer(client)
    for i in range(20):
        writer.put(item(i))
    writer.close()
    assert len(client.stored) == 20
    assert [len(c) for c in client.calls] == [20, 10, 10, 5]


def test_retrying_stops_after_the_time_bound_and_surfaces():
    clock = FakeClock()
    client = FakeClient(faults=[client_error("ThrottlingException")] * 1000)
    writer = make_writer(client, clock, max_retry_time_s=3.0, base_backoff_s=0.1, max_backoff_s=1.0)
    writer.put(item(1))
    with pytest.raises(RetryableError, match="gave up after"):
        writer.flush()
    assert sum(clock.sleeps) <= 3.0 and len(client.calls) < 20
    writer.close()  # the error was raised once; nothing left


def test_non_retryable_error_is_kept_and_raised_at_flush():
    client = FakeClient(faults=[client_error("ValidationException")])
    writer = make_writer(client)
    writer.put(item(1))
    with pytest.raises(FatalError, match="ValidationException"):
        writer.flush()
    assert len(client.calls) == 1  # not retried
    writer.put(item(2))
    writer.close()  # later items still go out; the error was reported once
    assert list(client.stored) == ["m#loss#0000000002"]


def test_unexpected_exception_in_the_thread_is_kept_too():
    class Broken:
        def batch_write_item(self, RequestItems):  # noqa: N803
            raise KeyError("boom")

    writer = make_writer(Broken())
    writer.put(item(1))
    with pytest.raises(FatalError, match="boom"):
        writer.close()


def test_put_never_waits_for_the_network():
    gate = threading.Event()
    client = FakeClient(gate=gate)
    writer = make_writer(client)
    try:
        start = time.perf_counter()
        for i in range(500):  # 20 full batches while the first call hangs
            writer.put(item(i))
        elapsed = time.perf_counter() - start
        # A put that waited for the hung call would take the gate's 10 s; 2 s leaves room for a
        # loaded machine.
        assert elapsed < 2.0, f"put blocked: {elapsed:.3f} s for 500 items"
        with pytest.raises(RetryableError, match="still unwritten"):
            writer.flush(timeout_s=0.1)
    finally:
        gate.set()
    writer.close()
    assert len(client.stored) == 500


def test_backoff_is_full_jitter_below_the_exponential_ceiling():
    assert backoff_delay(3, 0.05, 5.0, lambda: 1.0) == pytest.approx(0.4)
    assert backoff_delay(30, 0.05, 5.0, lambda: 1.0) == 5.0
    assert backoff_delay(3, 0.05, 5.0, lambda: 0.0) == 0.0
    assert backoff_delay(2, 0.05, 5.0, lambda: 0.5) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("err", "retry"),
    [
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("RequestLimitExceeded"), True),
        (client_error("SomethingNew", 503), True),
        (client_error("ValidationException"), False),
        (client_error("ResourceNotFoundException"), False),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (ValueError("x"), False),
    ],
)
def test_is_retryable(err, retry):
    assert is_retryable(err) is retry
