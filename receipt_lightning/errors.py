"""Typed errors: what went wrong decides what a worker does next.

- ``FatalError``: retrying cannot help (bad config, missing dataset, poison message).
- ``RetryableError``: transient (throttling, network, a flaky node); retry with backoff.
- ``InterruptedError_``: the job was stopped on purpose (Spot notice, SIGTERM); resumable.
- ``InputError``: bad user input, a ``FatalError`` that names the file, line, field or key.
"""

from __future__ import annotations

# Trainer process exit codes (a stable contract with the worker, see README "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# Failed in a way retrying cannot fix (bad config, missing dataset, bad input): the worker
# marks the job FAILED at once instead of retrying.
EXIT_FATAL = 3
# "Interrupted, resumable": distinct from success and from any failure code; 75 is EX_TEMPFAIL
# in sysexits.h ("temporary failure, the user is invited to retry").
EXIT_INTERRUPTED = 75
# The CLI's code when the reader of its stdout went away (`receipt-lightning jobs | head`): what a
# shell reports for a command killed by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141


class ReceiptLightningError(Exception):
    """Base of every error this package raises on purpose."""


class FatalError(ReceiptLightningError):
    """Retrying cannot succeed."""


class RetryableError(ReceiptLightningError):
    """Transient; the same work may succeed if retried later."""


class JobInterrupted(ReceiptLightningError):
    """Training stopped on purpose (Spot notice or SIGTERM) after a durable checkpoint."""

    def __init__(self, reason: str, action: str | None = None, notice_time: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.action = action
        self.notice_time = notice_time


class InputError(FatalError):
    """Bad input; the message names where (file, line, field or key)."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = source or ""
        if source and line is not None:
            where = f"{source}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line
