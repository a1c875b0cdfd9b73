"""The Spot callback with the project's own plugins: EFSCheckpointIO (async saves, drained before
the status) and DynamoDBLogger (status INTERRUPTED kept through Lightning's finalize("failed")),
against the IMDSv2 stub and moto's DynamoDB."""

from __future__ import annotations

import pytest

from receipt_lightning.aws.imds_stub import IMDSStub  # noqa: E402
from receipt_lightning.aws.resources import create_table  # noqa: E402
from receipt_lightning.aws.session import client  # noqa: E402
from receipt_lightning.errors import JobInterrupted  # noqa: E402
from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO  # noqa: E402
from receipt_lightning.training.loggers.dynamodb.logger import DynamoDBLogger  # noqa: E402
from receipt_lightning.training.loggers.dynamodb.reader import MetricsReader  # noqa: E402
from receipt_lightning.training.spot.callback import SpotInterruptionCallback  # noqa: E402
from tests.support.spot_tiny import TinyModule, make_loader, make_trainer, wait_for

TABLE = "rl-metrics-spot"
NOTICE_TIME = "2026-11-29T12:02:00Z"


def test_notice_with_async_efs_io_and_dynamodb_logger(aws, tmp_path):
    create_table(client("dynamodb"), "metrics", TABLE)
    logger = DynamoDBLogger(TABLE, "job-spot", flush_interval_s=0.2)
    io = EFSCheckpointIO(keep_last_k=2, async_save=True)
    with IMDSStub() as stub:
        cb = SpotInterruptionCallback(endpoint=stub.endpoint, poll_interval_s=0.05, timeout_s=0.5)

        def at_step(module, batch_idx):
            if module.trainer.global_step == 4:
                stub.set_notice("terminate", NOTICE_TIME)
                assert wait_for(lambda: cb.pending_notice is not None)

        trainer = make_trainer(tmp_path, cb, logger, max_epochs=2, plugins=[io])
        with pytest.raises(JobInterrupted):
            trainer.fit(TinyModule(at_step), make_loader())
    ckpt = tmp_path / "ckpt" / "step-00000005.ckpt"
    assert ckpt.exists() and not io.save_in_flight
    assert cb.interruption["checkpoint_io_drained"] is True
    io.load_checkpoint(str(ckpt))  # verified against its sha256 sidecar
    reader = MetricsReader(TABLE)
    run = reader.run_record("job-spot")
    assert run["status"] == "INTERRUPTED"  # Lightning's finalize("failed") did not overwrite it
    assert run["detail"]["notice_time"] == NOTICE_TIME and run["detail"]["global_step"] == 5
    events = [e for e in reader.events("job-spot", last_n=10) if e.kind == "interrupted"]
    assert events and events[-1].attrs["checkpoint"] == str(ckpt)
