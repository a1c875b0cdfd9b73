"""Auto Scaling scale-in, handled like a Spot interruption.

The template scales the workers' group with the queues' backlog (launch/template.yaml,
"scaling"). Two things keep a scale-in from wasting work:

- while a trainer runs, the worker protects its instance from scale-in
  (``SetInstanceProtection``), so the group removes idle workers first;
- if a busy instance is terminated anyway (protection failed, a manual change, a rebalance),
  the group's termination lifecycle hook holds it in ``Terminating:Wait``; the instance's
  metadata then reads ``autoscaling/target-lifecycle-state = Terminated``. This watch sees it
  and drains the worker exactly as a Spot notice does (SIGTERM -> durable checkpoint -> the job
  re-queued, jobs/attempt.py), then completes the lifecycle action so the instance goes at
  once instead of at the hook's timeout.

Off EC2 (no metadata endpoint) every method does nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)
LIFECYCLE_HOOK_NAME = "receipt-lightning-drain"  # launch/template.yaml WorkerDrainHook
SCALE_IN_ACTION = "scale-in"  # the registry's notice action for a scale-in


class ScaleInWatch:
    def __init__(self, endpoint: str | None, instance_id: str, watch: Any, poll_s: float = 5.0):
        self.endpoint = endpoint  # None: not on EC2, nothing to watch
        self.instance_id = instance_id  # EC2 instance id of this worker
        self.watch = watch  # the worker's SpotWatch: ``trigger`` drains the worker
        self.poll_s = poll_s  # seconds between metadata polls
        self.terminating = False
        self._group: str | None = None
        self._group_looked_up = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_worker(cls, worker: Any) -> ScaleInWatch:
        return cls(
            worker.opts.metadata_endpoint, worker.holder.instance_id, worker.watch, worker.opts.spot_poll_s
        )

    def start(self) -> ScaleInWatch:
        if self.endpoint:
            self._thread = threading.Thread(target=self._run, name="scale-in-watch", daemon=True)
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
        while not self._stop.is_set():
            try:
                state = client.target_lifecycle_state()
            except (MetadataUnavailable, MetadataGarbage) as err:
                # Not in an Auto Scaling group (404 is None, not an error) or a bad answer now:
                # the next poll asks again.
                log.debug("scale-in watch: %s", err)
                state = None
            if state == "Terminated":
                self.terminating = True
                when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self.watch.trigger(
                    "Auto Scaling scale-in (lifecycle hook)", {"action": SCALE_IN_ACTION, "time": when}
                )
                return
            self._stop.wait(self.poll_s)

    def _autoscaling(self):
        from receipt_lightning.aws.session import client

        return client("autoscaling")

    def group(self) -> str | None:
        """This instance's Auto Scaling group (looked up once), or None when it is in none."""
        if not self._group_looked_up:
            from botocore.exceptions import BotoCoreError, ClientError

            self._group_looked_up = True
            if not self._in_auto_scaling_group():
                return None
            try:
                found = self._autoscaling().describe_auto_scaling_instances(InstanceIds=[self.instance_id])
                rows = found.get("AutoScalingInstances", [])
                self._group = rows[0]["AutoScalingGroupName"] if rows else None
            except (BotoCoreError, ClientError) as err:
                log.warning("scale-in: cannot find this instance's Auto Scaling group: %s", err)
        return self._group

    def _in_auto_scaling_group(self) -> bool:
        """The metadata has ``autoscaling/target-lifecycle-state`` only on a group's instances:
        elsewhere no Auto Scaling API is called (nor needs a permission)."""
        from receipt_lightning.aws.imds import IMDSClient
        from receipt_lightning.aws.imds_errors import MetadataGarbage, MetadataUnavailable

        if not self.endpoint:
            return False
        try:
            return IMDSClient(self.endpoint, timeout_s=1.0).target_lifecycle_state() is not None
        except (MetadataUnavailable, MetadataGarbage) as err:
            log.debug("scale-in: no Auto Scaling state in the metadata: %s", err)
            return False

    def protect(self, busy: bool) -> None:
        """Protect this instance from scale-in while ``busy`` (best effort: the lifecycle hook
        still drains a busy instance that is scaled in)."""
        group = self.group() if self.endpoint else None
        if group is None:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._autoscaling().set_instance_protection(
                InstanceIds=[self.instance_id], AutoScalingGroupName=group, ProtectedFromScaleIn=busy
            )
        except (BotoCoreError, ClientError) as err:
            log.warning("scale-in protection %s failed: %s", "on" if busy else "off", err)

    def complete(self) -> bool:
        """After draining: let the terminating instance go now (else at the hook's timeout)."""
        group = self.group() if self.terminating else None
        if group is None:
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._autoscaling().complete_lifecycle_action(
                LifecycleHookName=LIFECYCLE_HOOK_NAME,
                AutoScalingGroupName=group,
                InstanceId=self.instance_id,
                LifecycleActionResult="CONTINUE",
            )
        except (BotoCoreError, ClientError) as err:
            # The hook's HeartbeatTimeout with DefaultResult CONTINUE terminates it anyway.
            log.warning("complete-lifecycle-action failed (%s); the hook's timeout ends the instance", err)
            return False
        return True
