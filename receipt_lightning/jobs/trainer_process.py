"""The trainer child process: ``python -m receipt_lightning.train <overrides> run_id=... paths.root=...``.

A fresh process per attempt (no state leaks between jobs). On Linux the child asks the kernel
to SIGKILL it when the worker dies (``PR_SET_PDEATHSIG``), so a worker killed outright never
leaves an orphan trainer running past its lease. Output goes to
``<root>/runs/<run_id>/worker/attempt-<n>.log`` for the traceback tail and for humans.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from receipt_lightning.runs import SUMMARY_FILE, read_summary

TRAINER_CMD_ENV = "RL_TRAINER_CMD"
# The fencing token: the lease's attempt number, for the trainer's check before every checkpoint
# and summary write (receipt_lightning.training.fencing). Set with RL_JOB_ID and RL_JOBS_TABLE.
ATTEMPT_ENV = "RL_JOB_ATTEMPT"
JOB_ID_ENV = "RL_JOB_ID"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def trainer_command(cmd: Sequence[str] | str | None = None) -> list[str]:
    """``cmd``, else ``$RL_TRAINER_CMD`` (shell words), else this Python running the trainer."""
    if cmd is None:
        cmd = os.environ.get(TRAINER_CMD_ENV) or None
    if cmd is None:
        return [sys.executable, "-m", "receipt_lightning.train"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def _die_with_parent_hook():
    """A pre-exec hook asking for SIGKILL when the worker dies. libc is loaded here, in the
    parent: importing or loading anything between fork and exec can deadlock with threads."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(137)

    return hook


class TrainerProcess:
    """One attempt of one job."""

    def __init__(
        self, cmd: Sequence[str], args: Sequence[str], run_dir: Path, attempt: int, env: dict[str, str]
    ):
        self.argv = [*cmd, *args]
        self.run_dir = run_dir
        self.log_path = run_dir / "worker" / f"attempt-{attempt}.log"
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0  # time.time() at start
        self.stop_requested: str | None = None  # why the worker asked it to stop, if it did

    def start(self) -> TrainerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
        with open(self.log_path, "ab") as log:
            log.write(f"$ {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                # Own session: a Ctrl-C meant for the worker reaches the trainer only via the
                # worker's orderly stop.
                start_new_session=True,
                preexec_fn=_die_with_parent_hook(),
            )
        return self

    def wait(self, timeout_s: float) -> int | None:
        """The exit code, or ``None`` if still running after ``timeout_s`` seconds."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def request_stop(self, reason: str) -> None:
        """SIGTERM: the trainer checkpoints and exits 75 (resumable)."""
        if self.proc is not None and self.proc.poll() is None and self.stop_requested is None:
            self.stop_requested = reason
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL the trainer's whole process group and reap it (a lost lease: another worker may
        start this job any moment). The group is the trainer's session (``start_new_session``),
        so DDP ranks, DataLoader workers and anything else it started die with it."""
        assert self.proc is not None
        self.kill_group()
        return self.proc.wait()

    def kill_group(self) -> None:
        """SIGKILL every process left in the trainer's group (also after a normal exit: a rank or
        a worker process that outlived the trainer must not keep the GPUs or the run directory)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group is empty: everything has exited already
        except PermissionError:
            # The pid was reused by a process we may not signal (the group is long gone); the
            # direct child, if still ours, is killed the plain way.
            if self.proc.poll() is None:
                self.proc.kill()

    def summary(self) -> dict[str, Any] | None:
        """``summary.json`` if this attempt wrote it (older files belong to earlier attempts)."""
        path = self.run_dir / SUMMARY_FILE
        try:
            if path.stat().st_mtime < self.started_at - 1:
                return None
            return read_summary(self.run_dir)
        except (OSError, ValueError):
            return None  # no summary (killed, crashed early) or a torn file: nothing to report

    def log_tail(self, max_lines: int = 30, max_chars: int = 4000) -> str:
        """The end of the attempt's output (the traceback, when it failed)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4 * max_chars))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-max_lines:])[-max_chars:]
