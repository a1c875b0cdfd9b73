"""launch/template.yaml: cfn-lint, the user data it embeds, and a deployment into moto's
CloudFormation (through moto's HTTP server) that the CLI's ``--stack NAME`` can read.

What moto 5.2 does with this template (all resource types are accepted, CREATE_COMPLETE):
- it resolves an ``AWS::SSM::Parameter::Value<...>`` parameter's *Default* even when a value is
  passed, and refuses to create parameters under ``/aws/``: the test swaps the default AMI
  parameter name for one it creates;
- it does not split a ``CommaDelimitedList`` *default* (only passed values): the test passes
  ``InstanceTypes``;
- ``Fn::GetAtt`` on EFS resources is unsupported (the template builds EFS ARNs with Fn::Sub),
  and ``Ref`` of an ``AWS::EFS::AccessPoint`` renders as a Python repr instead of the
  ``fsap-...`` id: access point ids in the user data and the role policy are not checked here;
- ``PointInTimeRecoverySpecification`` and the EFS ``FileSystemPolicy`` are accepted but
  ignored (PITR reads DISABLED, DescribeFileSystemPolicy says PolicyNotFound): checked on the
  template text instead;
- ``AWS::CloudWatch::Alarm``, ``AWS::AutoScaling::ScalingPolicy`` and ``LifecycleHook`` are not
  modelled (a warning, the stack still completes): the scaling block is checked on the template
  (``test_workers_scale_with_the_backlog_to_zero_and_drain_on_scale_in``) and by cfn-lint.
"""

from __future__ import annotations

import ast
import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from receipt_lightning.aws import resources

LAUNCH = Path(__file__).resolve().parents[2] / "launch"
TEMPLATE = LAUNCH / "template.yaml"
USER_DATA = LAUNCH / "ec2_user_data.sh"
DEFAULT_AMI_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
)
TEST_AMI_PARAMETER = "/receipt-lightning-test/ami-id"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as {"!Tag": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


def _embedded_user_data() -> str:
    """The literal block under ``Fn::Base64: !Sub |`` in the template, de-indented."""
    lines = TEMPLATE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Fn::Base64: !Sub |") + 1
    indent = len(lines[start]) - len(lines[start].lstrip())
    body = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line[indent:])
    while body and not body[-1]:
        body.pop()
    return "\n".join(body) + "\n"


def test_cfn_lint_passes():
    exe = shutil.which("cfn-lint") or str(Path(sys.executable).with_name("cfn-lint"))
    if not Path(exe).exists():
        pytest.skip("cfn-lint is not installed (pip install 'receipt-lightning[test]')")
    proc = subprocess.run([exe, str(TEMPLATE)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"cfn-lint failed:\n{proc.stdout}\n{proc.stderr}"


def test_template_embeds_the_user_data_script_verbatim():
    assert _embedded_user_data() == USER_DATA.read_text(), (
        "launch/template.yaml's UserData differs from launch/ec2_user_data.sh: paste the script "
        "into the `Fn::Base64: !Sub |` block, indented by 12 spaces"
    )
    proc = subprocess.run(["bash", "-n", str(USER_DATA)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_user_data_mounts_with_tls_and_runs_a_restarting_service():
    script = USER_DATA.read_text()
    assert "amazon-efs-utils" in script
    assert script.count("tls,iam") == 2 and "accesspoint=${DatasetsAccessPoint}" in script
    assert "accesspoint=${RunsAccessPoint}" in script
    assert "Restart=on-failure" in script
    assert "receipt-lightning start-worker --queue-url ${QueueNormal}" in script
    for var in resources.ENV_TO_OUTPUT:
        assert f"Environment={var}=" in script, var


def test_template_outputs_and_key_schemas_match_the_contract(template):
    assert set(resources.ENV_TO_OUTPUT.values()) <= set(template["Outputs"])
    tables = {
        "jobs": "JobsTable",
        "instances": "InstancesTable",
        "metrics": "MetricsTable",
        "sweeps": "SweepsTable",
    }
    for kind, logical in tables.items():
        props = template["Resources"][logical]["Properties"]
        schema = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
        assert (schema["HASH"], schema.get("RANGE")) == resources.TABLE_KEYS[kind]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    fs = template["Resources"]["FileSystem"]["Properties"]
    assert fs["Encrypted"] is True and fs["ThroughputMode"] == "elastic"
    deny = fs["FileSystemPolicy"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ingress = template["Resources"]["FileSystemSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [(r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress] == [
        (2049, 2049, {"!Ref": "WorkerSecurityGroup"})
    ]


def _deploy(stack: str, subnets: int = 2) -> dict:
    from receipt_lightning.aws.session import client

    ec2 = client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet_ids = [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    ]
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    client("ssm").put_parameter(Name=TEST_AMI_PARAMETER, Value=ami, Type="String", Overwrite=True)
    body = TEMPLATE.read_text().replace(DEFAULT_AMI_PARAMETER, TEST_AMI_PARAMETER)
    params = {
        "VpcId": vpc,
        "SubnetA": subnet_ids[0],
        "SubnetB": subnet_ids[1] if subnets > 1 else "",
        "InstanceTypes": "g5.xlarge,g6.xlarge",
        "DesiredCapacity": "2",
        "WorkerWheelUrl": "https://example.invalid/dist/receipt_lightning-0.1.0-py3-none-any.whl",
        "WorkerWheelSha256": "0" * 64,
    }
    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=body,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    cfn.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return {"vpc": vpc, "subnets": subnet_ids, "ami": ami}


def test_moto_deploys_the_stack_and_the_cli_finds_every_name(aws):
    from receipt_lightning.aws.session import client

    net = _deploy("rl-test")
    stack = client("cloudformation").describe_stacks(StackName="rl-test")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    names = resources.resolve_names(stack="rl-test", env={})
    assert all(names.queue_urls.values()) and names.dlq_url
    assert (names.jobs_table, names.instances_table, names.metrics_table, names.sweeps_table) == (
        "rl-test-jobs",
        "rl-test-instances",
        "rl-test-metrics",
        "rl-test-sweeps",
    )
    assert names.shared_root == "/mnt/receipt-lightning"

    # The output URLs are usable as they are: FIFO, redrive to the FIFO DLQ after 5 receives.
    sqs = client("sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=names.dlq_url, AttributeNames=["All"])["Attributes"]
    assert dlq_arn["FifoQueue"] == "true"
    for url in names.queue_urls.values():
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["FifoQueue"] == "true"
        assert (attrs["DeduplicationScope"], attrs["FifoThroughputLimit"]) == (
            "messageGroup",
            "perMessageGroupId",
        )
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive == {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 5}

    ddb = client("dynamodb")
    for kind, table in [("jobs", names.jobs_table), ("metrics", names.metrics_table)]:
        desc = ddb.describe_table(TableName=table)["Table"]
        schema = {k["KeyType"]: k["AttributeName"] for k in desc["KeySchema"]}
        assert (schema["HASH"], schema.get("RANGE")) == resources.TABLE_KEYS[kind]
        assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    efs = client("efs")
    fs_id = stack_output(stack, "FileSystemId")
    fs = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    assert fs["Encrypted"] is True and fs["ThroughputMode"] == "elastic"
    paths = sorted(ap["RootDirectory"]["Path"] for ap in efs.describe_access_points()["AccessPoints"])
    assert paths == ["/datasets", "/runs"]
    targets = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    assert sorted(t["SubnetId"] for t in targets) == sorted(net["subnets"][:2])

    group = client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"][0]
    policy = group["MixedInstancesPolicy"]
    assert policy["InstancesDistribution"]["SpotAllocationStrategy"] == "capacity-optimized"
    assert policy["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 0
    assert [o["InstanceType"] for o in policy["LaunchTemplate"]["Overrides"]] == ["g5.xlarge", "g6.xlarge"]
    assert group["DesiredCapacity"] == 2

    template_id = policy["LaunchTemplate"]["LaunchTemplateSpecification"]["LaunchTemplateId"]
    data = client("ec2").describe_launch_template_versions(LaunchTemplateId=template_id)[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    assert data["ImageId"] == net["ami"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    user_data = base64.b64decode(data["UserData"]).decode()
    assert f"{fs_id}: $root/runs efs _netdev,noresvport,tls,iam,accesspoint=" in user_data
    assert f"Environment=RL_QUEUE_URL_HIGH={names.queue_urls['high']}" in user_data
    assert f"--dynamo-table {names.jobs_table} --instance-registry-table {names.instances_table}" in user_data


def test_worker_role_is_limited_to_the_stack(aws):
    from receipt_lightning.aws.session import client

    _deploy("rl-iam", subnets=1)
    iam = client("iam")
    role = next(r for r in iam.list_roles()["Roles"] if "WorkerRole" in r["RoleName"])
    policies = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    assert sorted(policies) == ["receipt-lightning-worker", "receipt-lightning-worker-scaling"]
    doc = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="receipt-lightning-worker")["PolicyDocument"]
    if isinstance(doc, str):  # moto 5.2 returns the document as a Python-literal string
        doc = ast.literal_eval(doc)
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert all("*" not in r for r in by_sid["JobQueues"]["Resource"])
    assert by_sid["JobsReadAndUpdate"]["Resource"].endswith(":table/rl-iam-jobs")
    assert by_sid["MetricsWrite"]["Resource"].endswith(":table/rl-iam-metrics")
    assert by_sid["ReadOwnStack"]["Action"] == "cloudformation:DescribeStacks"
    assert ":stack/rl-iam/" in by_sid["ReadOwnStack"]["Resource"]
    assert by_sid["WriteRunsOnly"]["Action"] == "elasticfilesystem:ClientWrite"
    actions = {
        a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not any(a.endswith("*") for a in actions)


def stack_output(stack: dict, key: str) -> str:
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == key)


def _desired(policy: dict, jobs: float, max_size: int, threshold: float) -> int | None:
    """What a step scaling policy with ExactCapacity sets for a metric value of ``jobs``
    (bounds relative to the alarm threshold, lower inclusive, upper exclusive), capped at MaxSize."""
    for step in policy["StepAdjustments"]:
        lo = step.get("MetricIntervalLowerBound", float("-inf"))
        hi = step.get("MetricIntervalUpperBound", float("inf"))
        if lo <= jobs - threshold < hi or (hi == 0 and jobs - threshold == 0 and lo == float("-inf")):
            adj = step["ScalingAdjustment"]
            return min(max_size, max_size if adj == {"!Ref": "MaxCapacity"} else adj)
    return None


def test_workers_scale_with_the_backlog_to_zero_and_drain_on_scale_in(template):
    from receipt_lightning.jobs.scale_in import LIFECYCLE_HOOK_NAME

    res = template["Resources"]
    for name in ("WorkerBacklogAlarm", "WorkerIdleAlarm"):
        alarm = res[name]["Properties"]
        by_id = {m["Id"]: m for m in alarm["Metrics"]}
        (out,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
        assert out["Expression"] == "SUM(FILL(METRICS(), 0))"
        # visible (queued) + not visible (in flight: running) on every priority's queue
        seen = sorted(
            (m["MetricStat"]["Metric"]["MetricName"], m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["!GetAtt"])
            for m in by_id.values() if "MetricStat" in m
        )  # fmt: skip
        assert seen == sorted(
            (metric, f"{queue}.QueueName")
            for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible")
            for queue in ("QueueHigh", "QueueNormal", "QueueLow")
        )
        assert all(m["MetricStat"]["Period"] == 60 for m in by_id.values() if "MetricStat" in m)
    up = res["WorkerBacklogAlarm"]["Properties"]
    assert (up["ComparisonOperator"], up["Threshold"], up["EvaluationPeriods"]) == ("GreaterThanOrEqualToThreshold", 1, 1)
    assert up["TreatMissingData"] == "notBreaching" and up["AlarmActions"] == [{"!Ref": "WorkerScaleToBacklog"}]
    backlog = res["WorkerScaleToBacklog"]["Properties"]
    assert (backlog["PolicyType"], backlog["AdjustmentType"]) == ("StepScaling", "ExactCapacity")
    # One worker per job queued or running, up to the group's maximum.
    for max_size in (3, 8, 40):
        assert [_desired(backlog, j, max_size, 1) for j in range(1, 16)] == [min(j, max_size) for j in range(1, 16)]
        assert _desired(backlog, 500, max_size, 1) == max_size
    idle = res["WorkerIdleAlarm"]["Properties"]
    assert (idle["ComparisonOperator"], idle["Threshold"]) == ("LessThanThreshold", 1)
    assert idle["EvaluationPeriods"] == idle["DatapointsToAlarm"] == {"!Ref": "IdleMinutes"}
    assert idle["TreatMissingData"] == "breaching" and idle["AlarmActions"] == [{"!Ref": "WorkerScaleToZero"}]
    assert template["Parameters"]["IdleMinutes"]["Default"] == 15
    zero = res["WorkerScaleToZero"]["Properties"]
    assert zero["AdjustmentType"] == "ExactCapacity" and _desired(zero, 0, 8, 1) == 0
    hook = res["WorkerDrainHook"]["Properties"]
    assert hook["LifecycleHookName"] == LIFECYCLE_HOOK_NAME
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["DefaultResult"] == "CONTINUE" and hook["HeartbeatTimeout"] > 100  # > the worker's stop grace
    perms = {st["Sid"]: st for st in res["WorkerScalingPermissions"]["Properties"]["PolicyDocument"]["Statement"]}
    assert "autoScalingGroupName/${WorkerGroup}" in perms["ProtectAndDrainInOwnGroup"]["Resource"]["!Sub"]


# ---------------------------------------------------------------- supply chain and privilege


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_worker_policy_grants_each_resource_only_what_the_worker_does(template):
    """The worker's rights, per resource: no Scan, no PutItem or DeleteItem on jobs or metrics,
    nothing on the sweeps table, only SendMessage on the dead-letter queue, no wildcards."""
    (policy,) = template["Resources"]["WorkerRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    by_resource: dict[str, set[str]] = {}
    for s in statements:
        assert s["Effect"] == "Allow"
        resources_ = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        for r in resources_:
            by_resource.setdefault(json.dumps(r, sort_keys=True), set()).update(_actions(s))

    def rights(logical: str) -> set[str]:
        return by_resource.get(json.dumps({"!GetAtt": f"{logical}.Arn"}, sort_keys=True), set())

    assert rights("JobsTable") == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert rights("InstancesTable") == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert rights("MetricsTable") == {"dynamodb:BatchWriteItem", "dynamodb:GetItem"}
    assert rights("SweepsTable") == set()
    assert rights("DeadLetterQueue") == {"sqs:SendMessage"}
    for queue in ("QueueHigh", "QueueNormal", "QueueLow"):
        assert rights(queue) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                 "sqs:SendMessage", "sqs:GetQueueAttributes"}  # fmt: skip
    every = set().union(*by_resource.values())
    assert not any(a.endswith("*") or a.endswith(":Scan") for a in every)
    assert not any("/index/" in r for r in by_resource)  # no table has an index to query


def test_worker_package_is_a_hashed_wheel_with_no_public_default(template):
    params = template["Parameters"]
    assert "WorkerPackage" not in params
    url, sha = params["WorkerWheelUrl"], params["WorkerWheelSha256"]
    assert "Default" not in url and "Default" not in sha  # no value resolves to a public name
    import re

    url_re, sha_re = re.compile(url["AllowedPattern"]), re.compile(sha["AllowedPattern"])
    assert url_re.match("https://bucket.s3.amazonaws.com/dist/receipt_lightning-0.1.0-py3-none-any.whl")
    for bad in ("receipt-lightning", "http://x/y.whl", "git+https://x/y", "https://x/y.tar.gz", "https://x/a b.whl"):
        assert not url_re.match(bad), bad
    assert sha_re.match("a" * 64) and not sha_re.match("A" * 64) and not sha_re.match("a" * 63)
    assert re.fullmatch(params["PipVersion"]["AllowedPattern"], params["PipVersion"]["Default"])
    script = USER_DATA.read_text()
    assert 'sha256sum --check --strict' in script and "--proto =https" in script
    assert '"pip==${PipVersion}"' in script and "--upgrade pip" not in script
    installs = [line for line in script.splitlines() if "pip install" in line]
    assert installs == ['$venv/bin/pip install --no-cache-dir "pip==${PipVersion}"',
                        '$venv/bin/pip install --no-cache-dir "$wheel"']  # fmt: skip


def test_worker_runs_as_an_unprivileged_user():
    script = USER_DATA.read_text()
    unit = script[script.index("[Service]") : script.index("[Install]")]
    assert "User=rlworker" in unit and "Group=rlworker" in unit and "NoNewPrivileges=true" in unit
    assert "useradd --system" in script and "--shell /sbin/nologin" in script


def test_worker_egress_is_https_and_nfs_only(template):
    res = template["Resources"]
    egress = res["WorkerSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in egress] == [("tcp", 443, 443)]
    extra = [r["Properties"] for r in res.values() if r["Type"] == "AWS::EC2::SecurityGroupEgress"]
    assert [(e["FromPort"], e["DestinationSecurityGroupId"]) for e in extra] == [
        (2049, {"!Ref": "FileSystemSecurityGroup"})
    ]
