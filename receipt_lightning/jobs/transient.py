"""Transient AWS errors: which errors are worth retrying, and a bounded retry for the calls that
record an attempt's outcome (the trainer has already exited; one throttled call must not leave
the job to be found LOST when its lease runs out)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_PAUSE_S = 0.2  # pause after the first transient failure (s); doubles per retry
MAX_PAUSE_S = 5.0  # longest pause between two tries (s)


def is_transient(err: BaseException) -> bool:
    """An AWS error worth retrying: any botocore transport error (timeouts, connection errors),
    throttling, 5xx, or our own ``RetryableError``."""
    from botocore.exceptions import BotoCoreError, ClientError

    from receipt_lightning.errors import RetryableError

    if isinstance(err, (BotoCoreError, RetryableError)):
        return True
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500 or "Throttl" in str(error.get("Code", "")) or error.get("Code") in (
            "ProvisionedThroughputExceededException", "RequestLimitExceeded", "InternalServerError",
            "ServiceUnavailable", "RequestTimeout",
        )  # fmt: skip
    return False


def pauses(budget_s: float) -> list[float]:
    """The pauses (s) between tries within ``budget_s``: 0.2, 0.4, 0.8, ... capped at 5 s each,
    and never more in all than the budget."""
    out: list[float] = []
    pause, left = FIRST_PAUSE_S, budget_s
    while left > 0:
        out.append(min(pause, left))
        left -= out[-1]
        pause = min(MAX_PAUSE_S, pause * 2)
    return out


def retry_transient(
    call: Callable[[], T],
    what: str,
    budget_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``call()``, tried again after each transient AWS error until ``budget_s`` seconds have
    passed; the last transient error, or any other error, is raised. Only for calls that are safe
    to repeat: reads, fenced writes, FIFO sends with a deduplication id."""
    deadline = clock() + budget_s
    plan = iter(pauses(budget_s))
    tries = 0
    while True:
        tries += 1
        try:
            return call()
        except Exception as err:  # noqa: BLE001 - non-transient errors are re-raised at once
            if not is_transient(err):
                raise
            pause = next(plan, None)
            if pause is None or clock() + pause > deadline:
                log.error("%s: gave up after %d tries: %s: %s", what, tries, type(err).__name__, err)
                raise
            log.warning("%s failed (%s: %s); trying again in %.1f s", what, type(err).__name__, err, pause)
            sleep(pause)
