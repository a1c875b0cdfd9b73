"""List jobs, newest first: id, status (as spelled in the jobs table), priority, attempt, age,
step and the error if any. Filters combine; the listing queries the jobs table's status index
(no scan) and follows it past one DynamoDB page up to ``--limit`` jobs."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", action="append", metavar="STATUS",
                   help="only jobs in this status (QUEUED, RUNNING, INTERRUPTED, RETRYING, CANCEL_REQUESTED, "
                        "COMPLETED, FAILED, REJECTED, CANCELLED, TIMED_OUT); repeat or comma-separate")  # fmt: skip
    p.add_argument("--priority", choices=("high", "normal", "low"), help="only this priority")
    p.add_argument("--sweep", metavar="SWEEP_ID", help="only this sweep's trials")
    p.add_argument("--since", metavar="AGE", help="only jobs submitted within AGE (30m, 12h, 7d)")
    p.add_argument("--limit", type=int, default=50, help="show at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="print JSON (a list of jobs)")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.jobs.listing import JobFilter, format_jobs, job_row, list_jobs, parse_age
    from receipt_lightning.jobs.records import ALL_STATUSES

    table = args.dynamo_table or resolve_names(args.stack).jobs_table or ""
    statuses = tuple(s.strip().upper() for arg in args.status or () for s in arg.split(",") if s.strip())
    f = JobFilter(
        statuses=statuses or ALL_STATUSES,
        priority=args.priority,
        sweep_id=args.sweep,
        since=time.time() - parse_age(args.since) if args.since else None,
    )
    jobs = list_jobs(table, f, limit=args.limit)
    if args.json:
        print(json.dumps([job_row(j) for j in jobs], indent=2, sort_keys=True, default=str))
    else:
        print(format_jobs(jobs))
    return 0
