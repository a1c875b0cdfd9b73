"""List the workers in the instance registry: worker, instance, type, market (spot/on-demand),
state, current job, last heartbeat, live or stale (three heartbeats missed), notices seen
(Spot interruption, scale-in)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (a list of workers)")
    p.add_argument("--live", action="store_true", help="hide stale entries")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--instance-registry-table", help="instances table (default $RL_INSTANCES_TABLE)")


def run(args: argparse.Namespace) -> int:
    import json

    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.jobs.listing import format_workers, list_workers, worker_row

    table = args.instance_registry_table or resolve_names(args.stack).instances_table or ""
    workers = [w for w in list_workers(table) if not (args.live and w["stale"])]
    if args.json:
        print(json.dumps([worker_row(w) for w in workers], indent=2, sort_keys=True, default=str))
    else:
        print(format_workers(workers))
    return 0
