"""The worker's own Spot watch: a thread polling IMDSv2 ``spot/instance-action``.

The trainer polls too (it is given the same ``spot.metadata_endpoint``) and checkpoints on its
own; the worker's watch makes the worker stop taking jobs, tell the trainer (SIGTERM) in case it
is not polling, and show the notice in the registry. SIGTERM to the worker drains it the same way.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class SpotWatch:
    """Set ``drain`` when a notice arrives (or ``trigger`` is called)."""

    def __init__(self, endpoint: str | None, poll_s: float = 5.0):
        self.endpoint = endpoint  # None: no metadata polling (not on EC2, no stub)
        self.poll_s = poll_s  # seconds between polls; AWS suggests every 5 s
        self.drain = threading.Event()
        self.notice: dict[str, str] | None = None
        self.reason: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def trigger(self, reason: str, notice: dict[str, str] | None = None) -> None:
        if not self.drain.is_set():
            self.reason, self.notice = reason, notice
            log.warning("draining: %s", reason)
            self.drain.set()

    def start(self) -> SpotWatch:
        if self.endpoint:
            self._thread = threading.Thread(target=self._run, name="spot-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        from receipt_lightning.aws.imds import IMDSClient
        from receipt_lightning.aws.imds_errors import MetadataGarbage, MetadataUnavailable

        client = IMDSClient(self.endpoint or "", timeout_s=1.0)
        while not self._stop.is_set() and not self.drain.is_set():
            try:
                notice = client.spot_instance_action()
            except MetadataUnavailable as err:
                # Not reachable now; a later poll may succeed (the service restarts with the host).
                log.debug("spot watch: metadata unavailable: %s", err)
                notice = None
            except MetadataGarbage as err:
                log.warning("spot watch: %s", err)
                notice = None
            if notice is not None:
                self.trigger(f"Spot {notice['action']} notice for {notice['time']}", notice)
                return
            self._stop.wait(self.poll_s)
