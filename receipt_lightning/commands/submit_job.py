"""Put a training job on the queue and print its job id.

The job file has model, training and data sections (see conf/jobs/example_job.yaml); overrides
on the command line come last. Queue and table names default from the RL_* environment.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE.yaml", help="job file (model, training, data)")
    p.add_argument("--queue-url", help="queue to use (default: the priority's $RL_QUEUE_URL[_HIGH|_LOW])")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")
    p.add_argument("--priority", choices=("high", "normal", "low"), help="default: the file's, else normal")
    p.add_argument("--job-id", help="job id (= run_id); default: a new one. An existing id adds nothing")
    p.add_argument("--max-runtime", type=float, metavar="S", help="guard: wall seconds over all attempts")
    p.add_argument("--max-interruptions", type=int, metavar="N", help="guard: interruptions before FAILED")
    p.add_argument("--stall-timeout", type=float, metavar="S", help="guard: seconds without a new step")
    p.add_argument("overrides", nargs="*", metavar="override", help="Hydra override key=value, applied last")


def run(args: argparse.Namespace) -> int:
    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.jobs.jobfile import load_job_file
    from receipt_lightning.jobs.submit import merge_overrides, submit_training_job

    spec = load_job_file(args.config)
    guards = dict(spec.guards)
    for key, value in (("max_runtime_s", args.max_runtime), ("max_interruptions", args.max_interruptions),
                       ("stall_timeout_s", args.stall_timeout)):  # fmt: skip
        if value is not None:
            guards[key] = value
    job_id = submit_training_job(
        spec.model,
        spec.training,
        spec.data,
        queue_url=args.queue_url,
        priority=args.priority or spec.priority or "normal",
        overrides=merge_overrides(spec.overrides, args.overrides),
        job_id=args.job_id,
        names=resolve_names(args.stack),
        dynamo_table=args.dynamo_table,
        guards=guards,
    )
    print(job_id)
    return 0
