"""A local stand-in for the CloudFormation stack: moto's server on 127.0.0.1 with
``launch/template.yaml`` itself deployed into moto's CloudFormation (so the laptop stack and AWS
cannot drift), a shared root directory, and the environment that points every command at them
(``receipt-lightning dev-stack``).

moto deploys every resource type the template uses (SQS queues, DynamoDB tables, the EFS file
system with its access points and mount targets, security groups, the IAM role and instance
profile, the launch template and the Auto Scaling group; moto 5.2). What it gets wrong, and the
only stubs here:

- an ``AWS::SSM::Parameter::Value<...>`` parameter resolves its *Default* even when a value is
  passed, and moto refuses to create parameters under ``/aws/``: the AMI parameter's default name
  is swapped for a local parameter holding one of moto's AMI ids;
- a ``CommaDelimitedList`` *default* is not split: ``InstanceTypes`` is passed;
- ``Ref`` of an ``AWS::EFS::AccessPoint`` renders as a Python repr, and a laptop cannot mount the
  file system anyway: the EFS outputs are not exported (``--stack dev`` still shows them).

moto keeps everything in memory: stopping the server forgets queues, tables and jobs; the
shared root (datasets, checkpoints) stays on disk. ``create_queues``/``create_tables`` build the
same queues and tables by hand, in milliseconds, for tests.
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
from receipt_lightning.errors import FatalError, InputError

TEMPLATE_FILE = "template.yaml"  # launch/template.yaml; packaged as receipt_lightning.launch
# The ImageId parameter's default (AWS's public SSM name) and the local parameter moto gets instead.
AWS_AMI_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
)
DEV_AMI_PARAMETER = "/receipt-lightning-dev/ami-id"
# Outputs a laptop does not export: it cannot mount moto's EFS, and moto renders access point ids
# as Python reprs.
NOT_EXPORTED = frozenset({"RL_EFS_ID", "RL_EFS_AP_DATASETS", "RL_EFS_AP_RUNS"})
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
    """A moto stack whose outputs name resources made by ``create_queues``/``create_tables`` (tests:
    ``--stack NAME`` without deploying the whole template). Its only resource is a
    WaitConditionHandle, which moto (and CloudFormation) treat as a no-op."""
    # moto warns that it does not model this resource (harmless: there is nothing to model).
    warnings.filterwarnings(
        "ignore", message=".*AWS::CloudFormation::WaitConditionHandle", category=UserWarning
    )
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": env[var]} for var, key in resources.ENV_TO_OUTPUT.items() if var in env},
    }
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template))


def template_path() -> Path:
    """``launch/template.yaml`` of this source tree, else the copy installed with the package."""
    import importlib.util

    candidates = [Path(__file__).resolve().parents[2] / "launch" / TEMPLATE_FILE]
    spec = importlib.util.find_spec("receipt_lightning.launch")
    candidates += [Path(p) / TEMPLATE_FILE for p in (spec.submodule_search_locations or [])] if spec else []
    for path in candidates:
        if path.is_file():
            return path
    raise FatalError(f"CloudFormation template not found (looked at {', '.join(map(str, candidates))})")


def deploy_template(endpoint: str, stack_name: str, root: Path) -> dict[str, str]:
    """Deploy ``launch/template.yaml`` as ``stack_name`` into moto's CloudFormation at ``endpoint``
    (in the default VPC, no instances, the shared root as mount point); returns {env var: output}
    for the outputs a laptop uses."""
    body = template_path().read_text()
    if AWS_AMI_PARAMETER not in body:
        raise FatalError(f"{template_path()}: ImageId's default is no longer {AWS_AMI_PARAMETER}; update dev_stack.py")
    ec2 = _client("ec2", endpoint)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    )
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    _client("ssm", endpoint).put_parameter(Name=DEV_AMI_PARAMETER, Value=ami, Type="String", Overwrite=True)
    params = {
        "VpcId": vpc,
        "SubnetA": subnets[0],
        "SubnetB": subnets[1] if len(subnets) > 1 else "",
        "InstanceTypes": "g4dn.xlarge,g5.xlarge,g6.xlarge",  # the template's default, passed (see above)
        "DesiredCapacity": "0",  # no (pretend) instances: workers run on this machine
        "MountPoint": str(root),
        # Required by the template, read only by an instance's user data: no instance boots in
        # the dev stack, so these name nothing that is ever fetched (.invalid never resolves).
        "WorkerWheelUrl": "https://dev-stack.invalid/receipt_lightning-0.0.0-py3-none-any.whl",
        "WorkerWheelSha256": "0" * 64,
    }
    cfn = _client("cloudformation", endpoint)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=body.replace(AWS_AMI_PARAMETER, DEV_AMI_PARAMETER),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    cfn.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    outputs = resources.stack_outputs(stack_name, cfn)
    return {
        var: outputs[key]
        for var, key in resources.ENV_TO_OUTPUT.items()
        if key in outputs and var not in NOT_EXPORTED
    }


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
    """Start moto on 127.0.0.1:``port``, create the root and deploy ``launch/template.yaml`` as
    ``stack_name``. Returns (the running ThreadedMotoServer, the environment to export). The
    caller stops the server (``server.stop()``)."""
    from moto.server import ThreadedMotoServer

    check_port_free(port)
    root_path = create_root(root)
    (root_path / ENV_FILE).unlink(missing_ok=True)  # a stale file would announce a dead stack
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        env = base_env(endpoint)
        env.update(deploy_template(endpoint, stack_name, root_path))
        env["RL_SHARED_ROOT"] = str(root_path)  # = the SharedRoot output (MountPoint)
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
