"""The daemon thread that polls the metadata service for a Spot interruption notice: the one IMDS
poller, used by the trainer's Spot callback and by the job worker (``jobs.spot_watch``).

It is the only thread that ever waits on the metadata service: training reads one attribute per
step. Outcomes of a poll:

- unreachable on the first try (not on EC2, IMDS disabled, a container behind a hop limit of 1):
  one INFO line, and the thread ends (polling is pointless, not an error), unless
  ``give_up_if_unreachable=False`` (the worker, given its endpoint explicitly: the service may
  come up later), which keeps polling and treats it as below;
- unreachable later, or a garbage answer: logged (the first few at WARNING) and ignored;
- a notice: handed to ``on_notice`` once, and the thread ends (a notice is final).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from receipt_lightning.aws.imds import IMDSClient
from receipt_lightning.aws.imds_errors import MetadataGarbage, MetadataUnavailable

log = logging.getLogger(__name__)

# Warnings about bad answers after which further ones go to DEBUG (a broken service polled every
# 5 s would otherwise write 720 lines an hour).
MAX_WARNINGS = 3


def utc_now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds and a ``Z``."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class NoticePoller:
    """Polls ``client`` every ``interval_s`` seconds from a daemon thread."""

    def __init__(
        self,
        client: IMDSClient,
        interval_s: float,
        on_notice: Callable[[dict], None],
        rebalance_as_notice: bool = False,
        give_up_if_unreachable: bool = True,
    ):
        self.client = client
        self.interval_s = float(interval_s)  # seconds between polls; AWS suggests every 5 s
        self.rebalance_as_notice = rebalance_as_notice  # a rebalance recommendation counts as a notice
        # A service that does not answer the first poll is taken as absent and polling ends.
        self.give_up_if_unreachable = give_up_if_unreachable
        self._on_notice = on_notice
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._answered = False  # the service has answered at least once
        self._warnings = 0
        self.disabled_reason: str | None = None  # why polling ended early, for the run's records

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="spot-notice-poller", daemon=True)
        self._thread.start()

    def stop(self, join_timeout_s: float | None = None) -> None:
        """Ask the thread to end and wait for it, at most ``join_timeout_s`` (default: two
        request timeouts, the longest one poll can take). A thread still stuck in a request after
        that is a daemon and ends with its request; training does not wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(
                join_timeout_s if join_timeout_s is not None else 2 * self.client.timeout_s + 0.5
            )

    def poll_once(self) -> dict | None:
        """One poll: a notice dict, or ``None``. Raises the metadata errors."""
        action = self.client.spot_instance_action()
        if action is not None:
            return {"reason": "spot-interruption", "action": action["action"], "notice_time": action["time"]}
        if self.rebalance_as_notice:
            when = self.client.rebalance_recommendation()
            if when is not None:
                return {"reason": "rebalance-recommendation", "action": None, "notice_time": when}
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                notice = self.poll_once()
            except MetadataUnavailable as err:
                if not self._answered and self.give_up_if_unreachable:
                    self.disabled_reason = f"metadata service unreachable: {err}"
                    log.info(
                        "spot: metadata service at %s unreachable (%s); interruption polling off "
                        "(in a container on EC2, the instance's metadata hop limit must be >= 2)",
                        self.client.endpoint,
                        err,
                    )
                    return
                self._warn("spot: metadata service stopped answering: %s", err)
            except MetadataGarbage as err:
                self._answered = True
                self._warn("spot: ignoring a bad metadata answer: %s", err)
            else:
                self._answered = True
                if notice is not None:
                    notice["seen_at"] = utc_now_iso()
                    notice["seen_monotonic_s"] = time.monotonic()
                    self._on_notice(notice)
                    return
            if self._stop.wait(self.interval_s):
                return

    def _warn(self, msg: str, err: Exception) -> None:
        self._warnings += 1
        log.log(logging.WARNING if self._warnings <= MAX_WARNINGS else logging.DEBUG, msg, err)
