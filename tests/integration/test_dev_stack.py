"""`receipt-lightning dev-stack`: moto on 127.0.0.1 with the stack's queues, tables and root,
and the environment that points every command at them."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from receipt_lightning.aws import resources
from receipt_lightning.aws.dev_stack import ENV_FILE, MAX_RECEIVE_COUNT, start_dev_stack
from receipt_lightning.commands import dev_stack as command
from receipt_lightning.errors import InputError
from tests.conftest import REPO_ROOT, free_port

EXPECTED_AWS = {
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_EC2_METADATA_DISABLED",
}
# Everything the stack outputs except the EFS id: the dev stack has no file system.
# A laptop has no EFS: no file system id, no access points.
EXPECTED_RL = set(resources.ENV_TO_OUTPUT) - {"RL_EFS_ID", "RL_EFS_AP_DATASETS", "RL_EFS_AP_RUNS"}


def _boto(env: dict[str, str], service: str):
    import boto3

    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def _check_stack(env: dict[str, str]) -> None:
    """What boto3 sees through the printed environment: FIFO queues redriving to a FIFO DLQ,
    tables with the contract's key schemas, and the root's layout."""
    sqs = _boto(env, "sqs")
    dlq = sqs.get_queue_attributes(QueueUrl=env["RL_DLQ_URL"], AttributeNames=["All"])["Attributes"]
    assert dlq["FifoQueue"] == "true" and "RedrivePolicy" not in dlq
    for var in resources.PRIORITY_ENV.values():
        attrs = sqs.get_queue_attributes(QueueUrl=env[var], AttributeNames=["All"])["Attributes"]
        assert attrs["FifoQueue"] == "true", var
        assert (attrs["DeduplicationScope"], attrs["FifoThroughputLimit"]) == (
            "messageGroup",
            "perMessageGroupId",
        )
        assert json.loads(attrs["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq["QueueArn"],
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        }
    ddb = _boto(env, "dynamodb")
    tables = {
        "jobs": "RL_JOBS_TABLE",
        "instances": "RL_INSTANCES_TABLE",
        "metrics": "RL_METRICS_TABLE",
        "sweeps": "RL_SWEEPS_TABLE",
    }
    for kind, var in tables.items():
        desc = ddb.describe_table(TableName=env[var])["Table"]
        schema = {k["KeyType"]: k["AttributeName"] for k in desc["KeySchema"]}
        assert (schema["HASH"], schema.get("RANGE")) == resources.TABLE_KEYS[kind]
    root = Path(env["RL_SHARED_ROOT"])
    assert root.is_absolute() and (root / "datasets").is_dir() and (root / "runs").is_dir()


def test_start_dev_stack_creates_everything_and_names_it(tmp_path, monkeypatch):
    port = free_port()
    server, env = start_dev_stack(port, tmp_path / "root")
    try:
        assert set(env) == EXPECTED_AWS | EXPECTED_RL
        assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
        assert env["AWS_EC2_METADATA_DISABLED"] == "true"
        _check_stack(env)

        # Every command's defaults: the environment alone, or `--stack dev`, resolve all names.
        from_env = resources.resolve_names(env=env)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        from receipt_lightning.aws.session import reset_session

        reset_session()
        from_stack = resources.resolve_names(stack="dev", env={})
        # The stack is launch/template.yaml itself: it has the EFS outputs a laptop does not export.
        assert from_stack.efs_id and from_env.efs_id is None
        assert from_env == replace(from_stack, efs_id=None, datasets_access_point=None, runs_access_point=None)
        stack = _boto(env, "cloudformation").describe_stacks(StackName="dev")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        types = {r["ResourceType"] for r in _boto(env, "cloudformation").list_stack_resources(StackName="dev")["StackResourceSummaries"]}
        assert {"AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::EFS::FileSystem", "AWS::AutoScaling::AutoScalingGroup"} <= types
        assert all(from_env.queue_urls.values()) and from_env.dlq_url and from_env.sweeps_table
    finally:
        server.stop()
        from receipt_lightning.aws.session import reset_session

        reset_session()


def test_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(InputError, match=rf"--port: 127.0.0.1:{port} is not free"):
            start_dev_stack(port, tmp_path)


def test_command_defaults_agree_with_the_module():
    from receipt_lightning.aws import dev_stack

    assert (command.DEFAULT_PORT, command.DEFAULT_ROOT) == (dev_stack.DEFAULT_PORT, dev_stack.DEFAULT_ROOT)


def _read_exports(proc: subprocess.Popen, count: int) -> dict[str, str]:
    """Parse `export NAME=value` lines from the child's stdout until ``count`` are read (or the
    stream ends: the caller's watchdog kills a silent child)."""
    env: dict[str, str] = {}
    while len(env) < count:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("export "):
            name, _, value = line[len("export ") :].rstrip("\n").partition("=")
            env[name] = shlex.split(value)[0]
    return env


def test_cli_prints_exports_serves_and_stops_cleanly_on_sigint(tmp_path):
    import threading

    argv = [sys.executable, "-m", "receipt_lightning.cli", "dev-stack"]
    port = free_port()
    root = tmp_path / "shared root"  # a space: the exports must be shell-quoted
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RL_"))}
    proc = subprocess.Popen(
        [*argv, "--port", str(port), "--root", str(root)],
        cwd=REPO_ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # readline() blocks: a timer kills a child that never prints, which ends the read (bounded).
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        env = _read_exports(proc, len(EXPECTED_AWS | EXPECTED_RL))
        watchdog.cancel()
        assert set(env) == EXPECTED_AWS | EXPECTED_RL, proc.stderr.read() if proc.poll() is not None else env
        assert env["RL_SHARED_ROOT"] == str(root.resolve())
        _check_stack(env)

        # The env file holds the same lines; sourcing it in a shell gives the same values.
        env_file = root / ENV_FILE
        shown = subprocess.run(
            ["bash", "-c", f'source {shlex.quote(str(env_file))} && printf %s "$RL_SHARED_ROOT"'],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shown.stdout == str(root.resolve())

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert not env_file.exists(), "the env file of a stopped stack must be removed"
        assert "dev stack stopped" in proc.stderr.read()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
