"""A tiny Lightning module, loader, trainer and recording logger for the Spot callback's tests,
its subprocess script and its benchmark (not the project's model: 4 inputs, one Linear layer)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from torch.nn import functional as F  # noqa: N812
from torch.utils.data import DataLoader, TensorDataset
from typing_extensions import override

Hook = Callable[[pl.LightningModule, int], Any]


class TinyModule(pl.LightningModule):
    """Linear(4, 1) regression; optional hooks run inside a training step (``at_step``), after the
    module's batch-end hook (``after_batch``) and inside a validation step (``in_validation``)."""

    def __init__(
        self, at_step: Hook | None = None, after_batch: Hook | None = None, in_validation: Hook | None = None
    ):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)
        self.at_step, self.after_batch, self.in_validation = at_step, after_batch, in_validation

    @override
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.at_step is not None:
            self.at_step(self, batch_idx)
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    @override
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.after_batch is not None:
            self.after_batch(self, batch_idx)

    @override
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if self.in_validation is not None:
            self.in_validation(self, batch_idx)
        x, y = batch
        self.log("val_loss", F.mse_loss(self.layer(x), y))

    @override
    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


class RecordingLogger(Logger):
    """Records what the Spot callback writes: statuses, events, flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[tuple[str, dict]] = []
        self.events: list[tuple[str, str, dict]] = []
        self.flushes = 0
        self.status_monotonic: float | None = None

    @property
    @override
    def name(self) -> str:
        return "recording"

    @property
    @override
    def version(self) -> str:
        return "0"

    @override
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        return

    @override
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        return

    def record_status(self, status: str, **detail: Any) -> None:
        self.statuses.append((status, detail))
        self.status_monotonic = time.monotonic()

    def log_event(self, kind: str, message: str, **detail: Any) -> None:
        self.events.append((kind, message, detail))

    def flush(self) -> None:
        self.flushes += 1


def make_loader(n: int = 64, stateful: bool = False) -> DataLoader:
    """``n`` samples in batches of 4 (16 batches for 64), fixed order."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=g)
    dataset = TensorDataset(x, x.sum(dim=1, keepdim=True))
    if stateful:
        from torchdata.stateful_dataloader import StatefulDataLoader

        return StatefulDataLoader(dataset, batch_size=4)
    return DataLoader(dataset, batch_size=4)


def make_trainer(
    root: Any, spot: pl.Callback | None, logger: Logger | None, validate: bool = False, **kwargs: Any
) -> pl.Trainer:
    """CPU trainer with a ModelCheckpoint in ``root/ckpt`` that names files as the run directory
    contract does (``step-<global_step:08d>.ckpt``) and saves nothing on its own."""
    ckpt = ModelCheckpoint(
        dirpath=str(root) + "/ckpt",
        filename="step-{step:08d}",
        auto_insert_metric_name=False,
        save_top_k=-1,
        every_n_epochs=0,
        save_on_train_epoch_end=False,
    )
    kwargs.setdefault("devices", 1)
    return pl.Trainer(
        accelerator="cpu",
        logger=logger if logger is not None else False,
        callbacks=[spot, ckpt] if spot is not None else [ckpt],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
        default_root_dir=str(root),
        **kwargs,
    )


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` every 10 ms for at most ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
