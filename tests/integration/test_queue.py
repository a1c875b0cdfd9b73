"""The job queue against moto's HTTP server: submit -> worker -> outcome, with a fake trainer."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from receipt_lightning.jobs.job_config import DataConfig, TrainingConfig
from receipt_lightning.jobs.records import COMPLETED, FAILED, INTERRUPTED, REJECTED, JobStore
from tests.support.queue_support import (
    FAKE_TRAINER,
    dead_letters,
    make_stack,
    options,
    overlaps,
    plan,
    queue_depth,
    run_worker,
    wait_for,
    worker_process,
)

TINY = TrainingConfig(num_epochs=1, batch_size=4, experiment="smoke")


@pytest.fixture
def stack(aws, tmp_path):
    names, env = make_stack(tmp_path / "efs")
    return names, env, tmp_path / "efs"


def _submit(names, priority="normal", job_id=None, **kw):
    from receipt_lightning.jobs.submit import submit_training_job

    return submit_training_job("layoutlm_tiny", TINY, DataConfig(max_samples=8), priority=priority,
                               job_id=job_id, names=names, **kw)  # fmt: skip




def test_submit_then_worker_completes(stack, capsys):
    names, _, root = stack
    job_id = _submit(names)
    store = JobStore(names.jobs_table)
    job = store.get(job_id)
    assert job["status"] == "QUEUED" and job["sent_at"] >= job["submitted_at"]
    assert "trainer.max_epochs=1" in job["overrides"] and "experiment=smoke" in job["overrides"]
    run_worker(names, max_jobs=1, compose_check=True)  # vetted against the real conf/, as in production
    job = store.get(job_id)
    assert job["status"] == COMPLETED, job
    assert job["final_metrics"]["val/f1"] == pytest.approx(1.0)
    assert job["weights_sha256"] and len(job["attempts"]) == 1
    assert job["attempts"][0]["outcome"] == COMPLETED and job["attempts"][0]["instance_type"] == "local"
    assert "lease_owner" not in job
    assert queue_depth(names.queue_urls["normal"]) == 0
    from receipt_lightning.commands import job_details, job_status

    job_status.run(argparse.Namespace(job_id=job_id, dynamo_table=names.jobs_table, stack=None, json=False))
    job_details.run(argparse.Namespace(job_id=job_id, dynamo_table=names.jobs_table, metrics_table=None, stack=None,
                                       prices=None, events=5, plot=None, json=True))  # fmt: skip
    out = capsys.readouterr().out
    assert f"job {job_id}  status COMPLETED" in out
    details = json.loads(out[out.index("{") :])
    assert details["cost"]["usd"] == 0.0 and details["attempts"][0]["outcome"] == COMPLETED
    job_details.run(argparse.Namespace(job_id=job_id, dynamo_table=names.jobs_table, metrics_table=names.metrics_table,
                                       stack=None, prices=None, events=5, plot=None, json=False))  # fmt: skip
    out = capsys.readouterr().out
    assert "#1  COMPLETED" in out and "cost: $0.0000" in out and f"run {job_id}" in out
    # Resubmitting the same job id adds nothing.
    assert _submit(names, job_id=job_id) == job_id
    assert queue_depth(names.queue_urls["normal"]) == 0


def test_submit_job_cli_with_the_example_file(stack, monkeypatch, capsys):
    from receipt_lightning.cli import main

    names, env, _ = stack
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    example = str(Path(__file__).resolve().parents[2] / "conf" / "jobs" / "smoke_job.yaml")
    assert main(["submit-job", "--config", example, "--priority", "high", "seed=3"]) == 0
    job_id = capsys.readouterr().out.strip()
    job = JobStore(names.jobs_table).get(job_id)
    assert job["priority"] == "high" and "seed=3" in job["overrides"] and "seed=1234" not in job["overrides"]
    assert job["config"]["model"] == "layoutlm_tiny" and job["config"]["training"]["num_epochs"] == 2
    run_worker(names, max_jobs=1, compose_check=True)
    assert JobStore(names.jobs_table).get(job_id)["status"] == COMPLETED
    assert main(["job-status", "--job-id", job_id]) == 0
    assert "status COMPLETED" in capsys.readouterr().out
    assert main(["submit-job", "--config", example, "hydra.run.dir=/"]) == 1  # one-line error, nothing queued
    assert "keys under hydra" in capsys.readouterr().err


def test_high_priority_starts_first(stack):
    names, _, root = stack
    low = _submit(names, "low")
    normal = _submit(names, "normal")
    high = _submit(names, "high")
    run_worker(names, max_jobs=3, compose_check=False)
    store = JobStore(names.jobs_table)
    started = {j: store.get(j)["attempts"][0]["started_at"] for j in (low, normal, high)}
    assert started[high] < started[normal] < started[low]


def test_duplicate_delivery_runs_one_trainer(stack, tmp_path):
    from receipt_lightning.jobs import queues
    from receipt_lightning.jobs.messages import JobMessage

    names, env, root = stack
    job_id = _submit(names)
    plan(root, job_id, steps=20, step_s=0.1)
    proc = worker_process(env, tmp_path / "w1.log", "--max-jobs", "1", "--idle-timeout", "20")
    store = JobStore(names.jobs_table)
    try:
        wait_for(lambda: (store.get(job_id) or {}).get("status") == "RUNNING", 30, "the job to start")
        job = store.get(job_id)
        # The same job on another queue, as a second delivery would arrive while it runs.
        dup = JobMessage(job_id=job_id, overrides=job["overrides"], delivery=7)
        queues.send(names.queue_urls["high"], dup)
        from receipt_lightning.jobs.worker import Worker

        second = Worker(options(names, instance_id="second"))
        m = second.queues.receive(1, 3)
        assert m is not None and m.priority == "high"
        assert second.handle(m) == "DUPLICATE_DROPPED"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    job = store.get(job_id)
    assert job["status"] == COMPLETED and len(job["attempts"]) == 1
    assert not (root / "violations.log").exists()
    assert (root / "trainer_events.log").read_text().count(f"start {job_id}") == 1


BAD_OVERRIDES = {
    "hydra.run.dir=/": "keys under hydra",
    "+model._target_=os.system": "'_'-prefixed",
    "data.root=${oc.env:HOME}": "interpolation",
    "~trainer": "deleting keys",
    "++seed=1": "force-add",
    "model.learning_rate=1,2": "sweeps",
    "+foo=1": "adding keys",
    "model@x=layoutlm_base": "package",
    "paths.root=/etc": "set by the worker",
    "model=../../etc/passwd": "must be one of",
    "trainer._partial_=true": "'_'-prefixed",
    "callbacks.x=1": "not on the allow-list",
}


def test_bad_messages_are_rejected_with_reason(stack):
    from receipt_lightning.aws.session import client
    from receipt_lightning.jobs.messages import MAX_BODY_BYTES, JobMessage

    names, _, root = stack
    sqs, url, store = client("sqs"), names.queue_urls["normal"], JobStore(names.jobs_table)
    expected: dict[str, str] = {}

    def raw(group: str, body: str, reason: str) -> None:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=group)
        expected[group] = reason

    raw("bad-json", "{not json", "not JSON")
    raw("bad-size", json.dumps({"job_id": "bad-size", "pad": "x" * MAX_BODY_BYTES}), "byte limit")
    raw(
        "bad-version",
        json.dumps({"schema_version": 99, "job_id": "bad-version", "overrides": []}),
        "schema_version",
    )
    raw(
        "bad-field",
        json.dumps({"schema_version": 1, "job_id": "bad-field", "overrides": [], "x": 1}),
        "unknown field",
    )
    raw("no-record", JobMessage(job_id="no-record", overrides=[]).encode(), "no job record")
    for i, (override, reason) in enumerate(BAD_OVERRIDES.items()):
        # A submitter that skipped submit's own check: the record exists, the worker must refuse.
        job_id = f"evil-{i}"
        store.create({"job_id": job_id, "status": "QUEUED", "overrides": [override]})
        raw(job_id, JobMessage(job_id=job_id, overrides=[override]).encode(), reason)
    run_worker(names, idle_timeout_s=2)
    for job_id, reason in expected.items():
        job = store.get(job_id)
        assert job is not None, job_id
        assert job["status"] == REJECTED and job["dead_lettered"], (job_id, job)
        assert reason in job["rejections"][0]["reason"], (job_id, job["rejections"])
    dead = dead_letters(names)
    assert len(dead) == len(expected)
    assert all(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert not (root / "trainer_events.log").exists()  # nothing executed
    assert list((root / "runs").iterdir()) == []


def test_forged_message_cannot_change_a_job(stack):
    from receipt_lightning.jobs import queues
    from receipt_lightning.jobs.messages import JobMessage

    names, _, root = stack
    job_id = _submit(names, "low")
    forged = JobMessage(job_id=job_id, overrides=["seed=666"], delivery=5)
    queues.send(names.queue_urls["high"], forged)
    run_worker(names, max_jobs=1)
    job = JobStore(names.jobs_table).get(job_id)
    assert job["status"] == COMPLETED and "seed=666" not in job["overrides"]
    assert "differ from the job record" in job["rejections"][0]["reason"]
    assert "seed=666" not in (root / "runs" / job_id / "worker" / "attempt-1.log").read_text()


def test_submit_refuses_malicious_overrides(stack):
    from receipt_lightning.errors import InputError
    from receipt_lightning.jobs.submit import submit_overrides

    names, _, _ = stack
    for override in BAD_OVERRIDES:
        with pytest.raises(InputError):
            submit_overrides([override], names=names)
    assert JobStore(names.jobs_table).scan() == []


def test_interrupted_job_is_resent_and_resumes(stack):
    names, _, root = stack
    job_id = _submit(names)
    plan(root, job_id, steps=40, step_s=0.05)
    # First attempt: stop the trainer half-way, as a Spot notice would (SIGTERM -> exit 75).
    (root / "runs" / job_id).mkdir(parents=True)
    (root / "runs" / job_id / "fake_ckpt.json").write_text('{"step": 0}')
    from receipt_lightning.jobs.worker import Worker

    w = Worker(options(names))
    w.watch.trigger("test drain")  # takes the job, stops its trainer at once, takes no other
    m = w.queues.receive(1, 3)
    assert w.handle(m) == INTERRUPTED
    job = JobStore(names.jobs_table).get(job_id)
    assert job["status"] == INTERRUPTED and job["delivery"] == 2 and "lease_owner" not in job
    run_worker(names, max_jobs=1)
    job = JobStore(names.jobs_table).get(job_id)
    assert job["status"] == COMPLETED
    assert [a["outcome"] for a in job["attempts"]] == [INTERRUPTED, COMPLETED]
    assert job["attempts"][0]["steps_lost"] == 0 and not overlaps(job["attempts"])
    assert queue_depth(names.dlq_url) == 0


def test_failures_retry_then_dead_letter(stack):
    names, _, root = stack
    flaky, broken, fatal = _submit(names), _submit(names), _submit(names)
    plan(root, flaky, exits=[1])  # fails once, then trains
    plan(root, broken, exits=[1, 1, 1])
    plan(root, fatal, exits=[3])
    run_worker(names, max_failures=3, compose_check=False, idle_timeout_s=4)
    store = JobStore(names.jobs_table)
    assert store.get(flaky)["status"] == COMPLETED
    assert [a["outcome"] for a in store.get(flaky)["attempts"]] == ["FAILED", COMPLETED]
    job = store.get(broken)
    assert job["status"] == FAILED and job["failures"] == 3 and job["dead_lettered"]
    assert "RuntimeError: planned crash" in job["traceback_tail"]
    job = store.get(fatal)
    assert job["status"] == FAILED and len(job["attempts"]) == 1  # fatal: not retried
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead_letters(names))
    assert (
        len(reasons) == 2
        and any("fatal" in r for r in reasons)
        and any("failed 3 times" in r for r in reasons)
    )


def test_missing_dataset_fails_fast(stack):
    names, _, root = stack
    from receipt_lightning.jobs.submit import submit_training_job

    job_id = submit_training_job("layoutlm_tiny", TINY, DataConfig(dataset_name="nope"), names=names)
    run_worker(names, idle_timeout_s=2)
    job = JobStore(names.jobs_table).get(job_id)
    assert job["status"] == REJECTED and "dataset 'nope' not found" in job["error"]
    assert not (root / "trainer_events.log").exists()


def test_lost_lease_stops_the_trainer(stack):
    from receipt_lightning.jobs.records import UpdateBuilder

    names, env, root = stack
    job_id = _submit(names)
    plan(root, job_id, steps=200, step_s=0.1)
    store = JobStore(names.jobs_table)
    from receipt_lightning.jobs.worker import Worker

    w = Worker(options(names))
    m = w.queues.receive(1, 3)
    import threading

    def steal() -> None:
        wait_for(lambda: (root / "runs" / job_id / "fake_ckpt.json").exists(), 20, "training to start")
        store.update(job_id, UpdateBuilder().set("attempt", 99).set("lease_owner", "thief"))

    t = threading.Thread(target=steal)
    t.start()
    started = time.monotonic()
    assert w.handle(m) == "LEASE_LOST"
    t.join()
    assert time.monotonic() - started < 15
    assert "end " + job_id not in (root / "trainer_events.log").read_text()  # killed, not finished


def test_trainer_command_default_and_env(monkeypatch):
    import sys

    from receipt_lightning.jobs.trainer_process import trainer_command

    monkeypatch.delenv("RL_TRAINER_CMD", raising=False)
    assert trainer_command() == [sys.executable, "-m", "receipt_lightning.train"]
    monkeypatch.setenv("RL_TRAINER_CMD", "python3 'my trainer.py'")
    assert trainer_command() == ["python3", "my trainer.py"]
    assert trainer_command(FAKE_TRAINER) == FAKE_TRAINER
