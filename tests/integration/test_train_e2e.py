"""End to end through the real entry point: train -> summary.json -> predict -> evaluate, and
the one-line errors a user sees for bad overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def run_cli(args: list[str], tmp_path: Path, timeout: int = 600, module: str = "receipt_lightning.train"):
    env = dict(os.environ, OMP_NUM_THREADS="1", RL_SHARED_ROOT=str(tmp_path), HYDRA_FULL_ERROR="0")
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


TINY = [
    "data.n_train=24",
    "data.n_val=8",
    "trainer.max_epochs=2",
    "trainer.check_val_every_n_epoch=1",
    "data.batch_size=8",
    "trainer.enable_progress_bar=false",
]


def test_train_predict_evaluate(tmp_path):
    proc = run_cli(["+experiment=smoke", "run_id=e2e", *TINY], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / "e2e"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run_id"] == "e2e" and summary["status"] == "COMPLETED"
    assert summary["global_step"] == 2 * 3  # 24 receipts / batch 8 x 2 epochs
    assert len(summary["weights_sha256"]) == 64
    assert summary["train_samples_per_s"] > 0
    assert "val/f1" in summary["metrics"]
    assert (run_dir / "config.yaml").is_file()
    ckpt = summary["last_checkpoint"] or summary["best_checkpoint"]
    assert ckpt and Path(ckpt).is_file()

    # A JSONL file of receipts with key values, to predict on and score against.
    from receipt_lightning.data.jsonl import write_jsonl
    from receipt_lightning.data.synthetic.generator import generate_receipts

    receipts = generate_receipts(5, seed=99)
    write_jsonl(receipts, tmp_path / "new.jsonl")
    truth = tmp_path / "truth"
    truth.mkdir()
    for r in receipts:
        (truth / f"{r.id}.json").write_text(json.dumps(r.fields))
    out = tmp_path / "pred"
    proc = run_cli(
        ["predict", "--checkpoint", ckpt, "--input", str(tmp_path / "new.jsonl"), "--output", str(out)],
        tmp_path,
        module="receipt_lightning.cli",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.stem for p in out.glob("*.json")) == sorted(r.id for r in receipts)
    for p in out.glob("*.json"):
        assert set(json.loads(p.read_text())) <= {"company", "date", "address", "total"}
    proc = run_cli(
        ["evaluate", "--predictions", str(out), "--ground-truth", str(truth), "--json"],
        tmp_path,
        module="receipt_lightning.cli",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "f1" in proc.stdout


def test_rerun_of_finished_run_resumes_and_keeps_weights(tmp_path):
    args = ["+experiment=smoke", "run_id=again", *TINY]
    first = run_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    sha = json.loads((tmp_path / "runs/again/summary.json").read_text())["weights_sha256"]
    second = run_cli(args, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads((tmp_path / "runs/again/summary.json").read_text())
    assert summary["resumed_from"], "the second start must find the first run's checkpoint"
    assert summary["weights_sha256"] == sha


def test_an_ensemble_trains_resumes_and_predicts_through_the_entry_points(tmp_path):
    args = ["+experiment=smoke", "run_id=ens", "model.ensemble_size=2", *TINY]
    first = run_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads((tmp_path / "runs/ens/summary.json").read_text())
    assert summary["status"] == "COMPLETED" and "val/field_f1" in summary["metrics"]
    second = run_cli(args, tmp_path)  # a restarted worker finds the finished ensemble
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads((tmp_path / "runs/ens/summary.json").read_text())
    assert again["resumed_from"] and again["weights_sha256"] == summary["weights_sha256"]

    from receipt_lightning.data.jsonl import write_jsonl
    from receipt_lightning.data.synthetic.generator import generate_receipts
    from receipt_lightning.model.ensemble import TokenEnsemble
    from receipt_lightning.predict import load_predictor

    assert isinstance(load_predictor(summary["last_checkpoint"]).model, TokenEnsemble)
    receipts = generate_receipts(3, seed=7)
    write_jsonl(receipts, tmp_path / "new.jsonl")
    out = tmp_path / "pred"
    proc = run_cli(
        ["predict", "--checkpoint", summary["last_checkpoint"], "--input", str(tmp_path / "new.jsonl")]
        + ["--output", str(out)],
        tmp_path,
        module="receipt_lightning.cli",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.stem for p in out.glob("*.json")) == sorted(r.id for r in receipts)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_fast_dev_run(tmp_path, experiment, request):
    args = [f"+experiment={experiment}", "run_id=fdr", "trainer.fast_dev_run=true", "data.n_train=8", "data.n_val=4"]
    if "sroie" in experiment:
        args.append(f"data.root={request.getfixturevalue('sroie_dir')}")
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model=layoutlm_nope", "layoutlm_nope"),
        ("trainer.max_epoch=3", "max_epoch"),
        ("data=sroie", "data.root"),
    ],
)
def test_bad_overrides_give_one_clear_line(tmp_path, override, expected):
    proc = run_cli(["run_id=bad", override], tmp_path, timeout=120)
    out = proc.stdout + proc.stderr  # Hydra's job logging goes to stdout
    assert proc.returncode != 0
    assert expected in out
    assert "Traceback" not in out


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_splits_the_epoch(tmp_path):
    args = [
        "+experiment=smoke", "run_id=ddp", *TINY, "trainer=ddp", "trainer.accelerator=cpu",
        "trainer.devices=2", "trainer.precision=32-true", "trainer.deterministic=false",
    ]  # fmt: skip
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    summary = json.loads((tmp_path / "runs/ddp/summary.json").read_text())
    # 24 receipts / batch 8 = 3 batches per epoch, 1 per rank (remainder dropped) x 2 epochs
    assert summary["status"] == "COMPLETED" and summary["global_step"] == 2


def test_a_time_budget_stops_an_overrunning_run_early_and_still_validates_it(tmp_path):
    """A budget the planned schedule cannot meet: the run stops after its probe steps, and is
    validated at the end although the recipe validates only after its last epoch."""
    args = ["+experiment=smoke", "run_id=budget", "data.n_train=400", "data.n_val=8", "data.batch_size=8",
            "trainer.max_epochs=4", "trainer.check_val_every_n_epoch=4", "trainer.enable_progress_bar=false",
            "time_budget_minutes=1.0"]  # fmt: skip  (60 s, all of it the reserve: stop at once)
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "budget" / "summary.json").read_text())
    assert summary["status"] == "COMPLETED"
    budget = summary["time_budget"]
    assert budget["minutes"] == 1.0 and budget["planned_steps"] == 4 * 50
    assert summary["global_step"] == budget["steps"] < budget["planned_steps"]
    assert "val/f1" in summary["metrics"]
    assert "time budget 1.0 min" in proc.stderr + proc.stdout


def test_a_final_fit_without_validation_receipts_trains_and_predicts_from_its_last_checkpoint(tmp_path):
    """No validation receipts (``data.val_fraction=0`` for SROIE, ``data.n_val=0`` here): the run
    trains on everything, never validates (not even when the time budget cuts it short) and
    names no best checkpoint; ``predict`` takes its last one."""
    args = ["+experiment=smoke", "run_id=final", "data.n_train=400", "data.n_val=0", "data.batch_size=8",
            "trainer.max_epochs=4", "trainer.check_val_every_n_epoch=1", "trainer.enable_progress_bar=false",
            "time_budget_minutes=1.0"]  # fmt: skip
    proc = run_cli(args, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "a final fit on every training receipt" in out
    summary = json.loads((tmp_path / "runs" / "final" / "summary.json").read_text())
    assert summary["status"] == "COMPLETED" and summary["validated"] is False
    assert summary["time_budget"]["steps"] < summary["time_budget"]["planned_steps"]
    assert summary["best_checkpoint"] is None and Path(summary["last_checkpoint"]).is_file()
    assert not [k for k in summary["metrics"] if k.startswith("val/")]
    assert "final_validation" not in summary

    data = tmp_path / "receipts.jsonl"
    data.write_text(json.dumps({"id": "r1", "words": ["TOTAL", "9.00"], "bboxes": [[0, 0, 10, 10], [20, 0, 30, 10]]}) + "\n")
    proc = run_cli(["predict", "--checkpoint", str(tmp_path / "runs" / "final"), "--input", str(data),
                    "--output", str(tmp_path / "preds")], tmp_path, module="receipt_lightning.cli")  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert (tmp_path / "preds" / "r1.json").is_file()
