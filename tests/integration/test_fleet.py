"""Operating the fleet against moto's server with real workers and the fake trainer: list jobs and
workers, cancel and retry, guard rails (stall watchdog, max_runtime, max_interruptions), logs."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest

from receipt_lightning.jobs.records import (
    CANCEL_REQUESTED,
    CANCELLED,
    COMPLETED,
    FAILED,
    QUEUED,
    RETRYING,
    RUNNING,
    TIMED_OUT,
    JobStore,
    UpdateBuilder,
)
from tests.support.queue_support import make_stack, options, plan, queue_depth, wait_for, worker_process


@pytest.fixture
def stack(aws, tmp_path):
    names, env = make_stack(tmp_path / "efs")
    return names, env, tmp_path / "efs"


def _submit(names, job_id=None, priority="normal", sweep_id=None, guards=None, overrides=("trainer.max_epochs=1",)):
    from receipt_lightning.jobs.submit import submit_overrides

    return submit_overrides(list(overrides), priority=priority, job_id=job_id, sweep_id=sweep_id,
                            names=names, guards=guards)  # fmt: skip


def _events(root: Path) -> str:
    path = root / "trainer_events.log"
    return path.read_text() if path.exists() else ""


def _cli(*argv: str) -> int:
    from receipt_lightning.cli import main

    return main(list(argv))


# ---------------------------------------------------------------- listing


def test_jobs_lists_newest_first_by_index_across_pages(stack, capsys):
    from receipt_lightning.aws.session import client
    from receipt_lightning.jobs.listing import JobFilter, list_jobs

    names, env, _ = stack
    store = JobStore(names.jobs_table)
    ids = []
    for i in range(7):
        jid = _submit(names, job_id=f"list-{i}", priority="high" if i % 2 else "low",
                      sweep_id="sw-1" if i < 3 else None)  # fmt: skip
        # Distinct, known submission times (the index's sort key), oldest first.
        store.update(jid, UpdateBuilder().set("submitted_at", 1_700_000_000.0 + i))
        ids.append(jid)
    store.update("list-5", UpdateBuilder().set("status", FAILED))
    store.update("list-2", UpdateBuilder().set("status", RUNNING))
    index = client("dynamodb").describe_table(TableName=names.jobs_table)["Table"]["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in index] == ["status-submitted"]
    # page_size=2: every status's query crosses several DynamoDB pages.
    every = list_jobs(names.jobs_table, limit=100, page_size=2)
    assert [j["job_id"] for j in every] == ids[::-1]
    assert [j["job_id"] for j in list_jobs(names.jobs_table, limit=3, page_size=1)] == ["list-6", "list-5", "list-4"]
    queued = JobFilter(statuses=(QUEUED,))
    assert [j["job_id"] for j in list_jobs(names.jobs_table, queued, page_size=2)] == ["list-6", "list-4", "list-3",
                                                                                          "list-1", "list-0"]  # fmt: skip
    high = JobFilter(priority="high")
    assert [j["job_id"] for j in list_jobs(names.jobs_table, high, page_size=2)] == ["list-5", "list-3", "list-1"]
    sweep = JobFilter(sweep_id="sw-1", statuses=(QUEUED, RUNNING))
    assert [j["job_id"] for j in list_jobs(names.jobs_table, sweep)] == ["list-2", "list-1", "list-0"]
    recent = JobFilter(since=1_700_000_004.5)
    assert [j["job_id"] for j in list_jobs(names.jobs_table, recent)] == ["list-6", "list-5"]
    # The command: --json with the table's spelling of statuses; filters combine.
    assert _cli("jobs", "--json", "--status", "FAILED,RUNNING", "--dynamo-table", names.jobs_table) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["job_id"], r["status"]) for r in rows] == [("list-5", "FAILED"), ("list-2", "RUNNING")]
    assert _cli("jobs", "--priority", "low", "--limit", "2", "--dynamo-table", names.jobs_table) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("JOB") and "list-6" in out and "list-4" in out and "list-0" not in out
    assert _cli("jobs", "--status", "DONE", "--dynamo-table", names.jobs_table) == 1
    assert "status 'DONE' is not one of" in capsys.readouterr().err


def test_jobs_never_scans_the_table(stack, monkeypatch):
    from receipt_lightning.jobs import listing

    names, _, _ = stack
    _submit(names, job_id="one")
    calls = []
    real = listing._query_status

    def spy(*a, **kw):
        calls.append(a[1])
        return real(*a, **kw)

    monkeypatch.setattr(listing, "_query_status", spy)
    monkeypatch.setattr(JobStore, "scan", lambda *a, **k: pytest.fail("listing scanned the jobs table"))
    assert [j["job_id"] for j in listing.list_jobs(names.jobs_table)] == ["one"]
    assert len(calls) == len(listing.ALL_STATUSES)


def test_workers_lists_live_and_stale_entries(stack, capsys):
    from receipt_lightning.jobs.leases import Holder
    from receipt_lightning.jobs.registry import InstanceRegistry

    names, _, _ = stack
    live = InstanceRegistry(names.instances_table, Holder("i-live/1", "i-live", "g5.xlarge", "spot"), 20)
    live.heartbeat("busy", "job-a", {"action": "terminate", "time": "2026-01-01T00:00:00Z"})
    dead = InstanceRegistry(names.instances_table, Holder("i-dead/2", "i-dead", "g4dn.xlarge", "on-demand"), 0.01)
    dead.heartbeat("idle")
    time.sleep(0.1)  # three missed 0.01 s heartbeats: stale
    assert _cli("workers", "--json", "--instance-registry-table", names.instances_table) == 0
    rows = {r["instance_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["i-live/1"]["stale"] is False and rows["i-live/1"]["current_job"] == "job-a"
    assert rows["i-live/1"]["lifecycle"] == "spot" and rows["i-live/1"]["spot_notice"]["action"] == "terminate"
    assert rows["i-dead/2"]["stale"] is True and rows["i-dead/2"]["instance_type"] == "g4dn.xlarge"
    assert _cli("workers", "--instance-registry-table", names.instances_table) == 0
    out = capsys.readouterr().out
    assert "terminate at 2026-01-01T00:00:00Z" in out and "stale" in out and "live" in out


# ---------------------------------------------------------------- cancel and retry


def test_cancel_a_queued_job_never_starts_it_then_retry_with_new_overrides(stack, capsys):
    from receipt_lightning.jobs.worker import Worker

    names, _, root = stack
    jid = _submit(names)
    plan(root, jid, steps=5, step_s=0.01)
    assert _cli("job-cancel", jid, "--reason", "wrong data", "--dynamo-table", names.jobs_table) == 0
    store = JobStore(names.jobs_table)
    job = store.get(jid)
    assert job["status"] == CANCEL_REQUESTED and job["cancel"]["reason"] == "wrong data"
    w = Worker(options(names, idle_timeout_s=2))
    w.run()
    job = store.get(jid)
    assert job["status"] == CANCELLED and "wrong data" in job["error"]
    assert "start " + jid not in _events(root) and not job.get("attempts")
    assert queue_depth(names.queue_urls["normal"]) == 0
    # A finished job cannot be cancelled; a cancelled one can be retried, with changed overrides
    # vetted like a submission.
    assert _cli("job-cancel", jid, "--dynamo-table", names.jobs_table) == 1
    assert "nothing to cancel" in capsys.readouterr().err
    assert _cli("job-retry", jid, "--override", "hydra.launcher=evil", "--dynamo-table", names.jobs_table) == 1
    assert store.get(jid)["status"] == CANCELLED
    assert _cli("job-retry", jid, "--override", "trainer.max_epochs=2", "--json", "--dynamo-table",
                names.jobs_table) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["status"] == QUEUED
    Worker(options(names, idle_timeout_s=2)).run()
    job = store.get(jid)
    # a job that names no trainer gets trainer=auto at submission, a retry too
    assert job["status"] == COMPLETED and job["overrides"] == ["trainer=auto", "trainer.max_epochs=2"]
    assert job["retries"][0]["from_status"] == CANCELLED and "cancel" not in job
    assert _cli("job-retry", jid, "--dynamo-table", names.jobs_table) == 1  # COMPLETED: not retryable


def test_cancel_a_running_job_checkpoints_and_retry_resumes_exactly(stack, tmp_path, capsys):
    names, env, root = stack
    jid = _submit(names)
    plan(root, jid, steps=60, step_s=0.1)
    store = JobStore(names.jobs_table)
    proc = worker_process(env, tmp_path / "worker.log", "--idle-timeout", "60")
    try:
        wait_for(lambda: (store.get(jid).get("progress") or {}).get("global_step", 0) >= 5, 60, "training")
        assert _cli("jobs", "--status", "RUNNING", "--json", "--dynamo-table", names.jobs_table) == 0
        (listed,) = json.loads(capsys.readouterr().out)
        assert listed["job_id"] == jid and listed["status"] == RUNNING and listed["step"] >= 5
        t0 = time.monotonic()
        assert _cli("job-cancel", "--job-id", jid, "--dynamo-table", names.jobs_table) == 0
        job = wait_for(lambda: (j := store.get(jid))["status"] == CANCELLED and j, 30, "CANCELLED")
        # Seen at the next heartbeat (0.5 s), then SIGTERM -> checkpoint -> exit 75.
        assert time.monotonic() - t0 < 10
        first = job["attempts"][0]
        assert first["outcome"] == CANCELLED and first["exit_code"] == 75
        stopped_at = json.loads((root / "runs" / jid / "fake_ckpt.json").read_text())["step"]
        assert 5 <= stopped_at < 60 and first["global_step"] == stopped_at
        wait_for(lambda: queue_depth(names.queue_urls["normal"]) == 0, 10, "the message deleted")
        assert _cli("job-retry", jid, "--dynamo-table", names.jobs_table) == 0
        job = wait_for(lambda: (j := store.get(jid))["status"] == COMPLETED and j, 60, "COMPLETED after retry")
    finally:
        proc.terminate()
        proc.wait(30)
    assert [a["outcome"] for a in job["attempts"]] == [CANCELLED, COMPLETED]
    assert job["attempts"][1]["resumed_from_step"] == stopped_at  # from the cancel's checkpoint
    assert job["global_step"] == 60 and len(job["retries"]) == 1


# ---------------------------------------------------------------- guard rails


def test_stall_watchdog_kills_a_hung_trainer_within_timeout_plus_grace(stack):
    from receipt_lightning.jobs.worker import Worker

    names, _, root = stack
    guards = {"stall_timeout_s": 2.0, "stall_grace_s": 1.0}
    jid = _submit(names, guards=guards)
    # Attempt 1 hangs after step 3 and ignores SIGTERM: only the SIGKILL after the grace ends it.
    plan(root, jid, steps=8, step_s=0.05, stall_at=3, ignore_term=True)
    w = Worker(options(names))
    m = w.queues.receive(1, 3)
    assert w.handle(m) == RETRYING
    store = JobStore(names.jobs_table)
    job = store.get(jid)
    first = job["attempts"][0]
    assert first["outcome"] == FAILED and first["reason"] == "stalled" and first["exit_code"] == -9
    assert job["error"].startswith("stalled: no new training step for 2 s") and job["failures"] == 1
    last_step_at = json.loads((root / "runs" / jid / "progress.json").read_text())["time_unix"]
    # Stopped within stall_timeout + grace, plus the watchdog's 1 s reads and the 0.2 s tick.
    assert first["ended_at"] - last_step_at < 2.0 + 1.0 + 2.0
    # The next attempt (no stall planned) resumes and completes.
    Worker(options(names, idle_timeout_s=3)).run()
    job = store.get(jid)
    assert job["status"] == COMPLETED and [a["outcome"] for a in job["attempts"]] == [FAILED, COMPLETED]


def test_max_runtime_ends_timed_out_with_a_durable_checkpoint(stack, capsys):
    from receipt_lightning.jobs.worker import Worker

    names, _, root = stack
    jid = _submit(names, guards={"max_runtime_s": 1.5})
    plan(root, jid, steps=400, step_s=0.02)
    w = Worker(options(names))
    m = w.queues.receive(1, 3)
    assert w.handle(m) == TIMED_OUT
    store = JobStore(names.jobs_table)
    job = store.get(jid)
    attempt = job["attempts"][0]
    assert job["status"] == TIMED_OUT and "max_runtime_s 1.5 reached" in job["error"]
    assert attempt["outcome"] == TIMED_OUT and attempt["exit_code"] == 75  # SIGTERM -> checkpoint -> 75
    ckpt = json.loads((root / "runs" / jid / "fake_ckpt.json").read_text())["step"]
    assert 0 < ckpt < 400 and attempt["global_step"] == ckpt and job["checkpoint"].endswith("fake_ckpt.json")
    assert attempt["ended_at"] - attempt["started_at"] < 1.5 + 3.0
    assert queue_depth(names.queue_urls["normal"]) == 0
    # Retried with a larger budget, it resumes and finishes.
    assert _cli("job-retry", jid, "--max-runtime", "600", "--dynamo-table", names.jobs_table) == 0
    Worker(options(names, idle_timeout_s=3)).run()
    job = store.get(jid)
    assert job["status"] == COMPLETED and job["attempts"][1]["resumed_from_step"] == ckpt
    assert job["guards"]["max_runtime_s"] == 600


def test_a_job_already_over_max_runtime_is_not_started(stack):
    from receipt_lightning.jobs.worker import Worker

    names, _, root = stack
    jid = _submit(names, guards={"max_runtime_s": 10})
    past = [{"attempt": 1, "started_at": 1000.0, "ended_at": 1011.0, "outcome": "INTERRUPTED"}]
    JobStore(names.jobs_table).update(jid, UpdateBuilder().set("attempts", past).set("attempt", 1))
    Worker(options(names, idle_timeout_s=2)).run()
    assert JobStore(names.jobs_table).get(jid)["status"] == TIMED_OUT
    assert "start " + jid not in _events(root)


def test_max_interruptions_fails_the_job_with_the_reason(stack):
    from receipt_lightning.jobs.worker import Worker

    names, _, root = stack
    jid = _submit(names, guards={"max_interruptions": 2})
    plan(root, jid, steps=400, step_s=0.02)
    store = JobStore(names.jobs_table)
    outcomes = []
    for _ in range(2):
        w = Worker(options(names))
        m = wait_for(lambda w=w: w.queues.receive(1, 3), 10, "the job's message")
        threading.Timer(1.0, w.watch.trigger, args=("test: Spot notice",)).start()
        outcomes.append(w.handle(m))
    assert outcomes == ["INTERRUPTED", FAILED]
    job = store.get(jid)
    assert job["status"] == FAILED and job["error"] == "interrupted 2 times, max_interruptions is 2"
    assert job["interruptions"] == 2 and job["dead_lettered"]
    assert queue_depth(names.queue_urls["normal"]) == 0


# ---------------------------------------------------------------- logs and the live line


class _Clocked(io.StringIO):
    """Remembers when each ``step N loss X at T`` line arrived, and its lag behind T (s)."""

    def __init__(self):
        super().__init__()
        self.arrived: dict[int, float] = {}
        self.lag: dict[int, float] = {}

    def write(self, text: str) -> int:
        now = time.time()
        for line in text.splitlines():
            if line.startswith("step "):
                step = int(line.split()[1])
                self.arrived.setdefault(step, now)
                self.lag.setdefault(step, now - float(line.rsplit(" ", 1)[1]))
        return super().write(text)


def test_job_logs_follow_streams_a_running_job_within_seconds(stack, tmp_path, capsys):
    from receipt_lightning.jobs.logs import print_logs

    names, env, root = stack
    jid = _submit(names)
    plan(root, jid, steps=40, step_s=0.15, log=True)
    store = JobStore(names.jobs_table)
    proc = worker_process(env, tmp_path / "worker.log", "--idle-timeout", "60")
    out = _Clocked()
    try:
        follower = threading.Thread(target=print_logs, args=(names.metrics_table, jid, lambda: store.get(jid)),
                                    kwargs={"follow": True, "poll_s": 0.5, "out": out, "timeout_s": 90})  # fmt: skip
        follower.start()
        # The live line, meanwhile: step of total, interruptions, rate, ETA.
        assert _cli("job-status", jid, "--watch", "--interval", "0.5", "--timeout", "90",
                    "--dynamo-table", names.jobs_table) == 0  # fmt: skip
        follower.join(60)
        assert not follower.is_alive(), "--follow did not stop when the job ended"
    finally:
        proc.terminate()
        proc.wait(30)
    lines = capsys.readouterr().out.splitlines()
    assert any("RUNNING" in ln and "step " in ln and "/40" in ln and "ETA" in ln for ln in lines), lines
    assert "COMPLETED" in lines[-1]
    text = out.getvalue()
    assert text.startswith("==> attempt 1 <==\n$ ") and "step 40 loss" in text
    assert sorted(out.arrived) == list(range(1, 41))
    log = (root / "runs" / jid / "worker" / "attempt-1.log").read_text()
    assert log.count("step ") == 40
    # Every line reaches the follower within a few seconds of the trainer writing it (2 s
    # shipping period + 0.5 s polling; docs/aws.md "Job logs" quotes this measurement).
    lags = sorted(out.lag.values())
    with capsys.disabled():
        print(f"job-logs --follow lag: median {lags[len(lags) // 2]:.2f} s, max {lags[-1]:.2f} s")
    assert lags[-1] < 5.0, lags
    ended = store.get(jid)["attempts"][0]["ended_at"]
    assert out.arrived[10] < ended  # streamed while the job ran, not at its end
    # Not following: the whole log of one attempt.
    assert _cli("job-logs", jid, "--attempt", "1", "--dynamo-table", names.jobs_table,
                "--metrics-table", names.metrics_table) == 0  # fmt: skip
    assert capsys.readouterr().out.count("loss") == 40


# ---------------------------------------------------------------- scale-in


class _FakeAutoScaling:
    """Records the worker's Auto Scaling calls (moto has no CompleteLifecycleAction)."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def set_instance_protection(self, **kw):
        self.calls.append(("protect", kw))

    def complete_lifecycle_action(self, **kw):
        self.calls.append(("complete", kw))


def test_scale_in_of_a_busy_worker_is_handled_like_a_spot_interruption(stack, monkeypatch):
    from receipt_lightning.aws.imds import TARGET_LIFECYCLE_STATE_PATH
    from receipt_lightning.aws.imds_stub import IMDSStub
    from receipt_lightning.jobs import scale_in
    from receipt_lightning.jobs.worker import Worker

    names, _, root = stack
    jid = _submit(names)
    plan(root, jid, steps=400, step_s=0.02)
    fake = _FakeAutoScaling()
    monkeypatch.setattr(scale_in.ScaleInWatch, "group", lambda self: "rl-workers")
    monkeypatch.setattr(scale_in.ScaleInWatch, "_autoscaling", lambda self: fake)
    store = JobStore(names.jobs_table)
    with IMDSStub(instance_id="i-0abc") as stub:
        w = Worker(options(names, metadata_endpoint=stub.endpoint, spot_poll_s=0.2, instance_id="i-0abc"))

        def scale_in_now():
            wait_for(lambda: (store.get(jid).get("progress") or {}).get("global_step", 0) >= 3, 30, "training")
            stub.identity[TARGET_LIFECYCLE_STATE_PATH] = "Terminated"

        t = threading.Thread(target=scale_in_now)
        t.start()
        w.run()
        t.join()
    job = store.get(jid)
    assert job["status"] == "INTERRUPTED" and job["interruptions"] == 1
    assert job["attempts"][0]["exit_code"] == 75 and "scale-in" in job["attempts"][0]["stop_reason"]
    assert queue_depth(names.queue_urls["normal"]) == 1  # re-queued for another worker
    kinds = [(k, kw.get("ProtectedFromScaleIn")) for k, kw in fake.calls]
    assert kinds == [("protect", True), ("protect", False), ("complete", None)]
    assert fake.calls[-1][1] == {"LifecycleHookName": "receipt-lightning-drain", "AutoScalingGroupName": "rl-workers",
                                 "InstanceId": "i-0abc", "LifecycleActionResult": "CONTINUE"}  # fmt: skip
