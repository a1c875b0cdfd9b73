"""Show a sweep: counts by status (queued, running, completed, interrupted, failed,
dead-lettered), each trial's metric, the best trial so far and the first failure.
``--watch`` redraws every ``--interval`` seconds until every trial has ended (or ``--timeout``).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep_id", metavar="SWEEP_ID", help="sweep id printed when the sweep was launched")
    p.add_argument("--watch", action="store_true", help="refresh until every trial has ended")
    p.add_argument("--json", action="store_true", help="print JSON (with --watch: once, at the end)")
    p.add_argument("--metric", help="metric that ranks trials (default: the sweep's, else val/f1)")
    p.add_argument(
        "--mode", choices=("max", "min"), help="higher or lower is better (default: from the metric)"
    )
    p.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between refreshes (10)")
    p.add_argument(
        "--timeout", type=float, metavar="S", help="stop watching after S seconds (exit 1 if not done)"
    )
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--sweeps-table", help="sweeps table (default $RL_SWEEPS_TABLE)")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import sys

    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.errors import EXIT_FAILED
    from receipt_lightning.sweeps.render import render
    from receipt_lightning.sweeps.watch import load_summary, watch

    if not getattr(args, "verbose", False):
        # One INFO line per boto3 client otherwise, on every refresh of --watch.
        logging.getLogger("botocore").setLevel(logging.WARNING)
    names = resolve_names(args.stack) if args.stack or not (args.sweeps_table and args.dynamo_table) else None
    sweeps_table = args.sweeps_table or (names.sweeps_table if names else None)
    jobs_table = args.dynamo_table or (names.jobs_table if names else None)

    def load() -> dict:
        return load_summary(args.sweep_id, sweeps_table=sweeps_table, jobs_table=jobs_table,
                            metric=args.metric, mode=args.mode)  # fmt: skip

    if not args.watch:
        summary = load()
        print(json.dumps(summary, indent=2, sort_keys=True) if args.json else render(summary))
        return 0
    summary, done = watch(
        load,
        interval_s=args.interval,
        timeout_s=args.timeout,
        out=None if args.json else sys.stdout,
        draw=render,
    )
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    if not done:
        print(f"sweep-status: stopped watching after {args.timeout} s; "
              f"{summary['total'] - summary['ended']} trial(s) not ended", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    return 0
