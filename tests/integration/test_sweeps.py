"""Sweeps against moto's HTTP server: ``train -m hydra/launcher=sqs`` queues one job per
combination, workers (real processes, a stand-in trainer) run them, ``sweep-status`` reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from receipt_lightning.jobs.records import JobStore
from tests.support.queue_support import make_stack, options, queue_depth, worker_process
from tests.support.sweep_trainer import expected_f1

HERE = Path(__file__).resolve().parent
SWEEP_TRAINER = [sys.executable, "-m", "tests.support.sweep_trainer"]

GRID = ["model.learning_rate=1e-5,3e-5", "data.batch_size=4,8", "trainer.max_epochs=1"]


@pytest.fixture
def stack(aws, tmp_path):
    names, env = make_stack(tmp_path / "efs")
    return names, env, tmp_path / "efs"


def launch(env: dict, *overrides: str, module: str = "receipt_lightning.train", timeout: int = 120):
    """``python -m <module> -m <overrides>`` with the stack's environment."""
    penv = {**os.environ, **env, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", module, "-m", *overrides], cwd=env["RL_SHARED_ROOT"],
                          env=penv, capture_output=True, text=True, timeout=timeout)  # fmt: skip


def sweep_id_of(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("sweep_id=")]
    assert len(lines) == 1, proc.stdout
    return lines[0].split("=", 1)[1]


def status_json(names, sweep_id: str, capsys, *flags: str) -> tuple[int, dict]:
    from receipt_lightning.cli import main

    capsys.readouterr()
    rc = main(["sweep-status", sweep_id, "--json", "--sweeps-table", names.sweeps_table,
               "--dynamo-table", names.jobs_table, *flags])  # fmt: skip
    return rc, json.loads(capsys.readouterr().out)


def run_workers(env: dict, root: Path, n: int = 2, timeout_s: float = 90) -> None:
    procs = [
        worker_process(env, root / f"worker{i}.log", "--idle-timeout", "3", trainer=SWEEP_TRAINER)
        for i in range(n)
    ]
    try:
        for p in procs:
            assert p.wait(timeout=timeout_s) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def test_grid_sweep_runs_on_workers_and_resubmits_nothing(stack, capsys):
    names, env, root = stack
    sweep_id = sweep_id_of(launch(env, "hydra/launcher=sqs", *GRID))
    store = JobStore(names.jobs_table)
    jobs = store.scan()
    assert len(jobs) == 4 and {j["sweep_id"] for j in jobs} == {sweep_id}
    assert all("trainer.max_epochs=1" in j["overrides"] for j in jobs)
    assert not any(o.startswith(("run_id", "+sweep_id")) for j in jobs for o in j["overrides"])
    assert queue_depth(names.queue_urls["normal"]) == 4
    assert not list((root / "runs").iterdir())  # queued, not trained here

    # The same sweep again (values in another order): same id, no new job, no new message.
    again = launch(env, "hydra/launcher=sqs", "model.learning_rate=3e-5,1e-5", "data.batch_size=8,4",
                   "trainer.max_epochs=1")  # fmt: skip
    assert sweep_id_of(again) == sweep_id and "(0 new)" in again.stdout
    assert len(store.scan()) == 4 and queue_depth(names.queue_urls["normal"]) == 4

    rc, before = status_json(names, sweep_id, capsys)
    assert rc == 0 and before["counts"]["queued"] == 4 and not before["done"] and before["best"] is None

    run_workers(env, root)
    rc, status = status_json(names, sweep_id, capsys)
    assert rc == 0 and status["done"] and status["total"] == 4
    assert status["counts"] == {"queued": 0, "running": 0, "completed": 4, "interrupted": 0,
                                "failed": 0, "dead_lettered": 0}  # fmt: skip
    assert set(status["parameter_space"]) == {"model.learning_rate", "data.batch_size"}
    assert status["fixed_overrides"] == ["trainer.max_epochs=1"]
    for trial in status["trials"]:
        lr, bs = float(trial["params"]["model.learning_rate"]), int(trial["params"]["data.batch_size"])
        assert trial["metric"] == pytest.approx(expected_f1(lr, bs))
    best = status["best"]
    assert best["params"] == {"model.learning_rate": "3e-05", "data.batch_size": "4"}
    assert best["metric"] == pytest.approx(expected_f1(3e-5, 4)) and status["first_failure"] is None
    assert queue_depth(names.queue_urls["normal"]) == 0 and queue_depth(names.dlq_url) == 0


def test_failed_trial_shows_as_failed_while_others_complete(stack, capsys):
    from receipt_lightning.sweeps.ids import job_id_for
    from receipt_lightning.sweeps.records import SweepStore

    names, env, root = stack
    sweep_id = sweep_id_of(launch(env, "hydra/launcher=sqs", *GRID, "+sweep_id=lr-bs"))
    assert sweep_id == "lr-bs"
    sweep = SweepStore(names.sweeps_table).get(sweep_id)
    doomed = job_id_for(sweep_id, ["model.learning_rate=1e-05", "data.batch_size=8", "trainer.max_epochs=1"])
    assert doomed in sweep["job_ids"] and len(sweep["job_ids"]) == 4
    (root / "fake_plan").mkdir()
    (root / "fake_plan" / f"{doomed}.json").write_text(json.dumps({"exits": [3]}))  # fatal: not retried

    from receipt_lightning.jobs.worker import Worker

    worker = Worker(options(names, trainer_cmd=SWEEP_TRAINER, idle_timeout_s=3))
    worker.run()
    rc, status = status_json(names, sweep_id, capsys, "--watch", "--interval", "0.2", "--timeout", "30")
    assert rc == 0 and status["done"]
    assert status["counts"]["completed"] == 3 and status["counts"]["failed"] == 1
    failure = status["first_failure"]
    assert failure["job_id"] == doomed and failure["status"] == "failed"
    assert "exited with code 3" in failure["error"] and "planned failure" in failure["error"]
    assert status["best"]["params"] == {"model.learning_rate": "3e-05", "data.batch_size": "4"}

    from receipt_lightning.cli import main

    capsys.readouterr()
    assert main(["sweep-status", sweep_id, "--sweeps-table", names.sweeps_table,
                 "--dynamo-table", names.jobs_table]) == 0  # fmt: skip
    table = capsys.readouterr().out
    assert "3 completed" in table and "1 failed" in table and f"first failure: {doomed}" in table
    assert "<- best" in table


def test_watch_times_out_while_trials_wait(stack, capsys):
    names, env, _ = stack
    sweep_id = sweep_id_of(launch(env, "hydra/launcher=sqs", "model.learning_rate=1e-5,3e-5"))
    rc, status = status_json(names, sweep_id, capsys, "--watch", "--interval", "0.2", "--timeout", "1")
    assert rc == 1 and not status["done"] and status["counts"]["queued"] == 2


def test_hyperparameter_sweep_script_monitors_to_the_end(stack):
    names, env, root = stack
    worker = worker_process(env, root / "worker.log", "--idle-timeout", "8", trainer=SWEEP_TRAINER)
    try:
        cmd = [sys.executable, "-m", "receipt_lightning.scripts.hyperparameter_sweep", "--learning-rates",
               "5e-5,3e-5", "--batch-sizes", "4", "--epochs", "1", "--max-samples", "16", "--monitor",
               "--interval", "0.5", "--timeout", "60"]  # fmt: skip
        proc = subprocess.run(
            cmd, env={**os.environ, **env}, cwd=root, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "2 trials: 0 queued, 0 running, 2 completed" in proc.stdout and "[all ended]" in proc.stdout
        jobs = JobStore(names.jobs_table).scan()
        assert sorted(o for j in jobs for o in j["overrides"] if o.startswith("model.")) == [
            "model.learning_rate=3e-05", "model.learning_rate=5e-05"]  # fmt: skip
        assert all("data.max_samples=16" in j["overrides"] for j in jobs)
    finally:
        worker.kill()
        worker.wait(timeout=10)


def test_optuna_is_refused_by_the_sqs_launcher(stack):
    names, env, _ = stack
    proc = launch(env, "hydra/launcher=sqs", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
                  "model.learning_rate=interval(1e-5,1e-4)")  # fmt: skip
    assert proc.returncode != 0
    assert "cannot drive the sweeper" in proc.stderr and "OptunaSweeper" in proc.stderr
    assert JobStore(names.jobs_table).scan() == [] and queue_depth(names.queue_urls["normal"]) == 0


TINY_TRAIN = ["data.n_train=8", "data.n_val=4", "trainer.max_epochs=1", "data.batch_size=8",
              "trainer.enable_progress_bar=false"]  # fmt: skip


@pytest.mark.slow
def test_optuna_runs_locally_with_the_basic_launcher(tmp_path):
    env = {"RL_SHARED_ROOT": str(tmp_path)}
    optuna = ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=1",
              "hydra.sweeper.sampler.seed=1", "hydra.sweeper.direction=maximize"]  # fmt: skip
    proc = launch(env, *optuna, "model.learning_rate=interval(1e-3,1e-2)", *TINY_TRAIN,
                  module="receipt_lightning.train", timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    import yaml

    result = yaml.safe_load((tmp_path / "multirun" / "local" / "optimization_results.yaml").read_text())
    assert isinstance(result["best_value"], float) and "model.learning_rate" in result["best_params"]
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/summary.json")]
    assert len(summaries) == 2 and all(s["status"] == "COMPLETED" for s in summaries)
    assert result["best_value"] == max(s["metrics"]["val/f1"] for s in summaries)


@pytest.mark.slow
def test_local_multirun_trains_one_after_another(tmp_path):
    proc = launch({"RL_SHARED_ROOT": str(tmp_path)}, "seed=1,2", *TINY_TRAIN, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted((tmp_path / "runs").iterdir())
    assert [r.name.rsplit("-", 1)[1] for r in runs] == ["0", "1"]
    first, second = (json.loads((r / "summary.json").read_text()) for r in runs)
    assert first["status"] == second["status"] == "COMPLETED"
    assert not list((tmp_path / "runs").glob("*/worker"))  # trained here, not queued


@pytest.mark.slow
def test_sweep_with_the_real_trainer(stack, capsys):
    names, env, root = stack
    sweep_id = sweep_id_of(launch(env, "hydra/launcher=sqs", "model.learning_rate=1e-3,3e-3", "data.n_train=8",
                                  "data.n_val=4", "trainer.max_epochs=1", "data.batch_size=8"))  # fmt: skip
    # compose=True: the worker vets each job's composed config as in production.
    real = [sys.executable, "-m", "receipt_lightning.train"]
    proc = worker_process(env, root / "worker.log", "--idle-timeout", "5", trainer=real, compose=True)
    try:
        assert proc.wait(timeout=400) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rc, status = status_json(names, sweep_id, capsys)
    assert status["counts"]["completed"] == 2, (root / "worker.log").read_text()[-3000:]
    assert all(isinstance(t["metric"], float) for t in status["trials"]) and status["best"] is not None
