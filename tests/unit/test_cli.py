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
