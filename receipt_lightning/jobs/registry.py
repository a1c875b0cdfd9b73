"""The instance registry: one item per live worker, refreshed by its heartbeat.

A worker that dies without deregistering leaves an item whose ``expires_at`` (last heartbeat plus
three heartbeat intervals) lies in the past: ``is_stale`` says so, and nothing else depends on the
item, so stale entries are only reported, never trusted.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from receipt_lightning.jobs.ddb import deserialize, serialize
from receipt_lightning.jobs.leases import Holder

STALE_AFTER_BEATS = 3  # missed heartbeats before an entry counts as stale


def is_stale(item: dict[str, Any], now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return float(item.get("expires_at", 0)) < now


class InstanceRegistry:
    """Register, heartbeat and deregister one worker in the instances table."""

    def __init__(self, table: str | None, holder: Holder, heartbeat_s: float):
        self.table = table  # None: registry off (a laptop run without the table)
        self.holder = holder
        self.heartbeat_s = heartbeat_s  # seconds between heartbeats
        self.started_at = time.time()

    def _ddb(self):
        from receipt_lightning.aws.session import client

        return client("dynamodb")

    def _item(self, state: str, job_id: str | None, spot_notice: dict[str, str] | None) -> dict[str, Any]:
        now = time.time()
        item = {
            "instance_id": self.holder.worker_id,
            "machine_id": self.holder.instance_id,
            "instance_type": self.holder.instance_type,
            "lifecycle": self.holder.lifecycle,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "state": state,  # idle | busy | draining
            "started_at": self.started_at,
            "heartbeat_at": now,
            "heartbeat_s": self.heartbeat_s,
            "expires_at": now + STALE_AFTER_BEATS * self.heartbeat_s,
        }
        if job_id:
            item["current_job"] = job_id
        if spot_notice:
            item["spot_notice"] = spot_notice
        return item

    def heartbeat(
        self, state: str, job_id: str | None = None, spot_notice: dict[str, str] | None = None
    ) -> None:
        """Write the whole item (registering on the first call)."""
        if self.table:
            self._ddb().put_item(TableName=self.table, Item=serialize(self._item(state, job_id, spot_notice)))

    def deregister(self) -> None:
        if self.table:
            self._ddb().delete_item(
                TableName=self.table, Key=serialize({"instance_id": self.holder.worker_id})
            )

    def list(self) -> list[dict[str, Any]]:
        """Every registered worker, each with ``stale`` set."""
        if not self.table:
            return []
        items = [
            deserialize(i)
            for i in self._ddb().scan(TableName=self.table, ConsistentRead=True).get("Items", [])
        ]
        now = time.time()
        for item in items:
            item["stale"] = is_stale(item, now)
        return items
