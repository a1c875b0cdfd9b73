"""A local stand-in for the CloudFormation stack: moto's server on 127.0.0.1 with the same
queues and tables, a shared root directory, and the environment that points every command at
them (``receipt-lightning dev-stack``).

moto keeps everything in memory: stopping the server forgets queues, tables and jobs; the
shared root (datasets, checkpoints) stays on disk.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import threading
import warnings
from pathlib import Path
from typing import Any

from receipt_lightning.aws import resources
from receipt_lightning.errors import InputError

DEFAULT_PORT = 5000
DEFAULT_ROOT = "dev-stack-root"
STACK_NAME = "dev"
REGION = "us-east-1"
ENV_FILE = "dev-stack.env"  # written into the root once everything exists (readiness signal)

# Same queue settings as launch/template.yaml (VisibilityTimeoutSeconds, MaxReceiveCount).
VISIBILITY_TIMEOUT_S = 300
MAX_RECEIVE_COUNT = 5
RETENTION_S = 1_209_600  # 14 days, the SQS maximum

# moto accepts any credentials; real-looking names keep boto3 from searching for others (and
# AWS_EC2_METADATA_DISABLED keeps it away from the instance metadata service).
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """moto's ThreadedMotoServer waits forever if its socket cannot bind: fail first instead."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            raise InputError(
                f"{host}:{port} is not free ({err.strerror}); pick another", source="--port"
            ) from err


def base_env(endpoint: str) -> dict[str, str]:
    """The AWS part of the environment: endpoint, region, dummy credentials, no IMDS."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        **DUMMY_CREDENTIALS,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _client(service: str, endpoint: str):
    from receipt_lightning.aws.session import client

    return client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def create_queues(sqs, prefix: str) -> dict[str, str]:
    """The FIFO dead-letter queue and one FIFO queue per priority redriving to it.
    Returns {env var: queue URL}."""
    fifo = {"FifoQueue": "true", "MessageRetentionPeriod": str(RETENTION_S)}
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dlq.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
    env = {"RL_DLQ_URL": dlq_url}
    for priority, var in resources.PRIORITY_ENV.items():
        attrs = {
            **fifo,
            # high-throughput FIFO, as in the template: every job is its own message group
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
            "RedrivePolicy": redrive,
        }
        env[var] = sqs.create_queue(QueueName=f"{prefix}-{priority}.fifo", Attributes=attrs)["QueueUrl"]
    return env


def create_tables(ddb, prefix: str) -> dict[str, str]:
    """The four tables with the template's key schemas. Returns {env var: table name}."""
    env = {}
    for kind in resources.TABLE_KEYS:
        name = f"{prefix}-{kind}"
        resources.create_table(ddb, kind, name)
        env[f"RL_{kind.upper()}_TABLE"] = name
    return env


def create_root(root: str | os.PathLike[str]) -> Path:
    """The shared root with the layout the workers expect (datasets/, runs/); absolute."""
    path = Path(root).expanduser().resolve()
    for sub in ("datasets", "runs"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def publish_outputs(cfn, stack_name: str, env: dict[str, str]) -> None:
    """A moto stack whose outputs name the resources, so ``--stack dev`` works locally too.
    Its only resource is a WaitConditionHandle, which moto (and CloudFormation) treat as a no-op."""
    # moto warns that it does not model this resource (harmless: there is nothing to model).
    warnings.filterwarnings(
        "ignore", message=".*AWS::CloudFormation::WaitConditionHandle", category=UserWarning
    )
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": env[var]} for var, key in resources.ENV_TO_OUTPUT.items() if var in env},
    }
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template))


def export_lines(env: dict[str, str]) -> list[str]:
    """``export NAME=value`` lines, shell-quoted, in a stable order."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def write_env_file(root: Path, env: dict[str, str]) -> Path:
    """Write the export lines atomically: the file appears only when the stack is ready."""
    path = root / ENV_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(export_lines(env)) + "\n")
    tmp.replace(path)
    return path


def start_dev_stack(
    port: int = DEFAULT_PORT, root: str | os.PathLike[str] = DEFAULT_ROOT, stack_name: str = STACK_NAME
) -> tuple[Any, dict[str, str]]:
    """Start moto on 127.0.0.1:``port``, create the queues, tables, root and a ``stack_name``
    stack with the outputs. Returns (the running ThreadedMotoServer, the environment to export).
    The caller stops the server (``server.stop()``)."""
    from moto.server import ThreadedMotoServer

    check_port_free(port)
    root_path = create_root(root)
    (root_path / ENV_FILE).unlink(missing_ok=True)  # a stale file would announce a dead stack
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        env = base_env(endpoint)
        env.update(create_queues(_client("sqs", endpoint), stack_name))
        env.update(create_tables(_client("dynamodb", endpoint), stack_name))
        env["RL_SHARED_ROOT"] = str(root_path)
        publish_outputs(_client("cloudformation", endpoint), stack_name, env)
    except BaseException:
        server.stop()
        raise
    return server, env


def serve_until_stopped(server: Any, root: Path, stop: threading.Event) -> None:
    """Block until ``stop`` is set (by the SIGINT/SIGTERM handlers), then stop the server and
    remove the env file so no one sources the environment of a stopped stack."""
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        server.stop()
        (root / ENV_FILE).unlink(missing_ok=True)
