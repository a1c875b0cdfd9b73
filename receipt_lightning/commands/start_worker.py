"""Run a worker: take training jobs from the queues (high, normal, low), one at a time.

Every flag defaults from the RL_* environment that the stack outputs or `receipt-lightning
dev-stack` provide (`--stack NAME` reads all of them, the EFS id included). Without a dead-letter
queue (--dlq-url, RL_DLQ_URL, the stack's, or the queues' own redrive target) the worker says so
at start, and a rejected or finally failed job's message is logged and deleted (the reason stays
on the job record). Also runnable as `python -m receipt_lightning.worker`.
"""

from __future__ import annotations

import argparse
import logging
import os

log = logging.getLogger(__name__)
# Where `--mount-efs` mounts when no shared root is named: the template's SharedRoot default.
DEFAULT_MOUNT_ROOT = "/mnt/receipt-lightning"


def add_arguments(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--queue-url", help="normal-priority queue (default $RL_QUEUE_URL)")
    p.add_argument("--queue-url-high", help="high-priority queue (default $RL_QUEUE_URL_HIGH)")
    p.add_argument("--queue-url-low", help="low-priority queue (default $RL_QUEUE_URL_LOW)")
    p.add_argument("--dlq-url", help="dead-letter queue (default $RL_DLQ_URL)")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")
    p.add_argument("--instance-registry-table", help="instances table (default $RL_INSTANCES_TABLE)")
    p.add_argument(
        "--metrics-table", help="metrics table for the trainer's logger (default $RL_METRICS_TABLE)"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--mount-efs",
        action="store_true",
        help=f"mount the stack's EFS (--stack or $RL_EFS_ID) at $RL_SHARED_ROOT (default {DEFAULT_MOUNT_ROOT}) first",
    )
    where.add_argument(
        "--efs-root", metavar="DIR", help="use an existing shared root (default $RL_SHARED_ROOT)"
    )
    p.add_argument("--max-jobs", type=int, help="exit after this many trainer runs")
    p.add_argument("--idle-timeout", type=float, metavar="S", help="exit after S seconds without a message")
    p.add_argument("--lease-ttl", type=float, default=float(env("RL_LEASE_TTL_S", "120")), metavar="S",
                   help="lease and message visibility lifetime without a heartbeat (default 120)")  # fmt: skip
    p.add_argument("--heartbeat", type=float, metavar="S", help="heartbeat period (default lease-ttl / 6)")
    p.add_argument(
        "--poll-wait",
        type=int,
        default=1,
        metavar="S",
        help="long-poll wait on the lowest queue (0..20, default 1)",
    )
    p.add_argument("--max-failures", type=int, default=3, help="failed attempts before FAILED (default 3)")
    p.add_argument(
        "--backoff", type=float, default=30.0, metavar="S", help="first retry delay, doubling (default 30)"
    )
    p.add_argument(
        "--stop-grace", type=float, default=100.0, metavar="S", help="SIGTERM -> SIGKILL grace (default 100)"
    )
    p.add_argument("--trainer-cmd", default=env("RL_TRAINER_CMD"),
                   help="trainer command (default $RL_TRAINER_CMD or python -m receipt_lightning.train)")  # fmt: skip
    p.add_argument("--spot-metadata-endpoint", default=env("RL_SPOT_METADATA_ENDPOINT"), metavar="URL",
                   help="IMDS endpoint for Spot notices (default: the real one on EC2, none elsewhere)")  # fmt: skip
    p.add_argument("--spot-poll", type=float, default=5.0, metavar="S", help="Spot notice poll period")
    p.add_argument("--instance-id", default=env("RL_INSTANCE_ID"), help="force the instance id")
    p.add_argument("--no-compose-check", action="store_true", help="skip composing jobs before running them")
    p.add_argument(
        "--allow-key", action="append", default=[], metavar="KEY", help="extra override key to allow"
    )


def options_from_args(args: argparse.Namespace):
    """``WorkerOptions`` from parsed flags and the environment."""
    from pathlib import Path

    from receipt_lightning.aws.ec2_detect import is_ec2
    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.errors import InputError
    from receipt_lightning.jobs.efs import mount_efs
    from receipt_lightning.jobs.worker_options import WorkerOptions

    names = resolve_names(args.stack)
    urls = dict(names.queue_urls)
    urls.update({k: v for k, v in (("high", args.queue_url_high), ("normal", args.queue_url),
                                   ("low", args.queue_url_low)) if v})  # fmt: skip
    root_text = args.efs_root or names.shared_root or (DEFAULT_MOUNT_ROOT if args.mount_efs else None)
    if not root_text:
        raise InputError("no shared root: pass --efs-root DIR or --mount-efs, or set RL_SHARED_ROOT")
    root = Path(root_text).expanduser().resolve()
    if args.mount_efs:
        mount_efs(names.efs_id, root, names.datasets_access_point, names.runs_access_point)
    if not root.is_dir():
        raise InputError(f"--efs-root {root}: not a directory")
    endpoint = args.spot_metadata_endpoint
    if endpoint is None:
        from receipt_lightning.aws.imds_config import ENDPOINT_ENV, default_endpoint

        # botocore's variables: an explicit endpoint is used anywhere, the default one on EC2
        # only, none at all with AWS_EC2_METADATA_DISABLED=true.
        found = default_endpoint()
        endpoint = found if found and (is_ec2() or os.environ.get(ENDPOINT_ENV)) else None
    if not 0 <= args.poll_wait <= 20:
        raise InputError(f"--poll-wait {args.poll_wait}: SQS long polls wait 0..20 s")
    dlq_url = args.dlq_url or names.dlq_url
    if not dlq_url:
        from receipt_lightning.jobs.queues import redrive_target

        dlq_url = redrive_target(urls)
        if dlq_url:
            log.info("dead-letter queue %s: the redrive target of the job queues", dlq_url)
    return WorkerOptions(
        queue_urls=urls,
        dlq_url=dlq_url,
        jobs_table=args.dynamo_table or names.jobs_table or "",
        root=root,
        instances_table=args.instance_registry_table or names.instances_table,
        metrics_table=args.metrics_table or names.metrics_table,
        trainer_cmd=args.trainer_cmd,
        max_jobs=args.max_jobs,
        idle_timeout_s=args.idle_timeout,
        lease_ttl_s=args.lease_ttl,
        heartbeat_s=args.heartbeat or args.lease_ttl / 6,
        poll_wait_s=args.poll_wait,
        max_failures=args.max_failures,
        backoff_base_s=args.backoff,
        stop_grace_s=args.stop_grace,
        metadata_endpoint=endpoint,
        spot_poll_s=args.spot_poll,
        compose_check=not args.no_compose_check,
        extra_keys=tuple(args.allow_key),
        instance_id=args.instance_id,
    )


def run(args: argparse.Namespace) -> int:
    from receipt_lightning.jobs.worker import Worker

    return Worker(options_from_args(args)).run()
