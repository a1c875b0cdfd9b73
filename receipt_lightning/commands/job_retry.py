"""Queue a FAILED, CANCELLED or TIMED_OUT job again under the same id. The trainer resumes from
the job's newest valid checkpoint (the run directory is keyed by the job id); the attempt history
is kept. `--override key=value` changes the overrides (vetted like a submission; a key given
again replaces the old value); the guard flags change its guard rails."""

from __future__ import annotations

import argparse

from receipt_lightning.commands.common import add_job_id, add_jobs_table_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_job_id(p)
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="Hydra override replacing or adding to the job's (repeatable)")  # fmt: skip
    p.add_argument("--max-runtime", type=float, metavar="S", help="new max_runtime_s (counted from now)")
    p.add_argument("--max-interruptions", type=int, metavar="N", help="new max_interruptions")
    p.add_argument("--stall-timeout", type=float, metavar="S", help="new stall_timeout_s")
    p.add_argument("--queue-url", help="queue to use (default: the one the job was submitted to)")
    add_jobs_table_arguments(p)


def run(args: argparse.Namespace) -> int:
    import json

    from receipt_lightning.commands.common import job_id, job_store
    from receipt_lightning.jobs.cancel import retry_job

    jid = job_id(args)
    store = job_store(args)
    guards = {k: v for k, v in (("max_runtime_s", args.max_runtime), ("max_interruptions", args.max_interruptions),
                                ("stall_timeout_s", args.stall_timeout)) if v is not None}  # fmt: skip
    job = retry_job(store, jid, args.override or None, queue_url=args.queue_url, guards=guards or None)
    row = {"job_id": jid, "status": job.get("status"), "overrides": job.get("overrides"),
           "retries": len(job.get("retries") or []), "attempts": int(job.get("attempt") or 0)}  # fmt: skip
    if args.json:
        print(json.dumps(row, indent=2, sort_keys=True))
    else:
        print(f"job {jid}: {row['status']} (retry {row['retries']}, after {row['attempts']} attempt(s))")
    return 0
