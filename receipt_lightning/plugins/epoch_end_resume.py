"""``EpochEndResumeFix``: resume a checkpoint written at ``on_train_epoch_end`` exactly.

A checkpoint saved from ``on_train_epoch_end`` (``ModelCheckpoint`` with
``save_on_train_epoch_end=True``, or ``every_n_epochs``) records an epoch as processed but not
completed. With step-based training (``max_steps`` set, as ``train.py`` does) Lightning 2.6
classifies that state as "restarted on epoch end", replays the tail of the epoch, and counts the
epoch as processed a second time: the resumed run believes it is one epoch further than it is
and stops an epoch early (``max_epochs``).

The state one hook earlier, after the epoch's last batch and its validation but before the
epoch-end increment, resumes correctly (Lightning skips the already-run validation and then
ends the epoch normally). This callback rewrites the loaded loop progress into that state
before the loops load it; the epoch-end hooks then run once more on resume (``ModelCheckpoint``
does not save again: the monitored score is not better than itself).
"""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

log = logging.getLogger(__name__)


def rewind_epoch_end(checkpoint: dict[str, Any]) -> bool:
    """Turn an ``on_train_epoch_end`` loop state into the end-of-last-batch state, in place.

    Returns True when the checkpoint was such a state.
    """
    fit = checkpoint.get("loops", {}).get("fit_loop", {})
    progress = fit.get("epoch_progress")
    batches = fit.get("epoch_loop.batch_progress")
    if not progress or not batches:
        return False
    total, current = progress["total"], progress["current"]
    at_epoch_end = total["ready"] == total["started"] == total["processed"] == total[
        "completed"
    ] + 1 and batches.get("is_last_batch", False)
    if not at_epoch_end:
        return False
    for counters in (total, current):
        counters["processed"] -= 1
    return True


class EpochEndResumeFix(Callback):
    @override
    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.max_steps != -1 and rewind_epoch_end(checkpoint):
            log.info("checkpoint written at an epoch end: resuming from the end of its last batch")
