"""Helpers for the queue tests: a stack on moto's server, workers in-process or as processes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from receipt_lightning.aws.resources import StackNames

REPO = Path(__file__).resolve().parents[2]
FAKE_TRAINER = [sys.executable, "-m", "tests.support.fake_trainer"]
# Small timings so a lost worker's job is taken over within seconds.
FAST = {"lease_ttl_s": 3.0, "heartbeat_s": 0.5, "poll_wait_s": 1, "backoff_base_s": 0.5, "stop_grace_s": 20.0}


def make_stack(root: Path, prefix: str = "t") -> tuple[StackNames, dict[str, str]]:
    """Queues and tables on the moto server the ``aws`` fixture points at; returns the names and
    the RL_* environment a worker process needs."""
    from receipt_lightning.aws.dev_stack import create_queues, create_tables
    from receipt_lightning.aws.session import client

    env = {**create_queues(client("sqs"), prefix), **create_tables(client("dynamodb"), prefix)}
    env["RL_SHARED_ROOT"] = str(root)
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "runs").mkdir(exist_ok=True)
    names = StackNames(
        queue_urls={
            "high": env["RL_QUEUE_URL_HIGH"],
            "normal": env["RL_QUEUE_URL"],
            "low": env["RL_QUEUE_URL_LOW"],
        },
        dlq_url=env["RL_DLQ_URL"],
        jobs_table=env["RL_JOBS_TABLE"],
        instances_table=env["RL_INSTANCES_TABLE"],
        metrics_table=env["RL_METRICS_TABLE"],
        sweeps_table=env["RL_SWEEPS_TABLE"],
        shared_root=str(root),
    )
    return names, env


def options(names: StackNames, **kw):
    from receipt_lightning.jobs.worker_options import WorkerOptions

    base = dict(FAST, trainer_cmd=FAKE_TRAINER, instances_table=names.instances_table, compose_check=False)
    base.update(kw)
    return WorkerOptions(
        queue_urls=dict(names.queue_urls),
        dlq_url=names.dlq_url,
        jobs_table=names.jobs_table,
        root=Path(names.shared_root),
        **base,
    )


def plan(root: Path, job_id: str, **kw) -> None:
    (root / "fake_plan").mkdir(parents=True, exist_ok=True)
    (root / "fake_plan" / f"{job_id}.json").write_text(json.dumps(kw))


def worker_process(
    env: dict[str, str],
    log: Path,
    *flags: str,
    trainer: list[str] | None = None,
    compose: bool = False,
    module: str = "receipt_lightning.worker",
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """``python -m receipt_lightning.worker`` with the test timings; output to ``log``. The fake
    trainer needs no composed config; ``compose`` vets jobs as a production worker does;
    ``module`` runs a wrapper instead (``tests.support.flaky_worker`` injects AWS faults)."""
    cmd = [
        sys.executable,
        "-m",
        module,
        "--lease-ttl",
        "3",
        "--heartbeat",
        "0.5",
        "--poll-wait",
        "1",
        "--backoff",
        "0.5",
        "--stop-grace",
        "20",
        "--efs-root",
        env["RL_SHARED_ROOT"],
        *flags,
    ]
    if not compose:
        cmd.append("--no-compose-check")
    penv = {**os.environ, **env, "RL_TRAINER_CMD": " ".join(trainer or FAKE_TRAINER), "PYTHONUNBUFFERED": "1",
            **(extra_env or {})}  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=REPO, env=penv, stdout=out, stderr=subprocess.STDOUT)


def wait_for(cond: Callable[[], object], timeout_s: float, what: str, every_s: float = 0.2):
    """Poll ``cond`` until truthy; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def queue_depth(url: str) -> int:
    from receipt_lightning.aws.session import client

    attrs = client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def overlaps(attempts: list[dict]) -> list[tuple[int, int]]:
    """Pairs of attempts of one job whose [started_at, ended_at] intervals overlap."""
    bad = []
    spans = [(a["attempt"], a["started_at"], a.get("ended_at") or float("inf")) for a in attempts]
    for i, (ai, s1, e1) in enumerate(spans):
        for aj, s2, e2 in spans[i + 1 :]:
            if s1 < e2 and s2 < e1:
                bad.append((ai, aj))
    return bad


logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log


def run_worker(names, **kw):
    """An in-process worker with the test timings (``idle_timeout_s`` 3 unless given), run until idle."""
    from receipt_lightning.jobs.worker import Worker

    kw.setdefault("idle_timeout_s", 3)
    worker = Worker(options(names, **kw))
    worker.run()
    return worker


def dead_letters(names, rounds: int = 10) -> list[dict]:
    """Every message on the dead-letter queue (hidden for 60 s once read)."""
    from receipt_lightning.aws.session import client

    out: list[dict] = []
    for _ in range(rounds):
        resp = client("sqs").receive_message(QueueUrl=names.dlq_url, MaxNumberOfMessages=10,
                                             MessageAttributeNames=["All"], VisibilityTimeout=60)  # fmt: skip
        out += resp.get("Messages", [])
        if not resp.get("Messages"):
            break
    return out
