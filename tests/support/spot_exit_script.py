"""Train the tiny module until SIGTERM arrives from outside; exit as the training entry point does.

    python tests/integration/spot_exit_script.py RUN_DIR [--no-spot]

Writes RUN_DIR/training once step 3 is done (the test waits for it, then sends SIGTERM). With the
Spot callback: JobInterrupted -> exit 75. With ``--no-spot`` Lightning alone handles the signal,
and the process ends with status 0: the trap the callback exists to avoid. Bounded: 3000 steps
of ~20 ms if no signal ever comes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from receipt_lightning.errors import EXIT_INTERRUPTED, EXIT_OK, JobInterrupted  # noqa: E402
from receipt_lightning.training.spot.callback import SpotInterruptionCallback  # noqa: E402
from tests.support.spot_tiny import RecordingLogger, TinyModule, make_loader, make_trainer


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    spot = None if "--no-spot" in argv else SpotInterruptionCallback(endpoint=None)

    def at_step(module, batch_idx):
        if module.trainer.global_step == 3:
            (root / "training").write_text("3")
        time.sleep(0.02)  # seconds: gives the signal a training step to land in

    trainer = make_trainer(root, spot, RecordingLogger(), max_steps=3000)
    try:
        trainer.fit(TinyModule(at_step), make_loader())
    except JobInterrupted as err:
        print(f"interrupted: {err.reason} at step {trainer.global_step}", flush=True)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
