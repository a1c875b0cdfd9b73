"""Bounded retries of transient AWS errors (jobs/transient.py): what is retried, how long, and
that anything else is raised at once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from receipt_lightning.jobs.transient import MAX_PAUSE_S, is_transient, pauses, retry_transient


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s

    def __call__(self) -> float:
        return self.now


def test_what_counts_as_transient():
    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(_client_error("ThrottlingException", 400))
    assert is_transient(_client_error("ProvisionedThroughputExceededException", 400))
    assert is_transient(_client_error("Whatever", 503))
    assert not is_transient(_client_error("ConditionalCheckFailedException", 400))
    assert not is_transient(_client_error("AccessDeniedException", 403))
    assert not is_transient(ValueError("bug"))


def test_pauses_double_are_capped_and_fit_the_budget():
    assert pauses(1.0) == pytest.approx([0.2, 0.4, 0.4])
    long = pauses(60.0)
    assert long[:5] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2]) and max(long) == MAX_PAUSE_S
    assert sum(long) == pytest.approx(60.0)
    assert pauses(0.0) == []


def test_transient_errors_are_retried_until_the_call_succeeds():
    clock, calls = FakeClock(), []

    def call():
        calls.append(clock.now)
        if len(calls) < 3:
            raise _client_error("ThrottlingException", 400)
        return "ok"

    assert retry_transient(call, "test", budget_s=10.0, sleep=clock.sleep, clock=clock) == "ok"
    assert clock.slept == pytest.approx([0.2, 0.4])


def test_the_last_transient_error_is_raised_once_the_budget_is_spent():
    clock, calls = FakeClock(), []

    def call():
        calls.append(clock.now)
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    with pytest.raises(EndpointConnectionError):
        retry_transient(call, "test", budget_s=3.0, sleep=clock.sleep, clock=clock)
    assert sum(clock.slept) <= 3.0 + 1e-9 and len(calls) == len(clock.slept) + 1 >= 4


def test_other_errors_are_raised_at_once():
    clock = FakeClock()

    def call():
        raise _client_error("ConditionalCheckFailedException", 400)

    with pytest.raises(ClientError):
        retry_transient(call, "test", budget_s=10.0, sleep=clock.sleep, clock=clock)
    assert clock.slept == []
