"""Real training processes: SIGTERM from outside gives exit status 75 with the Spot callback (and
a checkpoint), 0 with Lightning's handling alone (the trap); under two-rank DDP a notice seen by
the polling rank stops both ranks at the same step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from receipt_lightning.aws.imds_stub import IMDSStub
from receipt_lightning.errors import EXIT_INTERRUPTED

HERE = Path(__file__).resolve().parent
SCRIPT = "tests.support.spot_exit_script"
REPO = Path(__file__).resolve().parents[2]


def run_and_terminate(run_dir: Path, *args: str, script: str = SCRIPT, on_training=None) -> tuple[int, str]:
    """Run ``script``; once it writes ``run_dir/training``, call ``on_training`` (default: send
    SIGTERM); return its exit status and output."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", script, str(run_dir), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # seconds: importing torch + lightning on a busy machine
        while not (run_dir / "training").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"script never started training:\n{proc.communicate()[0][-2000:]}")
            time.sleep(0.05)
        (on_training or (lambda: proc.send_signal(signal.SIGTERM)))()
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out


def test_sigterm_gives_exit_75_and_a_checkpoint(tmp_path):
    rc, out = run_and_terminate(tmp_path)
    assert rc == EXIT_INTERRUPTED, out[-2000:]
    assert "interrupted: sigterm" in out
    assert list((tmp_path / "ckpt").glob("step-*.ckpt"))


def test_lightning_alone_exits_0_on_sigterm(tmp_path):
    rc, out = run_and_terminate(tmp_path, "--no-spot")
    assert rc == 0, out[-2000:]
    assert not (tmp_path / "ckpt").exists() or not list((tmp_path / "ckpt").glob("step-*.ckpt"))


@pytest.mark.slow
def test_ddp_ranks_stop_together_and_only_rank_zero_records(tmp_path):
    with IMDSStub() as stub:
        rc, out = run_and_terminate(
            tmp_path, stub.endpoint, script="tests.support.spot_ddp_script", on_training=stub.set_notice
        )
        assert stub.count("PUT", "/latest/api/token") == 1  # one poller: local rank 0 only
    assert rc == EXIT_INTERRUPTED, out[-2000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["global_step"] == ranks[1]["global_step"]
    assert [r["reason"] for r in ranks] == ["spot-interruption", "notice-on-another-rank"]
    assert [r["statuses"] for r in ranks] == [["INTERRUPTED"], []]
    step = ranks[0]["global_step"]
    assert (tmp_path / "ckpt" / f"step-{step:08d}.ckpt").exists()
