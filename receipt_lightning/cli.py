"""The ``receipt-lightning`` command: a thin dispatcher.

Each sub-command lives in ``receipt_lightning/commands/<module>.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Those modules import only the standard
library at module level, so ``receipt-lightning --help`` never imports torch; heavy imports
happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import sys

# command name -> (module under receipt_lightning.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("predict", "extract fields from receipts with a trained checkpoint"),
    "export": ("export", "export a trained model: Hugging Face directories, ONNX, a model card"),
    "serve": ("serve", "serve an exported model over HTTP (POST /v1/extract)"),
    "evaluate": ("evaluate", "score predictions against SROIE-style keys (task-3 F1)"),
    "label-bound": ("label_bound", "upper bound of weak labelling: F1 of decoding the gold labels"),
    "submit-job": ("submit_job", "put a training job on the queue"),
    "start-worker": ("start_worker", "run a worker that takes jobs from the queue"),
    "job-status": ("job_status", "show a job's status"),
    "job-details": ("job_details", "show a job's attempts, metrics, log events and cost"),
    "sweep-status": ("sweep_status", "show a sweep's trials, counts by status and the best one"),
    "dev-stack": ("dev_stack", "run a local AWS stand-in (moto) with the project's queues and tables"),
    "jobs": ("jobs", "list jobs (filter by status, priority, sweep, age), newest first"),
    "workers": ("workers", "list the workers in the instance registry (live or stale, current job)"),
    "job-cancel": ("job_cancel", "cancel a job: a queued one never starts, a running one checkpoints"),
    "job-retry": ("job_retry", "queue a FAILED, CANCELLED or TIMED_OUT job again under its id"),
    "job-logs": ("job_logs", "print (or --follow) a job's trainer log"),
}
# Commands that talk to AWS: they get --region and --profile.
AWS_COMMANDS = frozenset(
    {"submit-job", "start-worker", "job-status", "job-details", "sweep-status", "jobs", "workers",
     "job-cancel", "job-retry", "job-logs"}
)  # fmt: skip


def _version() -> str:
    """The installed distribution's version; the package's own in a bare source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("receipt-lightning")
    except PackageNotFoundError:  # run from a checkout that was never pip-installed
        from receipt_lightning import __version__

        return __version__


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only ``command``'s module is imported (to add its arguments), so
    ``--help`` and each sub-command start fast."""
    parser = argparse.ArgumentParser(
        prog="receipt-lightning",
        description="Fine-tune LayoutLM on receipts and run training as fault-tolerant Spot jobs. "
        "Training itself: python -m receipt_lightning.train +experiment=NAME",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=help_text)
            continue
        cmd = importlib.import_module(f"receipt_lightning.commands.{module}")
        p = sub.add_parser(name, help=help_text, description=(cmd.__doc__ or help_text).strip())
        cmd.add_arguments(p)
        if name in AWS_COMMANDS:
            from receipt_lightning.commands.common import add_aws_arguments

            add_aws_arguments(p)
        p.set_defaults(_module=cmd)
    return parser


def stdout_reader_gone() -> bool:
    """True where stdout is a pipe or socket whose reader has closed it (``... | head``).

    A broken pipe anywhere else (a socket to AWS, a child's pipe) is a real failure, so the
    CLI hides only this one: poll reports POLLERR on a pipe's write end once its reader is gone.
    """
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
    except (AttributeError, OSError, ValueError):
        # No file descriptor (output captured in memory) or no poll() (Windows): not a pipe.
        return False
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _command_name(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    from receipt_lightning.errors import (
        EXIT_BROKEN_PIPE,
        EXIT_FAILED,
        EXIT_USAGE,
        ReceiptLightningError,
    )

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_name(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # boto3's INFO lines ("Found credentials in environment variables") are noise on a CLI.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command in AWS_COMMANDS:
            from receipt_lightning.commands.common import apply_aws_arguments

            apply_aws_arguments(args)
        code = int(args._module.run(args) or 0)
        # Flush here, not at interpreter exit, so a reader that went away is seen below.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        if not stdout_reader_gone():
            raise
        # Nothing more can reach the reader; point stdout at /dev/null so the interpreter's own
        # flush at exit does not raise again and print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ReceiptLightningError as err:
        # Our own errors already say what and where: one line, no traceback.
        print(f"receipt-lightning {args.command}: error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
