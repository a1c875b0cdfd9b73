"""The priority queues: one SQS FIFO queue per priority, polled high -> normal -> low.

Each job is its own message group (FIFO delivers one message per group at a time, so separate
jobs never wait on each other), and the deduplication id is ``<job id>-d<delivery>`` so every
re-send of a job is a new message while a retried send of the same delivery is deduplicated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from receipt_lightning.aws.resources import PRIORITIES
from receipt_lightning.errors import FatalError
from receipt_lightning.jobs.messages import JobMessage

log = logging.getLogger(__name__)


@dataclass
class Received:
    """One received message and where it came from."""

    priority: str
    queue_url: str
    body: str
    receipt_handle: str
    message_id: str
    group_id: str | None
    receive_count: int
    # time.monotonic() at receipt: SQS caps a message's total visibility counted from here.
    received_at: float = field(default_factory=time.monotonic)


def _sqs():
    from receipt_lightning.aws.session import client

    return client("sqs")


def send(queue_url: str, msg: JobMessage) -> str:
    """Put ``msg`` on ``queue_url``; returns the SQS message id."""
    kwargs: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": msg.encode()}
    if queue_url.endswith(".fifo"):
        kwargs.update(MessageGroupId=msg.job_id, MessageDeduplicationId=msg.dedup_id())
    return _sqs().send_message(**kwargs)["MessageId"]


def delete(m: Received) -> None:
    _sqs().delete_message(QueueUrl=m.queue_url, ReceiptHandle=m.receipt_handle)


def set_visibility(m: Received, seconds: float) -> None:
    """Hide ``m`` for ``seconds`` more (0 = visible again now). SQS caps this at 12 hours."""
    secs = max(0, min(int(round(seconds)), 43_200))
    _sqs().change_message_visibility(
        QueueUrl=m.queue_url, ReceiptHandle=m.receipt_handle, VisibilityTimeout=secs
    )


def settle(action: str, m: Received, seconds: float = 0.0) -> bool:
    """``delete`` or ``hide`` (set visibility) ``m``, tolerating a stale receipt handle: the message
    may have been received again elsewhere, and the job record, not the message, is authoritative."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if action == "delete":
            delete(m)
        else:
            set_visibility(m, seconds)
    except (BotoCoreError, ClientError) as err:
        # Also a transport error (EndpointConnectionError, a timeout): a message left visible
        # comes back and the job record's conditions decide; a trainer is never stopped for it.
        log.warning("message %s: %s failed (%s); the job record decides", m.message_id, action, err)
        return False
    return True


def redrive_target(urls: dict[str, str | None]) -> str | None:
    """The URL of the dead-letter queue the job queues redrive to (their ``RedrivePolicy``), or
    None when none has one: a worker started with queue URLs only still finds its DLQ."""
    for url in filter(None, urls.values()):
        attrs = _sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        if "RedrivePolicy" not in attrs:
            continue
        arn = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]  # arn:aws:sqs:region:account:name
        _, _, _, _, account, name = arn.split(":", 5)
        return _sqs().get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return None


def dead_letter(dlq_url: str | None, m: Received, reason: str, job_id: str | None) -> None:
    """Move ``m`` to the dead-letter queue now, with the reason as message attributes. Without a
    dead-letter queue (the worker said so at start) the message is logged and deleted: the job
    record keeps the reason, and a message left in place would come back forever."""
    if not dlq_url:
        log.warning("no dead-letter queue: deleting message %s of job %s (%s); the job record keeps the "
                    "reason", m.message_id, job_id or "?", reason[:300])  # fmt: skip
        delete(m)
        return
    attrs = {
        "reason": {"DataType": "String", "StringValue": reason[:1000] or "-"},
        "source_queue": {"DataType": "String", "StringValue": m.queue_url},
        "job_id": {"DataType": "String", "StringValue": job_id or "-"},
    }
    kwargs: dict[str, Any] = {"QueueUrl": dlq_url, "MessageBody": m.body or "-", "MessageAttributes": attrs}
    if dlq_url.endswith(".fifo"):
        kwargs["MessageGroupId"] = job_id or m.group_id or "poison"
        kwargs["MessageDeduplicationId"] = hashlib.sha256(m.message_id.encode()).hexdigest()[:64]
    _sqs().send_message(**kwargs)
    # The copy is in the DLQ; a stale handle (the message was replaced meanwhile) is no error.
    settle("delete", m)


class PriorityQueues:
    """Receives from the queues in priority order, one message at a time."""

    def __init__(self, urls: dict[str, str | None]):
        self.urls = [(p, urls[p]) for p in PRIORITIES if urls.get(p)]
        if not self.urls:
            raise FatalError("no queue URL: pass --queue-url or set RL_QUEUE_URL (and _HIGH/_LOW)")

    def receive(self, wait_s: int, visibility_s: float) -> Received | None:
        """The first waiting message of the highest priority. Higher queues are checked without
        waiting and only the lowest long-polls for ``wait_s`` seconds, so a message on any queue
        waits at most ``wait_s`` for an idle worker, and a waiting high job is always taken first."""
        sqs = _sqs()
        for i, (priority, url) in enumerate(self.urls):
            last = i == len(self.urls) - 1
            resp = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=int(wait_s) if last else 0,
                VisibilityTimeout=max(1, int(round(visibility_s))),
                AttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
            )
            for raw in resp.get("Messages", []):
                attrs = raw.get("Attributes", {})
                return Received(
                    priority=priority,
                    queue_url=url,
                    body=raw.get("Body", ""),
                    receipt_handle=raw["ReceiptHandle"],
                    message_id=raw["MessageId"],
                    group_id=attrs.get("MessageGroupId"),
                    receive_count=int(attrs.get("ApproximateReceiveCount", "1")),
                    received_at=time.monotonic(),
                )
        return None

    def max_receive_count(self) -> int | None:
        """The smallest maxReceiveCount of the queues' redrive policies (None: no redrive)."""
        counts = []
        for _, url in self.urls:
            attrs = (
                _sqs()
                .get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
                .get("Attributes", {})
            )
            if "RedrivePolicy" in attrs:
                counts.append(int(json.loads(attrs["RedrivePolicy"])["maxReceiveCount"]))
        return min(counts) if counts else None
