"""The commands and the API example of the "Receipt Trainer" README this project replaces, as that
README wrote them, against a stack on moto's server (one test per command):

    receipt-trainer submit-job --config config.yaml --queue-url URL --priority high
    receipt-trainer start-worker --queue-url URL --dynamo-table T --instance-registry-table I --mount-efs
    python -m receipt_trainer.scripts.hyperparameter_sweep --stack dev --monitor
    submit_training_job(model_name=..., training_config=TrainingConfig(...),
                        data_config=DataConfig(...), queue_url=..., priority="high")
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.job_config import DataConfig, TrainingConfig
from receipt_lightning.jobs.records import COMPLETED, REJECTED, JobStore
from tests.support.queue_support import REPO, make_stack, options, queue_depth, worker_process

ARGV_TRAINER = [sys.executable, "-m", "tests.support.argv_trainer"]
SWEEP_TRAINER = [sys.executable, "-m", "tests.support.sweep_trainer"]
EXAMPLE = REPO / "conf" / "jobs" / "example_job.yaml"
RL_VARS = ("RL_QUEUE_URL", "RL_QUEUE_URL_HIGH", "RL_QUEUE_URL_LOW", "RL_DLQ_URL", "RL_JOBS_TABLE",
           "RL_INSTANCES_TABLE", "RL_METRICS_TABLE", "RL_SWEEPS_TABLE", "RL_SHARED_ROOT", "RL_EFS_ID")  # fmt: skip


@pytest.fixture
def stack(aws, tmp_path, monkeypatch):
    for var in RL_VARS:
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "efs"
    names, env = make_stack(root)
    for part in ("box", "key"):  # what the example job names: a SROIE folder with its labels
        (root / "datasets" / "sroie" / part).mkdir(parents=True)
    return names, env, root


def _publish(stack_name: str, env: dict[str, str]) -> None:
    """A CloudFormation stack on moto whose outputs name the resources (as the template's do)."""
    from receipt_lightning.aws.dev_stack import publish_outputs
    from receipt_lightning.aws.session import client

    publish_outputs(client("cloudformation"), stack_name, env)


def _trainer_argv(root: Path, job_id: str) -> list[str]:
    return json.loads((root / "runs" / job_id / "argv.json").read_text())


def test_submit_job_as_written_trains_minilm_on_the_jobs_dataset(stack, monkeypatch, capsys):
    from receipt_lightning.cli import main
    from receipt_lightning.jobs.worker import Worker

    names, env, root = stack
    url = names.queue_urls["high"]
    # Without a jobs table the error names a flag submit-job has, and a variable.
    assert main(["submit-job", "--config", str(EXAMPLE), "--queue-url", url, "--priority", "high"]) == 1
    err = capsys.readouterr().err
    assert "--dynamo-table" in err and "RL_JOBS_TABLE" in err
    assert queue_depth(url) == 0
    monkeypatch.setenv("RL_JOBS_TABLE", names.jobs_table)  # as `source dev-stack.env` sets it
    assert main(["submit-job", "--config", str(EXAMPLE), "--queue-url", url, "--priority", "high"]) == 0
    job_id = capsys.readouterr().out.strip()
    assert main(["submit-job", "--config", str(EXAMPLE), "--dynamo-table", names.jobs_table, "--queue-url", url,
                 "--job-id", job_id]) == 0  # fmt: skip
    job = JobStore(names.jobs_table).get(job_id)
    assert job["priority"] == "high" and job["config"]["model"] == "layoutlm_minilm"
    Worker(options(names, trainer_cmd=ARGV_TRAINER, idle_timeout_s=2, max_jobs=1, compose_check=True)).run()
    assert JobStore(names.jobs_table).get(job_id)["status"] == COMPLETED
    argv = _trainer_argv(root, job_id)
    # A real model on the job's dataset, the device and precision chosen by the worker's machine.
    assert {"model=layoutlm_minilm", "trainer=auto", "data=sroie", f"data.root={root}/datasets/sroie"} <= set(argv)


def test_submit_training_job_api_example(stack, monkeypatch):
    from receipt_lightning.jobs.submit import submit_training_job
    from receipt_lightning.jobs.worker import Worker

    names, env, root = stack
    example = dict(
        model_name="layoutlm_minilm",
        training_config=TrainingConfig(num_epochs=3, batch_size=8, learning_rate=5e-5),
        data_config=DataConfig(dataset_name="sroie", train_split="train", eval_split="validation"),
        queue_url=names.queue_urls["high"],
        priority="high",
    )
    with pytest.raises(InputError, match="RL_JOBS_TABLE") as err:
        submit_training_job(**example)
    assert "dynamo_table=" in str(err.value)
    monkeypatch.setenv("RL_JOBS_TABLE", names.jobs_table)
    job_id = submit_training_job(**example)
    Worker(options(names, trainer_cmd=ARGV_TRAINER, idle_timeout_s=2, max_jobs=1, compose_check=True)).run()
    assert JobStore(names.jobs_table).get(job_id)["status"] == COMPLETED
    argv = _trainer_argv(root, job_id)
    assert {"model=layoutlm_minilm", "data=sroie", "trainer.max_epochs=3", "model.learning_rate=5e-05"} <= set(argv)
    # No model named: layoutlm_minilm; a split name the datasets do not have: refused, naming it.
    only_data = submit_training_job(data_config=DataConfig(dataset_name="sroie"), dynamo_table=names.jobs_table,
                                    queue_url=names.queue_urls["normal"])  # fmt: skip
    assert "model=layoutlm_minilm" in JobStore(names.jobs_table).get(only_data)["overrides"]
    with pytest.raises(InputError, match="train_split 'test'"):
        submit_training_job(data_config=DataConfig(train_split="test"), queue_url=names.queue_urls["normal"])


def _worker_args(*argv: str) -> argparse.Namespace:
    from receipt_lightning.commands import start_worker

    parser = argparse.ArgumentParser()
    start_worker.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_start_worker_mount_efs_reads_the_stack_and_finds_the_dlq(stack, monkeypatch, tmp_path):
    from receipt_lightning.commands.start_worker import options_from_args
    from receipt_lightning.jobs import efs

    names, env, root = stack
    mounts = []

    def fake_mount(fs_id: str, target: Path, opts: list[str]) -> None:
        target.mkdir(parents=True, exist_ok=True)
        mounts.append((fs_id, str(target), opts))

    monkeypatch.setattr(efs.shutil, "which", lambda _name: "/sbin/mount.efs")
    monkeypatch.setattr(efs, "_mount", fake_mount)
    _publish("rl", {**env, "RL_EFS_ID": "fs-0123456789abcdef0", "RL_SHARED_ROOT": str(tmp_path / "mnt")})
    opts = options_from_args(_worker_args("--stack", "rl", "--mount-efs"))
    assert mounts == [("fs-0123456789abcdef0", str(tmp_path / "mnt"), [])]
    assert opts.dlq_url == names.dlq_url and opts.jobs_table == names.jobs_table
    # The old README's command: queue, tables and --mount-efs, no DLQ flag and no stack. The file
    # system id comes from RL_EFS_ID, the DLQ from the queue's redrive policy, the mount point is
    # the template's default.
    mounts.clear()
    monkeypatch.setenv("RL_EFS_ID", "fs-0aaaaaaaaaaaaaaaa")
    monkeypatch.setattr("receipt_lightning.commands.start_worker.DEFAULT_MOUNT_ROOT", str(tmp_path / "default"))
    opts = options_from_args(_worker_args("--queue-url", names.queue_urls["normal"], "--dynamo-table",
                                          names.jobs_table, "--instance-registry-table", names.instances_table,
                                          "--mount-efs"))  # fmt: skip
    assert mounts == [("fs-0aaaaaaaaaaaaaaaa", str(tmp_path / "default"), [])]
    assert opts.dlq_url == names.dlq_url and opts.instances_table == names.instances_table
    monkeypatch.delenv("RL_EFS_ID")
    with pytest.raises(InputError, match="--stack NAME .*RL_EFS_ID"):
        options_from_args(_worker_args("--queue-url", names.queue_urls["normal"], "--dynamo-table",
                                       names.jobs_table, "--mount-efs"))  # fmt: skip


def test_worker_without_a_dlq_says_so_and_survives_dead_letters(stack, caplog):
    from receipt_lightning.aws.session import client
    from receipt_lightning.jobs.submit import submit_training_job
    from receipt_lightning.jobs.worker import Worker

    names, env, root = stack
    plain = client("sqs").create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    client("sqs").send_message(QueueUrl=plain, MessageBody="{not json", MessageGroupId="g", MessageDeduplicationId="1")
    bad = submit_training_job("layoutlm_tiny", TrainingConfig(), DataConfig(dataset_name="missing"),
                              queue_url=plain, names=names)  # fmt: skip
    good = submit_training_job("layoutlm_tiny", TrainingConfig(trainer="cpu"), DataConfig(), queue_url=plain,
                               names=names)  # fmt: skip
    opts = replace(options(names, idle_timeout_s=2, trainer_cmd=ARGV_TRAINER), dlq_url=None,
                   queue_urls={"high": None, "normal": plain, "low": None})  # fmt: skip
    with caplog.at_level(logging.INFO):
        rc = Worker(opts).run()
    assert rc == 0
    assert "no dead-letter queue" in caplog.text and "deleting message" in caplog.text
    store = JobStore(names.jobs_table)
    assert store.get(bad)["status"] == REJECTED and "not found" in store.get(bad)["error"]
    assert store.get(good)["status"] == COMPLETED and queue_depth(plain) == 0


def test_hyperparameter_sweep_with_default_parameters(stack):
    names, env, root = stack
    _publish("dev", env)
    worker = worker_process(env, root / "worker.log", "--idle-timeout", "10", trainer=SWEEP_TRAINER)
    try:
        penv = {k: v for k, v in os.environ.items() if not k.startswith("RL_")}  # --stack dev alone
        proc = subprocess.run([sys.executable, "-m", "receipt_lightning.scripts.hyperparameter_sweep", "--stack",
                               "dev", "--monitor", "--interval", "0.5", "--timeout", "90"],
                              env=penv, cwd=root, capture_output=True, text=True, timeout=150)  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "6 trials: 0 queued, 0 running, 6 completed" in proc.stdout and "[all ended]" in proc.stdout
    finally:
        worker.kill()
        worker.wait(timeout=10)
    jobs = JobStore(names.jobs_table).scan()
    assert all("model=layoutlm_minilm" in j["overrides"] and "trainer=auto" in j["overrides"] for j in jobs)
    grid = {tuple(sorted(o for o in j["overrides"] if o.startswith(("model.", "data.batch", "trainer.max")))) for j in jobs}
    assert len(grid) == 6 and all("trainer.max_epochs=12" in g for g in grid)


def test_version_and_the_receipt_trainer_alias(capsys):
    from receipt_lightning.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("receipt-lightning 0.")
    pyproject = (REPO / "pyproject.toml").read_text()
    for script in ("receipt-lightning", "receipt-trainer"):  # the wheel test runs both installed
        assert f'\n{script} = "receipt_lightning.cli:main"\n' in pyproject
