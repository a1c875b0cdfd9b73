"""Run a local AWS stand-in (moto's server on 127.0.0.1) with launch/template.yaml deployed into
it (queues, tables, ...) and a shared root, print the environment as `export NAME=value` lines,
and serve until Ctrl-C.

In another terminal, `source <root>/dev-stack.env` (written once the stack is ready, removed
when it stops) or paste the printed lines; then submit-job, start-worker, job-status and sweeps
need no further flags. `--stack dev` also works: the template is deployed as a stack named dev.
Everything but the shared root lives in memory and is gone when the server stops.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

DEFAULT_PORT = 5000
DEFAULT_ROOT = "dev-stack-root"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--root",
        default=DEFAULT_ROOT,
        help=f"shared root directory, gets datasets/ and runs/ (default ./{DEFAULT_ROOT})",
    )


def run(args: argparse.Namespace) -> int:
    from receipt_lightning.aws.dev_stack import (
        ENV_FILE,
        STACK_NAME,
        export_lines,
        serve_until_stopped,
        start_dev_stack,
        write_env_file,
    )
    from receipt_lightning.errors import InputError

    if not 0 < args.port < 65536:
        raise InputError(f"port must be 1-65535, got {args.port}", source="--port")
    # moto's server logs every request (workers long-poll all the time); only with -v.
    logging.getLogger("werkzeug").setLevel(
        logging.INFO if getattr(args, "verbose", False) else logging.WARNING
    )
    stop = threading.Event()
    # Handlers first: a Ctrl-C while tables are being created still stops the server cleanly.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server, env = start_dev_stack(args.port, args.root, STACK_NAME)
    root = Path(env["RL_SHARED_ROOT"])
    env_file = write_env_file(root, env)
    print("\n".join(export_lines(env)), flush=True)
    print(
        f"# dev stack {STACK_NAME!r} on {env['AWS_ENDPOINT_URL']}; in another shell: "
        f"source {env_file}  (Ctrl-C here stops it; {ENV_FILE} is then removed)",
        file=sys.stderr,
        flush=True,
    )
    serve_until_stopped(server, root, stop)
    print("# dev stack stopped", file=sys.stderr, flush=True)
    return 0
