"""The worker's own Spot watch: ``drain`` set by a Spot notice or by ``trigger`` (SIGTERM to the
worker). The polling is the trainer's ``NoticePoller`` (one IMDS poller in the package).

The trainer polls too (it is given the same ``spot.metadata_endpoint``) and checkpoints on its
own; the worker's watch makes the worker stop taking jobs, tell the trainer (SIGTERM) in case it
is not polling, and show the notice in the registry. SIGTERM to the worker drains it the same way.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from receipt_lightning.aws.imds import IMDSClient
from receipt_lightning.training.spot.poller import NoticePoller

log = logging.getLogger(__name__)

IMDS_TIMEOUT_S = 1.0  # per request: a poll never holds the watch for long


class SpotWatch:
    """Set ``drain`` when a notice arrives (or ``trigger`` is called)."""

    def __init__(self, endpoint: str | None, poll_s: float = 5.0):
        self.endpoint = endpoint  # None: no metadata polling (not on EC2, no stub)
        self.poll_s = poll_s  # seconds between polls; AWS suggests every 5 s
        self.drain = threading.Event()
        self.notice: dict[str, str] | None = None  # {"action", "time"}, as the registry stores it
        self.reason: str | None = None
        self._poller: NoticePoller | None = None

    def trigger(self, reason: str, notice: dict[str, str] | None = None) -> None:
        if not self.drain.is_set():
            self.reason, self.notice = reason, notice
            log.warning("draining: %s", reason)
            self.drain.set()

    def start(self) -> SpotWatch:
        if self.endpoint:
            # The worker was given this endpoint: keep polling if it does not answer at first.
            client = IMDSClient(self.endpoint, timeout_s=IMDS_TIMEOUT_S)
            self._poller = NoticePoller(client, self.poll_s, self._on_notice, give_up_if_unreachable=False)
            self._poller.start()
        return self

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop(join_timeout_s=5)

    def _on_notice(self, notice: dict[str, Any]) -> None:
        """The poller's notice (it polls no more after one) as the worker's drain."""
        action, when = notice["action"], notice["notice_time"]
        self.trigger(f"Spot {action} notice for {when}", {"action": action, "time": when})
