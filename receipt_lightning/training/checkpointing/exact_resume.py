"""``ResumeFixes``: two Lightning 2.6 resume defects that break an exact resume, worked around.

1. **Epoch-end checkpoints.** A checkpoint saved from ``on_train_epoch_end`` (``ModelCheckpoint``
   with ``save_on_train_epoch_end=True``, or ``every_n_epochs``) records an epoch as processed
   but not completed. With step-based training (``max_steps`` set, as ``train.py`` does)
   Lightning classifies that state as "restarted on epoch end", replays the tail of the epoch
   and counts the epoch a second time: the resumed run believes it is one epoch further and
   stops an epoch early (``max_epochs``). The state one hook earlier (after the last batch and
   its validation, before the epoch-end increment) resumes correctly, so the loaded loop
   progress is rewound to it before the loops load it; the epoch-end hooks then run once more
   (``ModelCheckpoint`` does not save again: the monitored score is not better than itself).

2. **Loader state never loaded.** ``trainer.estimated_stepping_batches`` (typically read in
   ``configure_optimizers`` to size an LR schedule) builds the train loader before the loop
   state is restored; ``FitLoop.setup_data`` then returns early and the saved loader position is
   silently dropped: the resumed run restarts the epoch from its first batch. At
   ``on_train_start`` (before the first batch is fetched) the pending loader state is loaded and
   the iterator rebuilt.

Put this callback before ``RNGStateCallback``: rebuilding an iterator may draw a base seed.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from receipt_lightning.training.lightning_compat import load_pending_loader_states

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


class ResumeFixes(Callback):
    @override
    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.max_steps != -1 and rewind_epoch_end(checkpoint):
            log.info("checkpoint written at an epoch end: resuming from the end of its last batch")

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not load_pending_loader_states(trainer.fit_loop):
            return  # loaded by FitLoop.setup_data as intended, or nothing to load
        log.info("train loader was built before the checkpoint's loop state: loaded its position now")
