#!/bin/bash
# receipt-lightning worker bootstrap: mount EFS (TLS + IAM), install the package, start the worker.
#
# This file is the body of the launch template's UserData in launch/template.yaml, which
# renders it with Fn::Sub: every dollar-brace name below is a stack value (parameter, resource
# or AWS::Region) filled in by CloudFormation. Shell variables are written $name, without braces,
# so that Fn::Sub leaves them alone. tests/integration/test_cloudformation.py checks that the
# template embeds exactly this text. No decisions here: the worker (tested Python) decides.
set -euo pipefail
exec >>/var/log/receipt-lightning-user-data.log 2>&1

root=${MountPoint}
venv=/opt/receipt-lightning

# Amazon Linux 2023 (and the AL2023 Deep Learning AMIs): efs-utils gives `mount -t efs` with
# TLS via stunnel/efs-proxy; the package needs Python >= 3.10, AL2023's default is 3.9.
dnf install -y amazon-efs-utils python3.11 python3.11-pip

# Datasets read-only (the role may not write there), checkpoints and logs read-write.
# `iam` makes the mount helper present the instance role, so the file system policy applies.
mkdir -p $root/datasets $root/runs
grep -q " $root/datasets " /etc/fstab || cat >>/etc/fstab <<EOF
${FileSystem}: $root/datasets efs _netdev,noresvport,tls,iam,ro,accesspoint=${DatasetsAccessPoint} 0 0
${FileSystem}: $root/runs efs _netdev,noresvport,tls,iam,accesspoint=${RunsAccessPoint} 0 0
EOF
# A new mount target's DNS name can take ~90 s to resolve, and the group waits only for the
# first subnet's target: retry for up to 5 minutes, then fail the boot visibly.
for _ in $(seq 30); do
  mount -a -t efs && mountpoint -q $root/datasets && mountpoint -q $root/runs && break
  sleep 10
done
mountpoint -q $root/datasets && mountpoint -q $root/runs

# The worker runs as this unprivileged system user (systemd User= below), never as root; the
# code it runs (the venv) stays root-owned, so a compromised job cannot rewrite its worker.
id rlworker >/dev/null 2>&1 || useradd --system --home-dir /var/lib/receipt-lightning --create-home --shell /sbin/nologin rlworker

# Supply chain: the package is one wheel at an HTTPS URL, checked against its sha256 before pip
# sees it (no default: a bare name would resolve on the public index). pip itself is pinned.
python3.11 -m venv $venv
$venv/bin/pip install --no-cache-dir "pip==${PipVersion}"
wheel_dir=$(mktemp -d)
wheel=$wheel_dir/$(basename "${WorkerWheelUrl}")
curl --fail --silent --show-error --location --proto =https --tlsv1.2 -o "$wheel" "${WorkerWheelUrl}"
echo "${WorkerWheelSha256}  $wheel" | sha256sum --check --strict -
$venv/bin/pip install --no-cache-dir "$wheel"
rm -rf "$wheel_dir"

# The worker reads the RL_* variables as defaults; the flags repeat the required ones.
# TimeoutStopSec: a Spot notice gives 120 s; the worker checkpoints and exits well inside it.
cat >/etc/systemd/system/receipt-lightning-worker.service <<EOF
[Unit]
Description=receipt-lightning training worker
Wants=network-online.target
After=network-online.target remote-fs.target
RequiresMountsFor=$root/datasets $root/runs

[Service]
User=rlworker
Group=rlworker
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=full
ProtectHome=true
Environment=HOME=/var/lib/receipt-lightning
Environment=AWS_DEFAULT_REGION=${AWS::Region}
Environment=RL_QUEUE_URL_HIGH=${QueueHigh}
Environment=RL_QUEUE_URL=${QueueNormal}
Environment=RL_QUEUE_URL_LOW=${QueueLow}
Environment=RL_DLQ_URL=${DeadLetterQueue}
Environment=RL_JOBS_TABLE=${JobsTable}
Environment=RL_INSTANCES_TABLE=${InstancesTable}
Environment=RL_METRICS_TABLE=${MetricsTable}
Environment=RL_SWEEPS_TABLE=${SweepsTable}
Environment=RL_EFS_ID=${FileSystem}
Environment=RL_EFS_AP_DATASETS=${DatasetsAccessPoint}
Environment=RL_EFS_AP_RUNS=${RunsAccessPoint}
Environment=RL_SHARED_ROOT=$root
ExecStart=$venv/bin/receipt-lightning start-worker --queue-url ${QueueNormal} --dynamo-table ${JobsTable} --instance-registry-table ${InstancesTable} --metrics-table ${MetricsTable} --efs-root $root
Restart=on-failure
RestartSec=10
KillSignal=SIGTERM
TimeoutStopSec=110

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now receipt-lightning-worker.service
