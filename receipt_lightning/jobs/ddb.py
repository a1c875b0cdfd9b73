"""Plain Python values <-> DynamoDB attribute values for the jobs, sweeps and workers tables;
the value rule (numbers, NaN, ranges) is ``receipt_lightning.aws.ddb_values``, shared with the
metrics table."""

from __future__ import annotations

from typing import Any

from receipt_lightning.aws.ddb_values import from_dynamo, to_dynamo


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    """A dict of plain values -> DynamoDB's typed attribute values."""
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(to_dynamo(v)) for k, v in values.items()}


def deserialize(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    de = TypeDeserializer()
    return {k: from_dynamo(de.deserialize(v)) for k, v in item.items()}


def is_conditional_failure(err: Exception) -> bool:
    code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
    return code == "ConditionalCheckFailedException"
