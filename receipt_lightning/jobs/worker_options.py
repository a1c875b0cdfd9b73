"""Settings of one worker (flags of ``start-worker``, defaults from the RL_* environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class WorkerOptions:
    queue_urls: dict[str, str | None]  # priority -> queue URL (None: that priority not polled)
    dlq_url: str | None  # dead-letter queue for poison and finally failed jobs
    jobs_table: str  # DynamoDB jobs table (status, leases, attempts)
    root: Path  # shared root on EFS: datasets/ and runs/
    instances_table: str | None = None  # instance registry; None = do not register
    metrics_table: str | None = None  # passed to the trainer as RL_METRICS_TABLE
    trainer_cmd: list[str] | None = None  # None = $RL_TRAINER_CMD or python -m receipt_lightning.train
    max_jobs: int | None = None  # exit after this many trainer runs; None = no limit
    idle_timeout_s: float | None = None  # exit after this long without a message; None = never
    lease_ttl_s: float = 120.0  # lease life and message visibility without a heartbeat (s)
    heartbeat_s: float = 20.0  # lease, visibility and registry refresh period (s)
    poll_wait_s: int = 1  # long-poll wait on the lowest-priority queue (s, <= 20); bounds pickup latency
    max_failures: int = 3  # failed attempts (not interruptions) before FAILED + dead letter
    backoff_base_s: float = 30.0  # first retry delay; doubles per failure (s)
    backoff_max_s: float = 900.0  # retry delay cap (s)
    stop_grace_s: float = 100.0  # SIGTERM -> SIGKILL grace for a draining trainer (s; Spot gives 120)
    metadata_endpoint: str | None = None  # IMDS endpoint for Spot notices (stub in tests)
    spot_poll_s: float = 5.0  # seconds between Spot notice polls
    compose_check: bool = True  # compose each job's config and vet its _target_s before running
    extra_keys: tuple[str, ...] = ()  # keys allowed in overrides beyond the built-in allow-list
    instance_id: str | None = None  # force this instance id (several workers on one machine)
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the trainer
    # SQS's cap on a received message's total visibility (s): 12 h. Before it the holder swaps
    # the message for a fresh copy; tests set it short to show jobs longer than the cap.
    visibility_cap_s: float = 43_200.0
    lease_call_timeout_s: float = 5.0  # read timeout of one lease call (s); 2 tries at most

    def lease_margin_s(self) -> float:
        """Seconds before the lease's expiry at which the worker kills its trainer if it could
        not renew: a quarter of the lease, at least one heartbeat."""
        return max(self.heartbeat_s, self.lease_ttl_s / 4)

    def outcome_patience_s(self) -> float:
        """Seconds the worker keeps trying to record an ended attempt through transient AWS
        errors: the lease's life less its margin. Later, another worker may have taken the job
        over (its message reappears when the lease runs out), and the fence refuses the write."""
        return max(1.0, self.lease_ttl_s - self.lease_margin_s())

    def backoff_s(self, failures: int) -> float:
        """Delay before retry number ``failures`` (1-based)."""
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, failures - 1))
