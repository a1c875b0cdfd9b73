"""Queue benchmark against moto's HTTP server on loopback, with a trivial fake trainer.

1. submit -> training-start latency with an idle worker (target <= 2 s): the worker idles, a job
   is submitted, and the time from just before ``submit_overrides`` to the fake trainer's first
   line is measured. Repeated with idle gaps spread over the long-poll cycle.
2. dispatch throughput (target >= 100 jobs/min): N jobs queued up front, W workers drain them;
   jobs per minute from the first trainer start to the last COMPLETED record.

    python -m benchmarks.queue_latency [--samples 15] [--jobs 100] [--workers 1,3] [--poll-wait 1]

Medians are reported (plus p90 / max for latency); the ratio column is target / measured, for a
"lower is better" figure, or measured / target, so > 1 always means the target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before anything could import torch
os.environ.update(
    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_SESSION_TOKEN="bench",
    AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", RL_DMI_DIR="/nonexistent-dmi",
)  # fmt: skip
REPO = Path(__file__).resolve().parents[1]
FAKE = [sys.executable, "-m", "tests.support.fake_trainer"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stack(root: Path) -> tuple[object, dict[str, str]]:
    from moto.server import ThreadedMotoServer

    from receipt_lightning.aws.dev_stack import create_queues, create_tables
    from receipt_lightning.aws.session import client, reset_session

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    reset_session()
    env = {**create_queues(client("sqs"), "bench"), **create_tables(client("dynamodb"), "bench")}
    env["RL_SHARED_ROOT"] = str(root)
    (root / "runs").mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    return server, env


def start_worker(
    env: dict[str, str], log: Path, poll_wait: int, name: str, compose: bool = False
) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "receipt_lightning.worker", "--efs-root", env["RL_SHARED_ROOT"],
           "--poll-wait", str(poll_wait), "--instance-id", name, "--heartbeat", "5", "--lease-ttl", "60"]  # fmt: skip
    if not compose:
        cmd.append("--no-compose-check")
    penv = {**os.environ, "RL_TRAINER_CMD": " ".join(FAKE)}
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=REPO, env=penv, stdout=out, stderr=subprocess.STDOUT)


def trainer_starts(root: Path) -> dict[str, float]:
    """run_id -> time.time() of its first trainer start (from the fake trainer's event log)."""
    starts: dict[str, float] = {}
    path = root / "trainer_events.log"
    if path.exists():
        for line in path.read_text().splitlines():
            when, _pid, kind, run_id, *_ = line.split()
            if kind == "start":
                starts.setdefault(run_id, float(when))
    return starts


def plan_instant(root: Path, job_id: str) -> None:
    (root / "fake_plan").mkdir(exist_ok=True)
    (root / "fake_plan" / f"{job_id}.json").write_text(json.dumps({"steps": 0}))


def bench_latency(
    root: Path, env: dict[str, str], samples: int, poll_wait: int, compose: bool
) -> list[float]:
    """Seconds from submit to the trainer's first line; ``compose``: the worker composes and vets
    each job's config first, as production workers do."""
    from receipt_lightning.jobs.submit import submit_overrides

    tag = "latc" if compose else "lat"
    worker = start_worker(env, root / f"{tag}-worker.log", poll_wait, tag, compose)
    out = []
    try:
        time.sleep(3.0)  # the worker is up and idle (long-polling)
        for i in range(samples):
            job_id = f"{tag}-{i}"
            plan_instant(root, job_id)
            time.sleep(1.0 + (i % 5) * poll_wait / 5)  # idle gaps spread over the poll cycle
            t0 = time.time()
            submit_overrides(["trainer.max_epochs=1"], job_id=job_id)
            deadline = time.monotonic() + 30
            while job_id not in trainer_starts(root):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{job_id} never started; see {root / 'latency-worker.log'}")
                time.sleep(0.01)
            out.append(trainer_starts(root)[job_id] - t0)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return out


def bench_throughput(root: Path, env: dict[str, str], n_jobs: int, n_workers: int, poll_wait: int) -> float:
    from receipt_lightning.jobs.records import COMPLETED, JobStore
    from receipt_lightning.jobs.submit import submit_overrides

    prefix = f"tp{n_workers}"
    jobs = [f"{prefix}-{i}" for i in range(n_jobs)]
    for j in jobs:
        plan_instant(root, j)
        submit_overrides(["trainer.max_epochs=1"], job_id=j)
    workers = [
        start_worker(env, root / f"{prefix}-w{k}.log", poll_wait, f"{prefix}w{k}") for k in range(n_workers)
    ]
    store = JobStore(env["RL_JOBS_TABLE"])
    try:
        deadline = time.monotonic() + 600
        while True:
            done = [
                r
                for r in store.scan(limit=10_000)
                if r["job_id"].startswith(prefix) and r.get("status") == COMPLETED
            ]
            if len(done) == n_jobs:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(done)}/{n_jobs} completed in 600 s")
            time.sleep(0.5)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
    starts = trainer_starts(root)
    first = min(starts[j] for j in jobs)
    last = max(float(r["ended_at"]) for r in done)
    return n_jobs / ((last - first) / 60.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--workers", default="1,3", help="worker counts for the throughput runs")
    ap.add_argument(
        "--poll-wait", type=int, default=1, help="worker long-poll wait (s), the default worker setting"
    )
    args = ap.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="rl-queue-bench-") as tmp:
        root = Path(tmp)
        server, env = start_stack(root)
        try:
            lats = {
                c: sorted(bench_latency(root, env, args.samples, args.poll_wait, c)) for c in (True, False)
            }
            rates = {
                int(w): bench_throughput(root, env, args.jobs, int(w), args.poll_wait)
                for w in args.workers.split(",")
                if w
            }
        finally:
            server.stop()
    print(f"moto on loopback, fake trainer, worker --poll-wait {args.poll_wait}, {os.cpu_count()} CPUs, "
          f"{args.samples} latency samples")  # fmt: skip
    print(f"{'metric':<52}{'measured':>10}{'target':>10}{'ratio':>8}")
    for compose, lat in lats.items():
        p90 = lat[min(len(lat) - 1, int(round(0.9 * (len(lat) - 1))))]
        check = "compose check on" if compose else "compose check off"
        for name, value in (("median", statistics.median(lat)), ("p90", p90), ("max", lat[-1])):
            label = f"submit -> training start, {check}, {name} (s)"
            print(f"{label:<52}{value:>10.3f}{'<= 2':>10}{2.0 / value:>8.2f}")
    for w, rate in rates.items():
        label = f"dispatch throughput, {w} worker(s) (jobs/min)"
        print(f"{label:<52}{rate:>10.1f}{'>= 100':>10}{rate / 100.0:>8.2f}")


if __name__ == "__main__":
    main()
