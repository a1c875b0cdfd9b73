"""Names of the stack's queues and tables, and the DynamoDB table schemas.

Every CLI command and the ``aws`` config group default to these environment variables, which
``receipt-lightning dev-stack`` prints and the CloudFormation stack outputs provide
(``--stack NAME`` reads the outputs of the same names, see ``stack_outputs``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# environment variable -> CloudFormation output key
ENV_TO_OUTPUT: dict[str, str] = {
    "RL_QUEUE_URL_HIGH": "QueueUrlHigh",
    "RL_QUEUE_URL": "QueueUrl",  # normal priority
    "RL_QUEUE_URL_LOW": "QueueUrlLow",
    "RL_DLQ_URL": "DeadLetterQueueUrl",
    "RL_JOBS_TABLE": "JobsTable",
    "RL_INSTANCES_TABLE": "InstancesTable",
    "RL_METRICS_TABLE": "MetricsTable",
    "RL_SWEEPS_TABLE": "SweepsTable",
    "RL_EFS_ID": "FileSystemId",
    "RL_SHARED_ROOT": "SharedRoot",
    "RL_EFS_AP_DATASETS": "DatasetsAccessPointId",
    "RL_EFS_AP_RUNS": "RunsAccessPointId",
}

PRIORITIES: tuple[str, ...] = ("high", "normal", "low")
PRIORITY_ENV: dict[str, str] = {
    "high": "RL_QUEUE_URL_HIGH",
    "normal": "RL_QUEUE_URL",
    "low": "RL_QUEUE_URL_LOW",
}

# Table key schemas: (partition key, sort key or None). All keys are strings.
#   jobs:      job_id                      one item per job (status, config, lease, attempts)
#   instances: instance_id                 one item per worker (heartbeat, current job)
#   metrics:   run_id, sk                  sk = "m#<name>#<step:010d>" metric points,
#                                          "e#<ms since epoch:013d>#<seq:06d>" log events,
#                                          "hparams", "run" (status record)
#   sweeps:    sweep_id                    one item per sweep (parameter space, job ids)
TABLE_KEYS: dict[str, tuple[str, str | None]] = {
    "jobs": ("job_id", None),
    "instances": ("instance_id", None),
    "metrics": ("run_id", "sk"),
    "sweeps": ("sweep_id", None),
}

# Global secondary indexes: table kind -> {index name: (partition key, its type, sort key, its type)}.
#   jobs/status-submitted: every job by status, newest first (`receipt-lightning jobs` queries it
#   instead of scanning the table; jobs/listing.py). Projects all attributes.
TABLE_INDEXES: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "jobs": {"status-submitted": ("status", "S", "submitted_at", "N")},
}
JOBS_STATUS_INDEX = "status-submitted"


@dataclass(frozen=True)
class StackNames:
    """Resolved resource names; a missing one is ``None`` and the command asking says so."""

    queue_urls: dict[str, str | None]  # priority -> URL
    dlq_url: str | None
    jobs_table: str | None
    instances_table: str | None
    metrics_table: str | None
    sweeps_table: str | None
    shared_root: str | None
    efs_id: str | None = None  # EFS file system id (FileSystemId output, RL_EFS_ID); `start-worker --mount-efs`
    datasets_access_point: str | None = None  # EFS access point of datasets/ (read-only mount)
    runs_access_point: str | None = None  # EFS access point of runs/


def stack_outputs(stack_name: str, cfn=None) -> dict[str, str]:
    """CloudFormation outputs of ``stack_name`` as {OutputKey: OutputValue} (through ``cfn``, a
    boto3 CloudFormation client, when given)."""
    from receipt_lightning.aws.session import client

    resp = (cfn or client("cloudformation")).describe_stacks(StackName=stack_name)
    outputs = resp["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def resolve_names(stack: str | None = None, env: dict[str, str] | None = None) -> StackNames:
    """Names from the stack's outputs when ``stack`` is given, else from the environment."""
    env = dict(os.environ if env is None else env)
    if stack:
        outputs = stack_outputs(stack)
        for var, key in ENV_TO_OUTPUT.items():
            if key in outputs:
                env[var] = outputs[key]
    return StackNames(
        queue_urls={p: env.get(v) or None for p, v in PRIORITY_ENV.items()},
        dlq_url=env.get("RL_DLQ_URL") or None,
        jobs_table=env.get("RL_JOBS_TABLE") or None,
        instances_table=env.get("RL_INSTANCES_TABLE") or None,
        metrics_table=env.get("RL_METRICS_TABLE") or None,
        sweeps_table=env.get("RL_SWEEPS_TABLE") or None,
        shared_root=env.get("RL_SHARED_ROOT") or None,
        efs_id=env.get("RL_EFS_ID") or None,
        datasets_access_point=env.get("RL_EFS_AP_DATASETS") or None,
        runs_access_point=env.get("RL_EFS_AP_RUNS") or None,
    )


def create_table(ddb_client, kind: str, name: str) -> None:
    """Create one of the project's tables (on-demand), as the template does; for the dev stack
    and tests. Idempotent."""
    pk, sk = TABLE_KEYS[kind]
    attrs = [{"AttributeName": pk, "AttributeType": "S"}]
    schema = [{"AttributeName": pk, "KeyType": "HASH"}]
    if sk:
        attrs.append({"AttributeName": sk, "AttributeType": "S"})
        schema.append({"AttributeName": sk, "KeyType": "RANGE"})
    extra = {}
    indexes = TABLE_INDEXES.get(kind, {})
    for index, (ipk, ipk_type, isk, isk_type) in indexes.items():
        for attr, kind_of in ((ipk, ipk_type), (isk, isk_type)):
            if all(a["AttributeName"] != attr for a in attrs):
                attrs.append({"AttributeName": attr, "AttributeType": kind_of})
        extra.setdefault("GlobalSecondaryIndexes", []).append(
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": ipk, "KeyType": "HASH"}, {"AttributeName": isk, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    try:
        ddb_client.create_table(
            TableName=name, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST", **extra
        )
    except ddb_client.exceptions.ResourceInUseException:
        return
    ddb_client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
