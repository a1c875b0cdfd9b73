"""Cancel a job. It becomes CANCEL_REQUESTED: a queued job is never started (the next worker to
receive it records CANCELLED and drops the message); a running job's worker sees the request at
its next heartbeat, has the trainer write a durable checkpoint (SIGTERM, as for a Spot notice)
and records CANCELLED. `job-retry JOB_ID` queues it again, resuming from that checkpoint."""

from __future__ import annotations

import argparse

from receipt_lightning.commands.common import add_job_id, add_jobs_table_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_job_id(p)
    p.add_argument("--reason", help="why (recorded on the job, shown by job-status)")
    p.add_argument("--wait", action="store_true", help="wait until the job has stopped (CANCELLED or ended)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="--wait at most S seconds (600)")
    add_jobs_table_arguments(p)


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from receipt_lightning.commands.common import job_id, job_store
    from receipt_lightning.errors import EXIT_FAILED
    from receipt_lightning.jobs.cancel import request_cancel
    from receipt_lightning.jobs.records import TERMINAL

    jid = job_id(args)
    store = job_store(args)
    job = request_cancel(store, jid, args.reason)
    deadline = time.monotonic() + args.timeout
    while args.wait and job.get("status") not in TERMINAL and time.monotonic() < deadline:
        time.sleep(1.0)
        job = store.get(jid) or job
    row = {"job_id": jid, "status": job.get("status"), "cancel": job.get("cancel")}
    print(json.dumps(row, indent=2, sort_keys=True, default=str) if args.json else f"job {jid}: {job.get('status')}")
    return EXIT_FAILED if args.wait and job.get("status") not in TERMINAL else 0
