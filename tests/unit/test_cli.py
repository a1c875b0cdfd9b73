"""The CLI starts fast: --help, and every sub-command's --help, import no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from receipt_lightning.cli import COMMANDS

PROBE = """
import sys
from receipt_lightning.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "lightning", "transformers", "boto3") if m in sys.modules)
print("HEAVY", heavy)
"""


@pytest.mark.parametrize("argv", [["--help"], *[[name, "--help"] for name in COMMANDS]])
def test_help_imports_nothing_heavy(argv):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60)
    assert "usage:" in proc.stdout, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stdout, proc.stdout[-500:]


def test_no_command_prints_help_and_usage_code():
    from receipt_lightning.cli import main

    assert main([]) == 2


FLOOD = """
import sys, types
from receipt_lightning import cli
mod = types.ModuleType("receipt_lightning.commands.flood")
mod.add_arguments = lambda parser: None
def run(args):
    for i in range(200_000):  # ~2.4 MB: far past a pipe's 64 KiB, so a write meets the closed end
        print("line", i)
    return 0
mod.run = run
sys.modules["receipt_lightning.commands.flood"] = mod
cli.COMMANDS["flood"] = ("flood", "print many lines")
sys.exit(cli.main(["flood"]))
"""


def test_reader_closing_the_pipe_ends_quietly():
    # `receipt-lightning jobs | head -1`: the command stops with the shell's SIGPIPE status and
    # no traceback on stderr.
    from receipt_lightning.errors import EXIT_BROKEN_PIPE

    proc = subprocess.Popen(
        [sys.executable, "-c", FLOOD], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE, err[-2000:]
    assert "Traceback" not in err and "BrokenPipeError" not in err, err[-2000:]


def test_broken_pipe_elsewhere_is_not_hidden(monkeypatch):
    # A socket or child pipe that breaks while stdout is fine is a real failure: it propagates.
    import types

    from receipt_lightning import cli

    mod = types.ModuleType("receipt_lightning.commands.boom")
    mod.add_arguments = lambda parser: None

    def run(args):
        raise BrokenPipeError("connection to the queue broke")

    mod.run = run
    monkeypatch.setitem(sys.modules, "receipt_lightning.commands.boom", mod)
    monkeypatch.setitem(cli.COMMANDS, "boom", ("boom", "fail"))
    with pytest.raises(BrokenPipeError, match="queue"):
        cli.main(["boom"])
