"""Print a job's trainer log (every attempt, or `--attempt N`), as the workers copy it to the
metrics table every few seconds; `--follow` keeps printing new lines until the job ends."""

from __future__ import annotations

import argparse

from receipt_lightning.commands.common import add_job_id


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_job_id(p)
    p.add_argument("--attempt", type=int, metavar="N", help="only attempt N (1-based; default every attempt)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the job ends")
    p.add_argument("--interval", type=float, default=1.0, metavar="S", help="seconds between polls (1)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop following after S seconds")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")
    p.add_argument("--metrics-table", help="metrics table holding the logs (default $RL_METRICS_TABLE)")


def run(args: argparse.Namespace) -> int:
    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.commands.common import job_id
    from receipt_lightning.errors import InputError
    from receipt_lightning.jobs.logs import print_logs
    from receipt_lightning.jobs.records import JobStore

    jid = job_id(args)
    names = resolve_names(args.stack)
    store = JobStore(args.dynamo_table or names.jobs_table or "")
    metrics = args.metrics_table or names.metrics_table
    if not metrics:
        raise InputError("job-logs reads the metrics table: pass --metrics-table or --stack, or set RL_METRICS_TABLE")
    if store.get(jid) is None:
        raise InputError(f"no job {jid!r} in table {store.table!r}")
    if args.attempt is not None and args.attempt < 1:
        raise InputError(f"--attempt {args.attempt}: attempts count from 1")
    print_logs(metrics, jid, lambda: store.get(jid), attempt=args.attempt, follow=args.follow,
               poll_s=args.interval, timeout_s=args.timeout)  # fmt: skip
    return 0
