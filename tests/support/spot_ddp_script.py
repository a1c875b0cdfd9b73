"""Two CPU ranks (DDP, gloo) under the Spot callback; only local rank 0 polls the stub.

    python tests/integration/spot_ddp_script.py RUN_DIR METADATA_ENDPOINT

Rank 0 writes RUN_DIR/training after step 3 (the test then posts a notice on the stub). Each
rank writes RUN_DIR/rank<N>.json: where it stopped, why, and what its logger recorded. Exits 75
on JobInterrupted. Bounded: 400 steps of ~50 ms if no notice ever comes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from receipt_lightning.errors import EXIT_INTERRUPTED, EXIT_OK, JobInterrupted  # noqa: E402
from receipt_lightning.training.spot.callback import SpotInterruptionCallback  # noqa: E402
from tests.support.spot_tiny import RecordingLogger, TinyModule, make_loader, make_trainer


def main(argv: list[str]) -> int:
    root, endpoint = Path(argv[0]), argv[1]
    cb = SpotInterruptionCallback(endpoint=endpoint, poll_interval_s=0.05, timeout_s=0.5)
    logger = RecordingLogger()

    def at_step(module, batch_idx):
        if module.trainer.global_step == 3 and module.trainer.global_rank == 0:
            (root / "training").write_text("3")
        time.sleep(0.05)  # seconds

    trainer = make_trainer(root, cb, logger, max_steps=400, strategy="ddp", devices=2)
    result = {"polled": False}
    try:
        trainer.fit(TinyModule(at_step), make_loader(256))
        rc = EXIT_OK
    except JobInterrupted as err:
        result["reason"] = err.reason
        rc = EXIT_INTERRUPTED
    result.update(
        global_step=trainer.global_step,
        statuses=[s for s, _ in logger.statuses],
        polled=cb.interruption is not None and cb.interruption["reason"] == "spot-interruption",
    )
    (root / f"rank{trainer.global_rank}.json").write_text(json.dumps(result))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
