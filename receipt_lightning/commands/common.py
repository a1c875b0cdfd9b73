"""Arguments shared by the job and fleet commands (standard library only, like every command
module): one positional JOB_ID that ``--job-id`` may still give, and ``--region``/``--profile``
for every command that talks to AWS (added by ``cli.build_parser``)."""

from __future__ import annotations

import argparse


def add_job_id(p: argparse.ArgumentParser) -> None:
    """``JOB_ID`` positional, with ``--job-id`` kept for scripts written before it existed."""
    p.add_argument("job_id", nargs="?", metavar="JOB_ID", help="job id printed by submit-job")
    p.add_argument("--job-id", dest="job_id_flag", metavar="JOB_ID", help="same as JOB_ID")


def job_id(args: argparse.Namespace) -> str:
    """The job id from the positional or ``--job-id``; a usage error when neither or two differ."""
    from receipt_lightning.errors import InputError

    pos, flag = getattr(args, "job_id", None), getattr(args, "job_id_flag", None)
    if pos and flag and pos != flag:
        raise InputError(f"two job ids: {pos!r} and --job-id {flag!r}; give one")
    chosen = pos or flag
    if not chosen:
        raise InputError("which job? give JOB_ID (as printed by submit-job or listed by `jobs`)")
    return chosen


def add_aws_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", help="AWS region (default: $AWS_DEFAULT_REGION or the profile's)")
    p.add_argument("--profile", help="AWS named profile (default: $AWS_PROFILE or the default chain)")


def apply_aws_arguments(args: argparse.Namespace) -> None:
    """Make ``--region``/``--profile`` the session's (and any child process's) before any client."""
    region, profile = getattr(args, "region", None), getattr(args, "profile", None)
    if region or profile:
        from receipt_lightning.aws.session import configure

        configure(region=region, profile=profile)


def add_jobs_table_arguments(p: argparse.ArgumentParser) -> None:
    """``--json``, ``--stack`` and ``--dynamo-table``: where a job command reads the jobs table."""
    p.add_argument("--json", action="store_true", help="print the job's status as JSON")
    p.add_argument("--stack", help="read resource names from this CloudFormation stack's outputs")
    p.add_argument("--dynamo-table", help="jobs table (default $RL_JOBS_TABLE)")


def job_store(args: argparse.Namespace):
    """The jobs table named by ``--dynamo-table``, else the stack's (or ``RL_*``) names."""
    from receipt_lightning.aws.resources import resolve_names
    from receipt_lightning.jobs.records import JobStore

    return JobStore(args.dynamo_table or resolve_names(args.stack).jobs_table or "")
