"""Exact resume: a run interrupted at some step and resumed in a FRESH process ends with
bitwise-identical weights to the uninterrupted run, and replays no data.

Each case runs ``resume_app.py`` twice as subprocesses (interrupted, then resumed); the
uninterrupted baseline runs once per worker count. The app: 3 epochs x 11 batches, a step-based
checkpoint every 3 steps, a best checkpoint on ``val/f1``, dropout, torch/numpy/python draws.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = ["-m", "tests.support.resume_app"]
REPO = Path(__file__).resolve().parents[2]
BATCHES_PER_EPOCH, EPOCHS = 11, 3

pytestmark = pytest.mark.slow  # each case starts two Python processes that import Lightning


def run_app(run_dir: Path, *args: str, expect_rc: int = 0) -> dict | None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, *APP, str(run_dir), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == expect_rc, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    final = run_dir / "final.json"
    return json.loads(final.read_text()) if expect_rc == 0 else None


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """Uninterrupted runs, by the app options a case runs with (e.g. workers change where the
    dataset's noise comes from)."""
    cache: dict[tuple[str, ...], dict] = {}

    def get(*options: str) -> dict:
        if options not in cache:
            cache[options] = run_app(tmp_path_factory.mktemp("baseline"), *options)
        return cache[options]

    return get


CASES = {
    # name: (interrupting args, first-run exit code, checkpoint expected to resume from)
    # (options every run of a case shares are in OPTIONS)
    "mid_epoch_hard_kill": (["--die-after-step", "5"], 3, "step-00000003.ckpt"),
    "last_batch_spot_save": (["--spot-save-at", "11"], 3, "step-00000011.ckpt"),
    # step 11's file is rewritten at on_train_epoch_end by the best checkpoint (after validation)
    "epoch_end_best_checkpoint": (["--die-after-step", "11"], 3, "step-00000011.ckpt"),
    "validation_end_best_checkpoint": (
        ["--best-on-epoch-end", "false", "--die-after-step", "11"],
        3,
        "step-00000011.ckpt",
    ),
    "async_in_flight_hard_kill": (
        ["--async-save", "--slow-save", "1.5", "--die-after-step", "6"],
        3,
        "step-00000003.ckpt",
    ),
    # configure_optimizers reads trainer.estimated_stepping_batches (see ResumeFixes)
    "loader_built_before_restore": (["--die-after-step", "5"], 3, "step-00000003.ckpt"),
    "async_in_flight_exception": (
        ["--async-save", "--slow-save", "1.5", "--raise-after-step", "7"],
        1,
        "step-00000006.ckpt",
    ),
}


OPTIONS = {"loader_built_before_restore": ["--estimated-steps"]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_resume_is_bitwise_exact(case, baselines, tmp_path):
    args, first_rc, expected_ckpt = CASES[case]
    options = OPTIONS.get(case, [])
    base = baselines(*options)
    run_app(tmp_path, *options, *args, expect_rc=first_rc)
    resumed = run_app(tmp_path, *options)

    assert resumed["resumed_from"] == expected_ckpt
    assert resumed["weights_sha256"] == base["weights_sha256"]
    assert (resumed["global_step"], resumed["epoch"]) == (EPOCHS * BATCHES_PER_EPOCH, EPOCHS)
    # Same batches in the same order as the tail of the uninterrupted run...
    assert resumed["trace"] == base["trace"][-len(resumed["trace"]) :]
    # ...and O(1) resume: the fresh process fetched only the batches it trained on.
    assert resumed["items_fetched"] == 4 * len(resumed["trace"])
    ckpt_step = int(expected_ckpt[5:13])
    assert len(resumed["trace"]) == EPOCHS * BATCHES_PER_EPOCH - ckpt_step


def test_resume_with_loader_workers_is_exact(baselines, tmp_path):
    """Worker processes prefetch indices ahead of training; torchdata's snapshots keep the
    sampler state aligned with the batches consumed, at an epoch boundary too."""
    base = baselines("--workers", "2")
    run_app(tmp_path, "--workers", "2", "--spot-save-at", "11", expect_rc=3)
    resumed = run_app(tmp_path, "--workers", "2")
    assert resumed["weights_sha256"] == base["weights_sha256"]
    assert resumed["trace"] == base["trace"][-len(resumed["trace"]) :]


def test_sampler_state_in_checkpoint_matches_batches_trained(tmp_path):
    """Lightning's prefetching must not leave the saved sampler one batch ahead."""
    import torch

    run_app(tmp_path, "--spot-save-at", "7", expect_rc=3)
    ckpt = torch.load(tmp_path / "checkpoints" / "step-00000007.ckpt", weights_only=True)
    (loader_state,) = ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    sampler_state = loader_state["_index_sampler_state"]
    assert (sampler_state["epoch"], sampler_state["yielded"]) == (0, 7)


def test_work_lost_is_recorded(tmp_path):
    run_app(tmp_path, "--die-after-step", "5", expect_rc=3)
    resumed = run_app(tmp_path)
    info = resumed["resume_info"]
    assert info["resumed"] and info["checkpoint"] == "step-00000003.ckpt"
    assert info["previous_progress_step"] == 5
    assert info["steps_lost"] == 2
    assert info["seconds_lost"] >= 0 and info["downtime_s"] >= 0
