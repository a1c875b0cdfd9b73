"""Show a job's attempts (instance, start, end, outcome, steps lost), checkpoint, latest metrics,
last log events and cost (instance-hours x price; Spot savings; dollars spent on interruptions)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from receipt_lightning.commands.common import add_job_id

    add_job_id(p)
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")
    p.add_argument("--metrics-table", help="metrics table (default $RL_METRICS_TABLE)")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument(
        "--prices", metavar="FILE.yaml", help="USD per hour by instance type (default conf/jobs/prices.yaml)"
    )
    p.add_argument("--events", type=int, default=10, help="log events to show (default 10)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the run's training curves to FILE.png")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.commands.common import job_id
    from receipt_lightning.errors import InputError
    from receipt_lightning.jobs.records import JobStore
    from receipt_lightning.jobs.status import format_details, job_details, load_prices

    jid = job_id(args)
    names = resolve_names(args.stack)
    table = args.dynamo_table or names.jobs_table
    job = JobStore(table or "").get(jid)
    if job is None:
        raise InputError(f"no job {jid!r} in table {table!r}")
    details = job_details(job, load_prices(args.prices))
    metrics_table = args.metrics_table or names.metrics_table
    run_text = None
    if metrics_table:
        from receipt_lightning.training.loggers.dynamodb.reader import MetricsReader, format_run_details

        run_text = format_run_details(jid, metrics_table, n_events=args.events)
        details["latest_metrics"] = {
            name: {"value": p.value, "step": p.step}
            for name, p in MetricsReader(metrics_table).latest_metrics(jid).items()
        }
    if args.plot:
        if not metrics_table:
            raise InputError("--plot needs the metrics table: --metrics-table or $RL_METRICS_TABLE")
        from receipt_lightning.training.loggers.dynamodb.plot import plot_run

        plot_run(jid, metrics_table, args.plot)
    if args.json:
        print(json.dumps(details, indent=2, sort_keys=True, default=str))
    else:
        print(format_details(details))
        if run_text:
            print(run_text)
        if args.plot:
            print(f"curves: {args.plot}")
    return 0
