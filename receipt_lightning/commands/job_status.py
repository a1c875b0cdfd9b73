"""Show a job's status (one line; --json for the record's main fields)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--job-id", required=True, help="job id printed by submit-job")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.errors import InputError
    from receipt_lightning.jobs.records import JobStore
    from receipt_lightning.jobs.status import format_status

    table = args.dynamo_table or resolve_names(args.stack).jobs_table
    job = JobStore(table or "").get(args.job_id)
    if job is None:
        raise InputError(f"no job {args.job_id!r} in table {table!r}")
    if args.json:
        keys = ("job_id", "status", "attempt", "priority", "submitted_at", "ended_at", "lease_owner", "error",
                "final_metrics", "weights_sha256", "sweep_id", "dead_lettered")  # fmt: skip
        print(json.dumps({k: job.get(k) for k in keys}, indent=2, sort_keys=True))
    else:
        print(format_status(job))
    return 0
