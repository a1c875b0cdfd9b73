"""The sweeps table: one item per sweep (key ``sweep_id``).

Item: ``sweep_id``, ``created_at`` / ``updated_at`` (seconds since the epoch), ``parameter_space``
({key: [values]}), ``fixed_overrides``, ``trials`` ({job id: overrides}), ``job_ids`` (a string
set), ``priority``, ``metric`` and ``mode`` (how trials are ranked), ``launcher``, ``sweeper``.
Recording is idempotent: ``job_ids`` grows by set union (DynamoDB ``ADD``) and every trial is
written under its own map key, so a resubmission or a second batch of the same sweep merges in.
"""

from __future__ import annotations

import time
from typing import Any

from receipt_lightning.errors import FatalError

# Trials per UpdateItem: keeps the expression well under DynamoDB's 4 KB expression limit.
_TRIALS_PER_UPDATE = 40


class SweepStore:
    """Reads and writes sweep items in one table."""

    def __init__(self, table: str | None):
        if not table:
            raise FatalError("no sweeps table: pass --sweeps-table or --stack, or set RL_SWEEPS_TABLE")
        self.table = table

    def _ddb(self):
        from receipt_lightning.aws.session import client

        return client("dynamodb")

    def record(
        self,
        sweep_id: str,
        trials: dict[str, list[str]],
        *,
        parameter_space: dict[str, list[str]],
        fixed_overrides: list[str],
        **attributes: Any,
    ) -> None:
        """Create the sweep (first call) or merge ``trials`` into it (later calls)."""
        from receipt_lightning.jobs.ddb import serialize

        now = time.time()
        head = {
            "created_at": now,
            "parameter_space": parameter_space,
            "fixed_overrides": fixed_overrides,
            "trials": {},
            **{k: v for k, v in attributes.items() if v is not None},
        }
        names = {"#u": "updated_at"}
        values: dict[str, Any] = {":u": now}
        sets = ["#u = :u"]
        for i, (key, value) in enumerate(head.items()):
            # if_not_exists: the first submission's settings stay; a resubmission only adds trials.
            names[f"#h{i}"] = key
            values[f":h{i}"] = value
            sets.append(f"#h{i} = if_not_exists(#h{i}, :h{i})")
        self._update(sweep_id, "SET " + ", ".join(sets), names, serialize(values))
        items = list(trials.items())
        for start in range(0, len(items), _TRIALS_PER_UPDATE):
            chunk = items[start : start + _TRIALS_PER_UPDATE]
            names = {"#t": "trials", "#j": "job_ids"}
            values = {}
            sets = []
            for i, (job_id, overrides) in enumerate(chunk):
                names[f"#k{i}"] = job_id
                values[f":o{i}"] = overrides
                sets.append(f"#t.#k{i} = :o{i}")
            raw = serialize(values)
            raw[":ids"] = {"SS": [job_id for job_id, _ in chunk]}
            self._update(sweep_id, "SET " + ", ".join(sets) + " ADD #j :ids", names, raw)

    def _update(self, sweep_id: str, expression: str, names: dict[str, str], values: dict[str, Any]) -> None:
        self._ddb().update_item(
            TableName=self.table,
            Key={"sweep_id": {"S": sweep_id}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def get(self, sweep_id: str) -> dict[str, Any] | None:
        from receipt_lightning.jobs.ddb import deserialize

        resp = self._ddb().get_item(
            TableName=self.table, Key={"sweep_id": {"S": sweep_id}}, ConsistentRead=True
        )
        item = deserialize(resp.get("Item"))
        if item is not None:
            item["job_ids"] = sorted(item.get("job_ids") or [])
        return item


def get_jobs(table: str, job_ids: list[str], max_rounds: int = 8) -> dict[str, dict[str, Any]]:
    """{job id: job record} for ``job_ids`` via BatchGetItem (100 keys a call); ids without a
    record are absent. Unprocessed keys (throttling) are retried up to ``max_rounds`` times."""
    from receipt_lightning.aws.session import client
    from receipt_lightning.errors import RetryableError
    from receipt_lightning.jobs.ddb import deserialize

    ddb = client("dynamodb")
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(job_ids), 100):
        keys = [{"job_id": {"S": j}} for j in job_ids[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(max_rounds):
            resp = ddb.batch_get_item(RequestItems=request)
            for raw in resp.get("Responses", {}).get(table, []):
                item = deserialize(raw) or {}
                out[item["job_id"]] = item
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(2.0, 0.1 * 2**attempt))  # back off: DynamoDB asked us to slow down
        else:
            raise RetryableError(f"jobs table {table}: keys still unprocessed after {max_rounds} rounds")
    return out
