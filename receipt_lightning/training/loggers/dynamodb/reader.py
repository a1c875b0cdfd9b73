"""Read a run back from the metrics table (written by ``DynamoDBLogger``).

``MetricsReader(table).series(run_id, "val_f1")`` gives one metric in step order,
``latest_metrics`` the newest point of each, ``events`` the last N log events, ``run_record`` the
status record and ``hparams`` the hyperparameters. ``format_run_details`` is what
``receipt-lightning job-details`` prints.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from receipt_lightning.training.loggers.dynamodb.items import (
    EVENT_PREFIX,
    HPARAMS_SK,
    METRIC_PREFIX,
    RUN_SK,
    LogEvent,
    MetricPoint,
    decode_event,
    decode_point,
    from_dynamo,
)


class MetricsReader:
    """Queries on one metrics table; ``client`` defaults to a new DynamoDB client."""

    def __init__(self, table: str, client: Any = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer

        from receipt_lightning.aws.session import client as make_client

        self.table = table
        self._client = client or make_client("dynamodb")
        self._de = TypeDeserializer()

    def run_record(self, run_id: str) -> dict[str, Any] | None:
        return self._get(run_id, RUN_SK)

    def hparams(self, run_id: str) -> dict[str, Any] | None:
        item = self._get(run_id, HPARAMS_SK)
        return None if item is None else item.get("params", {})

    def metric_names(self, run_id: str) -> list[str]:
        record = self.run_record(run_id) or {}
        names = record.get("metric_names")
        return sorted(names) if names else sorted(self.all_series(run_id))

    def series(self, run_id: str, name: str) -> list[MetricPoint]:
        """Every point of ``name``, in step order (one per step)."""
        low, high = f"{METRIC_PREFIX}{name}#{'0' * 10}", f"{METRIC_PREFIX}{name}#{'9' * 10}"
        rows = self._query(run_id, "sk BETWEEN :lo AND :hi", {":lo": low, ":hi": high})
        points = (decode_point(r) for r in rows)
        return [p for p in points if p.name == name]

    def all_series(self, run_id: str) -> dict[str, list[MetricPoint]]:
        """Every metric of the run: name -> points in step order."""
        out: dict[str, list[MetricPoint]] = {}
        for row in self._query(run_id, "begins_with(sk, :p)", {":p": METRIC_PREFIX}):
            point = decode_point(row)
            out.setdefault(point.name, []).append(point)
        return out

    def latest_metrics(self, run_id: str) -> dict[str, MetricPoint]:
        """The point with the highest step of each metric."""
        latest: dict[str, MetricPoint] = {}
        for name in self.metric_names(run_id):
            low, high = f"{METRIC_PREFIX}{name}#{'0' * 10}", f"{METRIC_PREFIX}{name}#{'9' * 10}"
            cond, values = "sk BETWEEN :lo AND :hi", {":lo": low, ":hi": high}
            for row in self._query(run_id, cond, values, forward=False, page_size=10):
                point = decode_point(row)
                if point.name == name:
                    latest[name] = point
                    break
        return latest

    def events(self, run_id: str, last_n: int = 10) -> list[LogEvent]:
        """The last ``last_n`` log events, oldest first."""
        if last_n <= 0:
            return []
        rows = []
        for row in self._query(
            run_id, "begins_with(sk, :p)", {":p": EVENT_PREFIX}, forward=False, page_size=last_n
        ):
            rows.append(row)
            if len(rows) >= last_n:
                break
        return [decode_event(r) for r in reversed(rows)]

    def _get(self, run_id: str, sk: str) -> dict[str, Any] | None:
        resp = self._client.get_item(
            TableName=self.table, Key={"run_id": {"S": run_id}, "sk": {"S": sk}}, ConsistentRead=True
        )
        if "Item" not in resp:
            return None
        return from_dynamo({k: self._de.deserialize(v) for k, v in resp["Item"].items()})

    def _query(
        self, run_id: str, cond: str, values: dict[str, str], forward: bool = True, page_size: int = 0
    ):
        """Items (raw Python values, numbers as Decimal) of one run, lazily across pages."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": f"run_id = :r AND {cond}",
            "ExpressionAttributeValues": {":r": {"S": run_id}, **{k: {"S": v} for k, v in values.items()}},
            "ScanIndexForward": forward,
            "ConsistentRead": True,
        }
        if page_size:
            kwargs["Limit"] = page_size
        while True:
            resp = self._client.query(**kwargs)
            for raw in resp.get("Items", []):
                yield {k: self._de.deserialize(v) for k, v in raw.items()}
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    stamp = dt.datetime.fromtimestamp(float(seconds), tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_run_details(run_id: str, table: str, n_events: int = 10) -> str:
    """Status record, hyperparameter count, latest metrics and the last ``n_events`` events."""
    reader = MetricsReader(table)
    record = reader.run_record(run_id)
    if record is None:
        return f"run {run_id}: no record in metrics table {table!r}"
    lines = [
        f"run {run_id}  status {record.get('status', '?')}  attempt {record.get('attempt', '?')}  "
        f"last step {record.get('last_step', '-')}",
        f"created {_when(record.get('created_at'))}  updated {_when(record.get('updated_at'))}",
    ]
    if record.get("last_checkpoint_step") is not None:
        lines.append(
            f"last checkpoint: step {record['last_checkpoint_step']}  {record.get('last_checkpoint_path', '')}"
        )
    if record.get("detail"):
        lines.append("detail: " + ", ".join(f"{k}={v}" for k, v in record["detail"].items()))
    hparams = reader.hparams(run_id)
    if hparams is not None:
        lines.append(f"hyperparameters: {len(hparams)} top-level keys")
    latest = reader.latest_metrics(run_id)
    lines.append("latest metrics:" if latest else "latest metrics: none")
    width = max((len(n) for n in latest), default=0)
    for name, p in sorted(latest.items()):
        epoch = f"  epoch {p.epoch}" if p.epoch is not None else ""
        lines.append(f"  {name:<{width}}  {p.value:.6g}  (step {p.step}{epoch})")
    events = reader.events(run_id, n_events)
    lines.append(f"last {len(events)} events:" if events else "events: none")
    for e in events:
        stamp = dt.datetime.fromtimestamp(e.time_ms / 1000, tz=dt.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S.%f"
        )
        lines.append(f"  {stamp[:-3]}  {e.level:<7}  {e.kind:<12}  {e.message}")
    return "\n".join(lines)
