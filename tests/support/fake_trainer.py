"""A stand-in for ``python -m receipt_lightning.train`` in queue tests (standard library only).

Takes the same ``key=value`` arguments; uses ``run_id`` and ``paths.root``. It "trains" ``steps``
steps of ``step_s`` seconds, checkpointing the step after each one, resumes from that checkpoint,
stops on SIGTERM with exit 75 after a checkpoint, and writes ``summary.json`` like the real one.
What each attempt does comes from ``<root>/fake_plan/<run_id>.json`` (all optional):
``{"steps": 10, "step_s": 0.05, "exits": [1, 3, ...]}``: attempt n exits with ``exits[n-1]``
(1: a crash with a traceback, 3: fatal) instead of training; missing entries train normally.
Fleet tests add: ``"log": true`` prints ``step N loss X at <unix time>`` per step; ``"stall_at": N`` makes the
first attempt stop making progress after step N (it still honours SIGTERM unless
``"ignore_term": true``, then only SIGKILL ends it). Every step is reported in
``<run dir>/progress.json`` as the real trainer's ProgressRecorder does (the stall watchdog's input).
``"loss": "nan"`` (or any float text) is reported as the final ``train/loss``; ``"grandchild":
true`` starts a child process that only sleeps (as a DDP rank or DataLoader worker would live on),
its pid in ``<run dir>/grandchild.pid``.

Fencing like the real trainer: when the worker passes ``RL_JOB_ATTEMPT`` it checks the lease
(``receipt_lightning.training.fencing``) before every checkpoint and summary write, and exits 1
with a ``fenced`` event when another attempt took over.

Ground truth for "never two trainers at once": every attempt holds an exclusive ``flock`` on
``<run dir>/.trainer.lock`` (released by the kernel even on SIGKILL); failing to get it appends
a line to ``<root>/violations.log``. Starts and ends go to ``<root>/trainer_events.log``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

WORKER_KEYS = ("run_id=", "paths.root=", "spot.metadata_endpoint=", "data.root=")


def event(root: Path, text: str) -> None:
    with open(root / "trainer_events.log", "a") as f:
        f.write(f"{time.time():.3f} {os.getpid()} {text}\n")


def write_atomic(path: Path, text: str) -> None:
    """Written whole or not at all: a trainer killed mid-write leaves the old file."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data))


def main(argv: list[str]) -> int:
    stop = {"requested": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))  # first: a stop may come early
    args = dict(a.split("=", 1) for a in argv if "=" in a)
    run_id, root = args["run_id"], Path(args["paths.root"])
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = open(run_dir / ".trainer.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        with open(root / "violations.log", "a") as f:
            f.write(f"{time.time():.3f} {run_id} second trainer pid {os.getpid()}\n")
        return 1
    plan_path = root / "fake_plan" / f"{run_id}.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else {}
    counter = run_dir / "fake_attempts"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    # A worker may kill this trainer as it starts (it gave up on the message after a failed AWS
    # call): an empty counter would fail every later attempt (CI chaos run of 2026-12-03).
    write_atomic(counter, str(attempt))
    event(root, f"start {run_id} attempt {attempt} token {os.environ.get('RL_JOB_ATTEMPT', '-')}")
    fence = None
    if os.environ.get("RL_JOB_ATTEMPT"):
        from receipt_lightning.training.fencing import FencedOut, current_fence

        fence = current_fence()

    def fenced(what: str) -> bool:
        if fence is None:
            return False
        try:
            fence.check(what)
        except FencedOut as err:
            event(root, f"fenced {run_id} {err}")
            return True
        return False

    exits = plan.get("exits", [])
    if attempt <= len(exits) and exits[attempt - 1] not in (0, None):
        event(root, f"end {run_id} exit {exits[attempt - 1]}")
        if exits[attempt - 1] == 1:
            print(
                "Traceback (most recent call last):\n  File 'fake'\nRuntimeError: planned crash", flush=True
            )
        return int(exits[attempt - 1])
    if plan.get("grandchild"):
        import subprocess

        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        (run_dir / "grandchild.pid").write_text(str(child.pid))
    steps, step_s = int(plan.get("steps", 10)), float(plan.get("step_s", 0.05))
    ckpt = run_dir / "fake_ckpt.json"
    start = json.loads(ckpt.read_text())["step"] if ckpt.exists() else 0
    step = start
    stall_at = plan.get("stall_at") if attempt == 1 else None
    if stall_at is not None and plan.get("ignore_term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while step < steps:
        if stop["requested"]:
            break
        if stall_at is not None and step >= stall_at:
            time.sleep(0.05)  # hung: no new step, ever
            continue
        time.sleep(step_s)
        if fenced(f"checkpoint step {step + 1}"):
            return 1
        step += 1
        write_json(ckpt, {"step": step})
        progress = {"attempt_id": f"fake-{os.getpid()}", "global_step": step, "epoch": 0,
                    "total_steps": steps, "time_unix": time.time()}  # fmt: skip
        write_json(run_dir / "progress.json", progress)
        if plan.get("log"):
            print(f"step {step} loss {1.0 / (1 + step):.4f} at {time.time():.3f}", flush=True)
    job = sorted(a for a in argv if not a.startswith(WORKER_KEYS))
    summary = {
        "run_id": run_id,
        "status": "COMPLETED" if step >= steps else "INTERRUPTED",
        "global_step": step,
        "metrics": {"val/f1": 0.5 + step / (2 * max(steps, 1)), "train/loss": float(plan.get("loss", 1.0 / (1 + step)))},
        "weights_sha256": hashlib.sha256(json.dumps([job, step]).encode()).hexdigest(),
        "last_checkpoint": str(ckpt),
        "resumed_from": f"{run_dir}/checkpoints/step-{start:08d}.ckpt" if start else None,
    }
    if start:
        summary["resume"] = {"global_step": start}
    if fenced("summary.json"):
        return 1
    write_json(run_dir / "summary.json", summary)
    event(root, f"end {run_id} {summary['status']} step {step}")
    return 0 if step >= steps else 75


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
