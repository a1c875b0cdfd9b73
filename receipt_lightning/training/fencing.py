"""The trainer's half of lease fencing: before every checkpoint and summary write, check that
this attempt still holds the job.

The worker passes its lease's attempt number (the fencing token) as ``RL_JOB_ATTEMPT`` with
``RL_JOB_ID`` and ``RL_JOBS_TABLE``. A worker that took the job over has raised the job's
``attempt``; a trainer whose token is lower is a leftover (its worker frozen, partitioned or
gone) and must not touch the run directory the new attempt now owns: the write is refused with
``FencedOut`` and the trainer exits.

Cheap: one consistent ``GetItem`` of three attributes, and none while a previous answer still
holds. No other worker can take the job before its ``lease_expires`` (that is the lease), so a
check that saw this attempt with an expiry E is trusted until ``E - FENCE_MARGIN_S``. A check
that cannot reach DynamoDB lets the write go ahead (with a warning): the worker stops its
trainer itself when it cannot renew the lease, before the lease can pass to anyone else.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from receipt_lightning.errors import ReceiptLightningError

log = logging.getLogger(__name__)

ATTEMPT_ENV = "RL_JOB_ATTEMPT"  # must match receipt_lightning.jobs.trainer_process.ATTEMPT_ENV
JOB_ID_ENV = "RL_JOB_ID"
JOBS_TABLE_ENV = "RL_JOBS_TABLE"
FENCE_MARGIN_S = 5.0  # a check is trusted until this many seconds before the seen lease expiry
CHECK_TIMEOUT_S = 3.0  # read timeout of the one GetItem (s), one try: a check must stay cheap
EXIT_FENCED = 1  # the trainer's exit code when fenced out (its worker no longer records it)


class FencedOut(ReceiptLightningError):
    """This attempt's lease was taken over: it may not write checkpoints or summaries."""


class Fence:
    """The lease check of one attempt of one job."""

    def __init__(self, job_id: str, attempt: int, table: str):
        self.job_id = job_id
        self.attempt = attempt  # the fencing token this trainer was started with
        self.table = table
        self.valid_until = 0.0  # time.time() before which the last check still holds
        self.checks = 0  # GetItems made (tests assert the check stays cheap)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Fence | None:
        """The fence the worker asked for, or None outside a worker (a local run)."""
        env = dict(os.environ) if env is None else env
        attempt, job_id, table = env.get(ATTEMPT_ENV), env.get(JOB_ID_ENV), env.get(JOBS_TABLE_ENV)
        if not attempt or not job_id or not table:
            return None
        try:
            return cls(job_id, int(attempt), table)
        except ValueError:
            raise FencedOut(f"{ATTEMPT_ENV}={attempt[:40]!r} is not an attempt number") from None

    def _read(self) -> dict[str, Any] | None:
        from botocore.config import Config

        from receipt_lightning.aws.session import client

        config = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=CHECK_TIMEOUT_S)
        self.checks += 1
        resp = client("dynamodb", config=config).get_item(
            TableName=self.table,
            Key={"job_id": {"S": self.job_id}},
            ConsistentRead=True,
            ProjectionExpression="#a, #e",
            ExpressionAttributeNames={"#a": "attempt", "#e": "lease_expires"},
        )
        item = resp.get("Item")
        if item is None:
            return None
        # Numbers only (attempt, lease_expires): read the wire format directly.
        return {k: float(v["N"]) for k, v in item.items() if "N" in v}

    def check(self, what: str) -> None:
        """Return if this attempt still holds the job; ``FencedOut`` naming ``what`` if not."""
        from botocore.exceptions import BotoCoreError, ClientError

        now = time.time()
        if now < self.valid_until:
            return
        try:
            item = self._read()
        except (BotoCoreError, ClientError) as err:
            log.warning("fence check before %s failed (%s); writing anyway", what, type(err).__name__)
            return
        current = int((item or {}).get("attempt", 0))
        if item is None or current != self.attempt:
            raise FencedOut(
                f"job {self.job_id}: attempt {self.attempt} was fenced out (the job is at attempt "
                f"{current}); refusing to write {what}"
            )
        self.valid_until = float(item.get("lease_expires", 0) or 0) - FENCE_MARGIN_S


_fence: Fence | None = None
_loaded = False


def current_fence() -> Fence | None:
    """This process's fence, read from the environment once."""
    global _fence, _loaded
    if not _loaded:
        _fence, _loaded = Fence.from_env(), True
    return _fence


def check_fence(what: str) -> None:
    """``FencedOut`` if this process's attempt was fenced out; a no-op outside a worker."""
    fence = current_fence()
    if fence is not None:
        fence.check(what)


def reset_fence() -> None:
    """Forget the cached fence (tests change the environment)."""
    global _fence, _loaded
    _fence, _loaded = None, False
