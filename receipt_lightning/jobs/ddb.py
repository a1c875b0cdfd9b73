"""Plain Python values <-> DynamoDB attribute values (floats travel as Decimal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def _to_ddb(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        # repr round-trips the float exactly; Decimal(float) would carry binary noise.
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): _to_ddb(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_ddb(v) for v in value]
    return str(value)


def _from_ddb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_from_ddb(v) for v in value]
    return value


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    """A dict of plain values -> DynamoDB's typed attribute values."""
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(_to_ddb(v)) for k, v in values.items()}


def deserialize(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    de = TypeDeserializer()
    return {k: _from_ddb(de.deserialize(v)) for k, v in item.items()}


def is_conditional_failure(err: Exception) -> bool:
    code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
    return code == "ConditionalCheckFailedException"
