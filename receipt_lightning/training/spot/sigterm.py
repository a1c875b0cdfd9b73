"""A SIGTERM handler that records the signal, chains the handler it replaced, and puts it back.

SIGTERM is what SageMaker, AWS Batch, Kubernetes and ``docker stop`` send before killing a job.
Python handlers only run on (and can only be installed from) the main thread, so ``install``
does nothing elsewhere. The handler runs between two bytecodes of the main thread: it only
records and forwards; the actual work (checkpoint, status) happens at the next step boundary.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any] | int | None


class SigtermRelay:
    """``capture()`` remembers the handler to chain and restore; ``install()`` puts ours in place.

    The two are separate because under Lightning the handler worth chaining is the one that was
    there *before* ``Trainer.fit`` (Lightning installs its own in between, see
    ``receipt_lightning.training.spot.callback``).
    """

    def __init__(self, on_signal: Callable[[int], None]):
        self._on_signal = on_signal
        self._previous: Handler = None
        self._captured = False
        self._installed = False

    @property
    def installed(self) -> bool:
        return self._installed

    @property
    def previous(self) -> Handler:
        return self._previous

    def capture(self) -> None:
        """Remember the current SIGTERM handler as the one to chain and restore."""
        if self._installed or not _on_main_thread():
            return
        self._previous = signal.getsignal(signal.SIGTERM)
        self._captured = True

    def install(self) -> bool:
        """Install our handler (main thread only); returns whether it is installed."""
        if self._installed:
            return True
        if not _on_main_thread():
            return False
        if not self._captured:
            self.capture()
        signal.signal(signal.SIGTERM, self._handle)
        self._installed = True
        return True

    def restore(self) -> None:
        """Put the captured handler back (idempotent; main thread only)."""
        if not self._installed or not _on_main_thread():
            return
        # getsignal() returns None for a handler set from C; SIG_DFL is the closest we can restore.
        signal.signal(signal.SIGTERM, self._previous if self._previous is not None else signal.SIG_DFL)
        self._installed = False
        self._captured = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._on_signal(signum)
        previous = self._previous
        # Chain a Python handler; SIG_DFL would kill the process before the checkpoint and SIG_IGN
        # means "nothing", so neither is called.
        if callable(previous):
            previous(signum, frame)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
