"""Show a job's status (one line; --json for the record's main fields). `--watch` keeps a live
line (step, epoch, latest metrics, interruptions, ETA from the measured step rate) until the job
ends; the exit code is then 0 for COMPLETED and 1 for any other end."""

from __future__ import annotations

import argparse

from receipt_lightning.commands.common import add_job_id

JSON_KEYS = ("job_id", "status", "attempt", "priority", "submitted_at", "ended_at", "lease_owner", "error",
             "final_metrics", "weights_sha256", "sweep_id", "dead_lettered", "interruptions", "progress",
             "cancel", "guards")  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_job_id(p)
    p.add_argument("--watch", action="store_true", help="live line until the job ends")
    p.add_argument("--interval", type=float, default=5.0, metavar="S", help="seconds between refreshes (5)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop watching after S seconds (exit 1)")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")
    p.add_argument("--metrics-table", help="metrics table for --watch's metrics (default $RL_METRICS_TABLE)")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--json", action="store_true", help="print JSON (with --watch: once, at the end)")


def run(args: argparse.Namespace) -> int:
    import io
    import json
    import sys

    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.commands.common import job_id
    from receipt_lightning.errors import EXIT_FAILED, InputError
    from receipt_lightning.jobs.records import COMPLETED, JobStore
    from receipt_lightning.jobs.status import format_status

    jid = job_id(args)
    watching = getattr(args, "watch", False)
    names = resolve_names(args.stack) if args.stack or not args.dynamo_table else None
    table = args.dynamo_table or (names.jobs_table if names else None)
    store = JobStore(table or "")
    job = store.get(jid)
    if job is None:
        raise InputError(f"no job {jid!r} in table {table!r}")
    done = True
    if watching:
        from receipt_lightning.jobs.progress_line import latest_metrics, watch

        metrics_table = getattr(args, "metrics_table", None) or (names.metrics_table if names else None)

        def load():
            return store.get(jid) or job, latest_metrics(metrics_table, jid)

        job, done = watch(load, interval_s=args.interval, timeout_s=args.timeout,
                          out=io.StringIO() if args.json else sys.stdout)  # fmt: skip
    if args.json:
        print(json.dumps({k: job.get(k) for k in JSON_KEYS}, indent=2, sort_keys=True, default=str))
    elif not watching:
        print(format_status(job))
    if watching and (not done or job.get("status") != COMPLETED):
        return EXIT_FAILED
    return 0
