"""Chaos: 8 jobs, 3 worker processes; one SIGKILLed mid-job, one given a Spot notice through its
own IMDS stub, one duplicate delivery forced. Every job must complete exactly once at a time,
nothing may be dead-lettered, and interrupted jobs must end with the weights of an uninterrupted
run. The fake-trainer run is fast; the real-trainer run is ``slow``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from receipt_lightning.jobs.records import COMPLETED, JobStore
from receipt_lightning.jobs.registry import InstanceRegistry
from tests.support.queue_support import (
    FAKE_TRAINER,
    REPO,
    make_stack,
    overlaps,
    plan,
    queue_depth,
    wait_for,
    worker_process,
)

N_JOBS = 8


def _registry(names) -> list[dict]:
    from receipt_lightning.jobs.leases import Holder

    return InstanceRegistry(names.instances_table, Holder("x", "x", "x", "x"), 1).list()


def _busy_job(names, machine: str) -> str | None:
    for item in _registry(names):
        if item.get("machine_id") == machine and item.get("current_job") and item.get("state") == "busy":
            return item["current_job"]
    return None


def _started(root: Path, job_id: str, real: bool) -> bool:
    run = root / "runs" / job_id
    if real:  # a periodic checkpoint exists: the kill or notice lands mid-training
        return (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("step-*.ckpt"))
    return (run / "fake_ckpt.json").exists()


def _reference_sha(job: dict, trainer: list[str], root: Path, job_root: Path) -> str:
    """weights_sha256 of the same job run once, uninterrupted, under another run id."""
    ref_id = "ref-" + job["job_id"]
    fake_plan = job_root / "fake_plan" / f"{job['job_id']}.json"
    if fake_plan.exists():
        plan(root, ref_id, **json.loads(fake_plan.read_text()))
    args = [*job["overrides"], f"run_id={ref_id}", f"paths.root={root}"]
    done = subprocess.run([*trainer, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((root / "runs" / ref_id / "summary.json").read_text())["weights_sha256"]


def run_chaos(tmp_path: Path, trainer: list[str], overrides: list[str], real: bool, budget_s: float) -> None:
    from receipt_lightning.aws.imds_stub import IMDSStub
    from receipt_lightning.jobs import queues
    from receipt_lightning.jobs.messages import JobMessage
    from receipt_lightning.jobs.submit import submit_overrides

    root = tmp_path / "efs"
    names, env = make_stack(root, "chaos")
    store = JobStore(names.jobs_table)
    jobs = [submit_overrides(overrides, names=names, job_id=f"chaos-{i}") for i in range(N_JOBS)]
    if not real:
        for j in jobs:
            plan(root, j, steps=15, step_s=0.1)
    deadline = time.monotonic() + budget_s
    left = lambda: max(5.0, deadline - time.monotonic())  # noqa: E731 - a clock for every wait
    stub = IMDSStub(instance_id="i-0chaos0spot0b", instance_type="g5.xlarge", life_cycle="spot").start()
    common = ("--idle-timeout", "5" if not real else "30")
    compose = real  # the real trainer's jobs are vetted like production; the fake's need no config
    procs = {
        "A": worker_process(
            env, tmp_path / "A.log", "--instance-id", "A", *common, trainer=trainer, compose=compose
        ),
        "B": worker_process(
            env,
            tmp_path / "B.log",
            "--spot-metadata-endpoint",
            stub.endpoint,
            "--spot-poll",
            "0.2",
            *common,
            trainer=trainer,
            compose=compose,
        ),  # fmt: skip
        "C": worker_process(
            env, tmp_path / "C.log", "--instance-id", "C", *common, trainer=trainer, compose=compose
        ),
    }
    try:
        killed = wait_for(lambda: _busy_job(names, "A"), left(), "worker A to take a job")
        wait_for(lambda: _started(root, killed, real), left(), "A's trainer to make progress")
        procs["A"].send_signal(signal.SIGKILL)
        noticed = wait_for(lambda: _busy_job(names, "i-0chaos0spot0b"), left(), "worker B to take a job")
        wait_for(lambda: _started(root, noticed, real), left(), "B's trainer to make progress")
        stub.set_notice("terminate")
        duped = wait_for(lambda: _busy_job(names, "C"), left(), "worker C to take a job")
        job = store.get(duped)
        queues.send(
            names.queue_urls["high"], JobMessage(job_id=duped, overrides=job["overrides"], delivery=99)
        )
        assert procs["B"].wait(timeout=left()) == 0  # drained after its notice: no new job
        wait_for(lambda: all(store.get(j)["status"] == COMPLETED for j in jobs), left(), "all jobs to complete",
                 every_s=1.0)  # fmt: skip
        assert procs["C"].wait(timeout=left()) == 0
    finally:
        stub.stop()
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        logs = "\n".join(f"--- {n}\n" + (tmp_path / f"{n}.log").read_text()[-3000:] for n in procs)
        print(logs, file=sys.stderr)
    records = {j: store.get(j) for j in jobs}
    assert all(r["status"] == COMPLETED for r in records.values())
    for r in records.values():
        assert not overlaps(r["attempts"]), json.dumps(r["attempts"], indent=1)  # never two trainers at once
        assert [a["attempt"] for a in r["attempts"]] == list(range(1, len(r["attempts"]) + 1))
    assert not (root / "violations.log").exists()
    assert [a["outcome"] for a in records[killed]["attempts"]][:2] == ["LOST", COMPLETED]
    assert [a["outcome"] for a in records[noticed]["attempts"]][:2] == ["INTERRUPTED", COMPLETED]
    assert records[noticed]["attempts"][0]["lifecycle"] == "spot"
    assert len(records[duped]["attempts"]) == 1
    assert queue_depth(names.dlq_url) == 0
    assert all(queue_depth(u) == 0 for u in names.queue_urls.values())
    for j in (killed, noticed):
        assert records[j]["weights_sha256"] == _reference_sha(records[j], trainer, tmp_path / "ref", root), j
    from receipt_lightning.jobs.status import job_details

    cost = job_details(records[noticed])["cost"]  # its first attempt ran on "Spot g5.xlarge"
    assert cost["usd"] > 0 and cost["interrupted_usd"] > 0 and cost["spot_savings_usd"] > 0
    registry = {i["machine_id"]: i for i in _registry(names)}
    assert set(registry) == {"A"} and registry["A"]["stale"]  # B and C deregistered; A died


def test_chaos_fake_trainer(aws, tmp_path):
    run_chaos(tmp_path, FAKE_TRAINER, ["trainer.max_epochs=1"], real=False, budget_s=120)


@pytest.mark.slow
def test_chaos_real_trainer(aws, tmp_path):
    trainer = [sys.executable, "-m", "receipt_lightning.train"]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    overrides = ["experiment=smoke", "data.n_train=48", "data.n_val=8", "data.batch_size=4", "trainer.max_epochs=2",
                 "checkpoint.every_n_train_steps=3"]  # fmt: skip
    run_chaos(tmp_path, trainer, overrides, real=True, budget_s=900)
