"""Plain Python values <-> DynamoDB attribute values (floats travel as Decimal)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

# DynamoDB numbers: magnitudes in [1e-130, 1e126) and at most 38 significant digits. Anything
# else (NaN, inf, 1e300, a 40-digit int) is refused by the service and fails the whole write.
DDB_MIN_MAGNITUDE = 1e-130
DDB_MAX_MAGNITUDE_EXCLUSIVE = 1e126
DDB_MAX_INT_EXCLUSIVE = 10**38


def encode_number(value: int | float) -> Decimal | str:
    """A number as DynamoDB stores it: a ``Decimal`` when the service accepts it, else a string
    (``"NaN"``, ``"Infinity"``, ``"-Infinity"`` or the number's repr), so a diverged run's summary
    is recorded instead of failing the write that records it."""
    if isinstance(value, int):
        return Decimal(value) if abs(value) < DDB_MAX_INT_EXCLUSIVE else str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value != 0.0 and not DDB_MIN_MAGNITUDE <= abs(value) < DDB_MAX_MAGNITUDE_EXCLUSIVE:
        return repr(value)
    # repr round-trips the float exactly; Decimal(float) would carry binary noise.
    return Decimal(repr(value))


def _to_ddb(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return encode_number(value)
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
