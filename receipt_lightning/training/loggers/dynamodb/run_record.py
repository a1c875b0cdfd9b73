"""The run's status record (``sk = "run"``) across attempts, and small helpers of the logger."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from receipt_lightning.errors import FatalError, RetryableError
from receipt_lightning.runs import RunStatus
from receipt_lightning.training.loggers.dynamodb.items import RUN_SK, from_dynamo
from receipt_lightning.training.loggers.dynamodb.writer import is_retryable

STATUS_EVENT: dict[RunStatus, tuple[str, str]] = {  # status -> (event kind, level)
    RunStatus.RUNNING: ("running", "INFO"),
    RunStatus.COMPLETED: ("finished", "INFO"),
    RunStatus.FAILED: ("failed", "ERROR"),
    RunStatus.INTERRUPTED: ("interrupted", "WARNING"),
}


def now_s() -> Decimal:
    """Seconds since the Unix epoch, millisecond precision, as DynamoDB stores numbers."""
    return Decimal(f"{time.time():.3f}")


def read_run_record(client: Any, table: str, run_id: str) -> dict[str, Any] | None:
    """The run's status record, or None for a new run; typed errors name the table."""
    from boto3.dynamodb.types import TypeDeserializer

    try:
        resp = client.get_item(
            TableName=table, Key={"run_id": {"S": run_id}, "sk": {"S": RUN_SK}}, ConsistentRead=True
        )
    except Exception as e:  # noqa: BLE001 - translated to our typed errors right here
        code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
        where = f"metrics table {table!r} (aws.metrics_table)"
        if code == "ResourceNotFoundException":
            raise FatalError(f"{where} does not exist") from e
        cls = RetryableError if is_retryable(e) else FatalError
        raise cls(f"{where}: cannot read run {run_id!r}: {e}") from e
    if "Item" not in resp:
        return None
    de = TypeDeserializer()
    return from_dynamo({k: de.deserialize(v) for k, v in resp["Item"].items()})


def next_attempt(previous: dict[str, Any] | None) -> dict[str, Any]:
    """The record of a new attempt: attempt number up by one, history carried over."""
    prev = previous or {}
    now = now_s()
    return {
        "attempt": int(prev.get("attempt", 0)) + 1,
        "created_at": prev.get("created_at", now),
        "attempt_started_at": now,
        "last_step": prev.get("last_step"),
        "last_checkpoint_step": prev.get("last_checkpoint_step"),
        "last_checkpoint_path": prev.get("last_checkpoint_path"),
    }


def opening_event(
    run_id: str, previous: dict[str, Any] | None, attempt: int
) -> tuple[str, str, dict[str, Any]]:
    """(kind, message, attrs) of the event that opens an attempt: "started" or "resumed"."""
    if previous is None:
        return "started", f"started run {run_id}", {"attempt": attempt}
    step = previous.get("last_checkpoint_step")
    where = f"step {step}" if step is not None else "the start (no checkpoint recorded)"
    attrs = {"step": step, "attempt": attempt, "previous_status": previous.get("status")}
    return "resumed", f"resumed from {where}, attempt {attempt}", attrs


def scalar(value: Any) -> float | int | None:
    """A Python number from a float, int, bool, tensor or numpy scalar; None if not a number."""
    if isinstance(value, (int, float)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            value = item()
        except (ValueError, RuntimeError):  # a tensor with more than one element
            return None
        return value if isinstance(value, (int, float)) else None
    return None
