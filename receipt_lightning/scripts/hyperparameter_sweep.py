"""Grid sweep on the job queue (the original receipt-trainer script's flags):

    python -m receipt_lightning.scripts.hyperparameter_sweep --stack dev \\
        --learning-rates 5e-5,3e-5,1e-5 --batch-sizes 4,8,16 --epochs 3,5,10 --max-samples 1000 [--monitor]

Queues the cartesian product through the same path as ``python -m receipt_lightning.train -m
hydra/launcher=sqs ...`` (it runs exactly that command), prints the sweep id, and with
``--monitor`` shows the live table until every trial has ended (or ``--timeout``).

With no grid flags (``--stack dev --monitor``) it runs the default grid, ``DEFAULT_GRID``:
learning rates 1e-4,2e-4,3e-4 x batch sizes 8,16 x 12 epochs (6 jobs) of ``layoutlm_minilm``,
around the SROIE recipe (3e-4, batch 8, 12 epochs; docs/sroie.md). Each grid flag given replaces
its default alone. ``--model`` defaults to layoutlm_minilm unless ``--experiment`` picks one.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable, Sequence

from receipt_lightning.errors import EXIT_FAILED, EXIT_USAGE, InputError
from receipt_lightning.jobs.job_config import DEFAULT_MODEL

_SWEEP_LINE = re.compile(r"^sweep_id=(\S+)\s*$", re.MULTILINE)
# The grid of a sweep started without grid flags (module docstring): flag dest -> values.
DEFAULT_GRID: dict[str, str] = {"learning_rates": "1e-4,2e-4,3e-4", "batch_sizes": "8,16", "epochs": "12"}


def _values(text: str, kind: Callable[[str], object], flag: str) -> str:
    """Check a comma-separated list (each item parses as ``kind``); returns it for Hydra."""
    items = [t.strip() for t in text.split(",")]
    for item in items:
        try:
            value = kind(item)
        except ValueError:
            raise InputError(f"{item!r} is not a valid {kind.__name__}", source=flag) from None
        if isinstance(value, (int, float)) and value <= 0:
            raise InputError(f"{item!r} must be positive", source=flag)
    return ",".join(items)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m receipt_lightning.scripts.hyperparameter_sweep",
                                description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument("--stack", help="CloudFormation stack naming the queues and tables (default: RL_* env)")
    p.add_argument("--queue-url", help="send every job to this queue (default: the priority's queue)")
    p.add_argument("--priority", choices=("high", "normal", "low"), default="normal")
    p.add_argument("--learning-rates", default=DEFAULT_GRID["learning_rates"],
                   help=f"comma-separated (default {DEFAULT_GRID['learning_rates']})")  # fmt: skip
    p.add_argument("--batch-sizes", default=DEFAULT_GRID["batch_sizes"],
                   help=f"comma-separated (default {DEFAULT_GRID['batch_sizes']})")  # fmt: skip
    p.add_argument("--epochs", default=DEFAULT_GRID["epochs"],
                   help=f"comma-separated max epochs (default {DEFAULT_GRID['epochs']})")  # fmt: skip
    p.add_argument("--max-samples", help="cap on training receipts (one value or a comma-separated list)")
    p.add_argument("--model", help=f"model config: layoutlm_tiny | layoutlm_minilm | layoutlm_base "
                   f"(default {DEFAULT_MODEL}, or the --experiment's)")  # fmt: skip
    p.add_argument("--experiment", help="experiment preset under conf/experiment/")
    p.add_argument("--sweep-id", help="name the sweep (default: derived from the combinations)")
    p.add_argument("--metric", default="val/f1", help="metric that ranks trials (val/f1)")
    p.add_argument("--monitor", action="store_true", help="watch the sweep until every trial has ended")
    p.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between refreshes (10)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop monitoring after S seconds")
    p.add_argument("overrides", nargs="*", metavar="override", help="more Hydra overrides for every job")
    return p


def launch_command(args: argparse.Namespace) -> list[str]:
    """The ``python -m receipt_lightning.train -m hydra/launcher=sqs ...`` command for ``args``."""
    cmd = [sys.executable, "-m", "receipt_lightning.train", "-m", "hydra/launcher=sqs",
           f"hydra.launcher.priority={args.priority}", f"hydra.launcher.metric={args.metric}"]  # fmt: skip
    if args.stack:
        cmd.append(f"hydra.launcher.stack={args.stack}")
    if args.queue_url:
        cmd.append(f"hydra.launcher.queue_url='{args.queue_url}'")
    if args.sweep_id:
        cmd.append(f"hydra.launcher.sweep_id={args.sweep_id}")
    if args.experiment:
        cmd.append(f"experiment={args.experiment}")
    model = args.model or (None if args.experiment else DEFAULT_MODEL)
    if model:
        cmd.append(f"model={model}")
    cmd += [
        "model.learning_rate=" + _values(args.learning_rates, float, "--learning-rates"),
        "data.batch_size=" + _values(args.batch_sizes, int, "--batch-sizes"),
        "trainer.max_epochs=" + _values(args.epochs, int, "--epochs"),
    ]
    if args.max_samples:
        cmd.append("data.max_samples=" + _values(args.max_samples, int, "--max-samples"))
    return cmd + list(args.overrides)


def submit(cmd: Sequence[str]) -> str:
    """Run the launcher command, echo its output, return the sweep id it printed."""
    proc = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    found = _SWEEP_LINE.findall(proc.stdout)
    if proc.returncode != 0 or not found:
        raise InputError(f"launching the sweep failed (exit {proc.returncode}); see the output above")
    return found[-1]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sweep_id = submit(launch_command(args))
        if not args.monitor:
            return 0
        from receipt_lightning.aws.resources import resolve_names
        from receipt_lightning.sweeps.render import render
        from receipt_lightning.sweeps.watch import load_summary, watch

        names = resolve_names(args.stack)
        summary, done = watch(
            lambda: load_summary(sweep_id, sweeps_table=names.sweeps_table, jobs_table=names.jobs_table,
                                 metric=args.metric),  # fmt: skip
            interval_s=args.interval, timeout_s=args.timeout, out=sys.stdout, draw=render,
        )  # fmt: skip
    except InputError as err:
        print(f"hyperparameter_sweep: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if not done:
        print(f"stopped monitoring after {args.timeout} s: {summary['total'] - summary['ended']} "
              f"trial(s) not ended; resume with: receipt-lightning sweep-status {sweep_id} --watch")  # fmt: skip
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
