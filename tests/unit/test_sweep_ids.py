"""Sweep and job ids, parameter space, status aggregation, rendering and the launcher's guards."""

from __future__ import annotations

import io
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.messages import JOB_ID
from receipt_lightning.sweeps.ids import (
    SWEEP_ID,
    derive_sweep_id,
    job_id_for,
    parameter_space,
    split_sweep_keys,
)
from receipt_lightning.sweeps.submit import prepare
from receipt_lightning.sweeps.summary import metric_value, summarize

REPO = Path(__file__).resolve().parents[2]
GRID = [
    ["model.learning_rate=1e-05", "data.batch_size=4", "trainer.max_epochs=1"],
    ["model.learning_rate=1e-05", "data.batch_size=8", "trainer.max_epochs=1"],
    ["model.learning_rate=3e-05", "data.batch_size=4", "trainer.max_epochs=1"],
    ["model.learning_rate=3e-05", "data.batch_size=8", "trainer.max_epochs=1"],
]


def test_sweep_id_is_deterministic_and_order_free():
    sid = derive_sweep_id(GRID)
    assert SWEEP_ID.match(sid) and sid.startswith("sweep-")
    shuffled = [list(reversed(c)) for c in reversed(GRID)]
    assert derive_sweep_id(shuffled) == sid
    assert derive_sweep_id(GRID[:3]) != sid
    assert derive_sweep_id([*GRID, GRID[0]]) == sid  # a repeated combination is the same sweep


def test_job_id_depends_on_sweep_and_overrides_only():
    sid = derive_sweep_id(GRID)
    ids = [job_id_for(sid, c) for c in GRID]
    assert len(set(ids)) == 4 and all(JOB_ID.match(j) and j.startswith(sid + "-") for j in ids)
    assert job_id_for(sid, list(reversed(GRID[0]))) == ids[0]
    assert job_id_for("other", GRID[0]) != ids[0]
    longest = job_id_for("x" * 48, GRID[0])
    assert JOB_ID.match(longest)


def test_sweep_only_keys_are_removed_from_jobs():
    job, removed = split_sweep_keys(["seed=1", "run_id=abc-${hydra:job.num}", "+sweep_id=mine"])
    assert job == ["seed=1"] and removed == {"run_id": "abc-${hydra:job.num}", "sweep_id": "mine"}


def test_prepare_takes_the_named_sweep_id_and_checks_it():
    combos = [[*c, "+sweep_id=grid-1", "run_id=r-${hydra:job.num}"] for c in GRID]
    sid, trials = prepare(combos)
    assert sid == "grid-1" and len(trials) == 4
    assert all(not o.startswith(("+sweep_id", "run_id")) for t in trials.values() for o in t)
    assert prepare(combos, "grid-1")[0] == "grid-1"
    with pytest.raises(InputError, match="differs"):
        prepare(combos, "grid-2")
    with pytest.raises(InputError, match="sweep id"):
        prepare([[*GRID[0], "+sweep_id=../etc"]])
    assert prepare(GRID)[0] == derive_sweep_id(GRID)


def test_parameter_space_separates_swept_from_fixed():
    space, fixed = parameter_space(GRID)
    assert space == {"model.learning_rate": ["1e-05", "3e-05"], "data.batch_size": ["4", "8"]}
    assert fixed == ["trainer.max_epochs=1"]
    space, fixed = parameter_space([["seed=1"], ["seed=1", "+experiment=smoke"]])
    assert "experiment" in space and fixed == ["seed=1"]


def _sweep(job_ids):
    trials = dict(zip(job_ids, GRID, strict=True))
    space, fixed = parameter_space(GRID)
    return {"sweep_id": "s", "job_ids": job_ids, "trials": trials, "parameter_space": space,
            "fixed_overrides": fixed, "metric": "val/f1", "mode": "max"}  # fmt: skip


def test_summary_counts_best_and_first_failure():
    ids = ["a", "b", "c", "d"]
    jobs = {
        "a": {"job_id": "a", "status": "COMPLETED", "final_metrics": {"val/f1": 0.7}, "ended_at": 5},
        "b": {"job_id": "b", "status": "FAILED", "error": "boom", "ended_at": 9, "attempts": [{}, {}]},
        "c": {"job_id": "c", "status": "COMPLETED", "final_metrics": {"val_f1": 0.9}, "ended_at": 6},
        "d": {"job_id": "d", "status": "REJECTED", "error": "poison", "ended_at": 3},
    }
    s = summarize(_sweep(ids), jobs)
    assert s["counts"] == {"queued": 0, "running": 0, "completed": 2, "interrupted": 0, "failed": 1,
                           "dead_lettered": 1}  # fmt: skip
    assert s["done"] and s["best"]["job_id"] == "c" and s["best"]["metric"] == 0.9
    assert s["first_failure"]["job_id"] == "d" and s["first_failure"]["error"] == "poison"
    assert [t["job_id"] for t in s["trials"]] == ["a", "b", "c", "d"]  # parameter order
    low = summarize(_sweep(ids), jobs, metric="val/f1", mode="min")
    assert low["best"]["job_id"] == "a"


def test_summary_of_a_running_sweep():
    ids = ["a", "b", "c", "d"]
    jobs = {
        "a": {"status": "RUNNING"},
        "b": {"status": "RETRYING"},
        "c": {"status": "INTERRUPTED"},
    }
    s = summarize(_sweep(ids), jobs, metric="train/loss")
    assert s["mode"] == "min"  # losses: lower is better
    assert s["counts"]["running"] == 1 and s["counts"]["queued"] == 1 and s["counts"]["interrupted"] == 1
    assert s["counts"]["missing"] == 1 and not s["done"] and s["best"] is None


def test_metric_value_ignores_non_numbers():
    assert metric_value({"final_metrics": {"m": float("nan")}}, "m") is None
    assert metric_value({"final_metrics": {"m": True}}, "m") is None
    assert metric_value(None, "m") is None
    assert metric_value({"final_metrics": {"m": 2}}, "m") == 2.0


def test_render_and_watch():
    from receipt_lightning.sweeps.render import render
    from receipt_lightning.sweeps.watch import watch

    ids = ["a", "b", "c", "d"]
    jobs = {j: {"status": "COMPLETED", "final_metrics": {"val/f1": i / 10}} for i, j in enumerate(ids)}
    jobs["b"] = {"status": "FAILED", "error": "trainer exited with code 1:\nRuntimeError: x"}
    done = summarize(_sweep(ids), jobs)
    text = render(done)
    assert "3 completed" in text and "1 failed" in text and "[all ended]" in text
    assert "d  " not in text.splitlines()[0] and "0.3  <- best" in text
    assert "first failure: b (failed, model.learning_rate=1e-05 data.batch_size=8)" in text
    assert "RuntimeError: x" in text

    states = [summarize(_sweep(ids), {}), done]
    out = io.StringIO()
    summary, finished = watch(lambda: states.pop(0), interval_s=5, out=out, draw=render, sleep=lambda s: None)
    assert finished and summary is done and out.getvalue().count("sweep s") == 2

    now = [0.0]
    summary, finished = watch(lambda: summarize(_sweep(ids), {}), interval_s=5, timeout_s=12,
                              clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))  # fmt: skip
    assert not finished and now[0] == 12.0
    with pytest.raises(InputError):
        watch(lambda: done, interval_s=0)


def test_launcher_refuses_sweepers_that_need_results():
    from receipt_lightning.sweeps.sweepers import SweeperNeedsResults, check_sweeper

    check_sweeper("hydra._internal.core_plugins.basic_sweeper.BasicSweeper")
    with pytest.raises(SweeperNeedsResults, match="cannot drive the sweeper"):
        check_sweeper("hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper")


def test_launcher_option_is_the_commented_dataclass():
    from hydra.core.config_store import ConfigStore

    from hydra_plugins.sqs_launcher.config import SQSLauncherConf

    # `hydra/launcher=sqs` is the dataclass itself (no YAML copy of its fields).
    assert not (REPO / "conf" / "hydra" / "launcher" / "sqs.yaml").exists()
    node = ConfigStore.instance().load("hydra/launcher/sqs.yaml").node
    assert dict(node) == {f.name: f.default for f in fields(SQSLauncherConf)}
    text = (REPO / "launch" / "hydra_plugins" / "sqs_launcher" / "config.py").read_text()
    for f in fields(SQSLauncherConf)[1:]:  # every field but _target_ has a comment above it
        line = next(i for i, ln in enumerate(text.splitlines()) if ln.strip().startswith(f"{f.name}:"))
        assert text.splitlines()[line - 1].strip().startswith("#"), f.name


def test_hydra_discovers_the_launcher():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    names = [p.__name__ for p in Plugins.instance().discover(Launcher)]
    assert "SQSLauncher" in names
    assert not (REPO / "launch" / "hydra_plugins" / "__init__.py").exists()  # namespace package


def test_sweep_script_builds_the_launcher_command():
    from receipt_lightning.scripts.hyperparameter_sweep import build_parser, launch_command

    args = build_parser().parse_args(["--stack", "dev", "--learning-rates", "5e-5, 3e-5", "--batch-sizes",
                                      "4,8", "--epochs", "3", "--max-samples", "1000"])  # fmt: skip
    cmd = launch_command(args)
    assert cmd[:5] == [sys.executable, "-m", "receipt_lightning.train", "-m", "hydra/launcher=sqs"]
    assert "hydra.launcher.stack=dev" in cmd and "model.learning_rate=5e-5,3e-5" in cmd
    assert "data.batch_size=4,8" in cmd and "trainer.max_epochs=3" in cmd and "data.max_samples=1000" in cmd
    bad = build_parser().parse_args(["--learning-rates", "fast", "--batch-sizes", "4", "--epochs", "1"])
    with pytest.raises(InputError, match="--learning-rates"):
        launch_command(bad)


def test_objective_reads_the_run_summary(tmp_path):
    import json

    from omegaconf import OmegaConf

    from receipt_lightning.sweeps.objective import objective

    cfg = OmegaConf.create({"paths": {"run_dir": str(tmp_path)}})
    assert objective(cfg) is None
    (tmp_path / "summary.json").write_text(json.dumps({"metrics": {"val/f1": 0.5, "train/loss": 0.2}}))
    assert objective(cfg) == 0.5
    cfg.objective = "train/loss"
    assert objective(cfg) == 0.2
