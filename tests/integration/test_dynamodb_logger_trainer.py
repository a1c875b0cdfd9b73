"""DynamoDBLogger in a real Lightning Trainer (a 1-layer module, not the project's model), with a
checkpoint-resumed second fit continuing the same run."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from receipt_lightning.aws.resources import create_table
from receipt_lightning.aws.session import client
from receipt_lightning.training.loggers.dynamodb.logger import DynamoDBLogger
from receipt_lightning.training.loggers.dynamodb.reader import MetricsReader, format_run_details

TABLE = "rl-metrics"


class Tiny(L.LightningModule):
    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))
        self.log("val_f1", 0.5)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def fit(tmp_path, max_steps: int, ckpt_path: str | None = None) -> None:
    trainer = L.Trainer(
        max_steps=max_steps,
        logger=DynamoDBLogger(TABLE, "job-e2e", flush_interval_s=0.2),
        callbacks=[ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=5, save_top_k=-1)],
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(Tiny(), loader(), loader(), ckpt_path=ckpt_path)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_trainer_fit_then_resume_continues_one_run(aws, tmp_path):
    torch.manual_seed(0)
    create_table(client("dynamodb"), "metrics", TABLE)
    fit(tmp_path, 12)
    reader = MetricsReader(TABLE)
    first = reader.run_record("job-e2e")
    assert first["status"] == "COMPLETED" and first["last_checkpoint_step"] == 10
    fit(tmp_path, 20, ckpt_path=str(tmp_path / "epoch=1-step=10.ckpt"))

    steps = [p.step for p in reader.series("job-e2e", "train_loss")]
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] >= 18
    assert set(range(steps[0], steps[-1] + 1)) == set(steps)  # no gap across the resume
    assert [p.epoch for p in reader.series("job-e2e", "val_f1")] == [0, 1]
    assert reader.hparams("job-e2e") == {"lr": 0.05}
    record = reader.run_record("job-e2e")
    assert record["status"] == "COMPLETED" and record["attempt"] == 2
    kinds = [e.kind for e in reader.events("job-e2e", last_n=50)]
    assert kinds[0] == "started" and "resumed" in kinds and kinds[-1] == "finished"
    assert kinds.count("checkpoint") >= 4
    resumed = [e.message for e in reader.events("job-e2e", last_n=50) if e.kind == "resumed"]
    assert resumed == ["resumed from step 10, attempt 2"]
    assert "status COMPLETED  attempt 2" in format_run_details("job-e2e", TABLE)
