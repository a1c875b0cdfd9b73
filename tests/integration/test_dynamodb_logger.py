"""DynamoDBLogger against moto's HTTP server: keys, step order, NaN/Inf, batching, resume across
three interruptions, sticky INTERRUPTED, write errors, the reader, and a real Lightning Trainer."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from receipt_lightning.aws.resources import create_table
from receipt_lightning.aws.session import client
from receipt_lightning.errors import FatalError
from receipt_lightning.training.loggers.dynamodb.logger import DynamoDBLogger
from receipt_lightning.training.loggers.dynamodb.reader import MetricsReader, format_run_details
from receipt_lightning.training.loggers.dynamodb.writer import MAX_BATCH, default_client

TABLE = "rl-metrics"


@pytest.fixture
def table(aws) -> str:
    create_table(client("dynamodb"), "metrics", TABLE)
    return TABLE


def make_logger(run_id: str = "job-1", **kw) -> DynamoDBLogger:
    kw.setdefault("flush_interval_s", 0.2)
    return DynamoDBLogger(TABLE, run_id, **kw)


def checkpoint(step: int) -> SimpleNamespace:
    """What after_save_checkpoint reads from a ModelCheckpoint."""
    return SimpleNamespace(_last_global_step_saved=step, _last_checkpoint_saved=f"/ckpt/step-{step:08d}.ckpt")


def test_train_val_and_epoch_metrics_under_one_step_do_not_overwrite(table):
    logger = make_logger()
    logger.log_metrics({"train_loss": 0.5, "epoch": 0}, step=5)
    logger.log_metrics({"val_loss": 0.7, "val_f1": 0.2, "epoch": 0}, step=5)
    logger.log_metrics({"train_loss_epoch": 0.55, "epoch": 0}, step=5)
    logger.finalize("success")
    series = MetricsReader(table).all_series("job-1")
    assert {n: [(p.step, p.value, p.epoch) for p in s] for n, s in series.items()} == {
        "train_loss": [(5, 0.5, 0)],
        "val_loss": [(5, 0.7, 0)],
        "val_f1": [(5, 0.2, 0)],
        "train_loss_epoch": [(5, 0.55, 0)],
    }


def test_series_reads_back_in_step_order_and_names_do_not_mix(table):
    logger = make_logger()
    for step in (3, 11, 0, 9, 100, 10):
        logger.log_metrics({"loss": float(step), "loss#x": -1.0}, step=step)
    logger.finalize("success")
    reader = MetricsReader(table)
    assert [p.step for p in reader.series("job-1", "loss")] == [0, 3, 9, 10, 11, 100]
    assert [p.value for p in reader.series("job-1", "loss")] == [0.0, 3.0, 9.0, 10.0, 11.0, 100.0]
    assert len(reader.series("job-1", "loss#x")) == 6
    assert reader.latest_metrics("job-1")["loss"].step == 100


def test_nan_and_infinity_round_trip(table):
    logger = make_logger()
    values = [math.nan, math.inf, -math.inf, 1e-300, 0.25]
    for step, v in enumerate(values):
        logger.log_metrics({"loss": v}, step=step)
    logger.log_hyperparams({"weird": math.nan})
    logger.finalize("success")
    got = [p.value for p in MetricsReader(table).series("job-1", "loss")]
    assert math.isnan(got[0]) and got[1:] == values[1:]
    assert MetricsReader(table).hparams("job-1") == {"weird": "NaN"}


def test_more_than_25_items_go_out_in_chunks_of_at_most_25(table):
    sizes: list[int] = []

    class Recording:
        def __init__(self) -> None:
            self.real = default_client()

        def batch_write_item(self, RequestItems):  # noqa: N803 - boto3's name
            sizes.extend(len(v) for v in RequestItems.values())
            return self.real.batch_write_item(RequestItems=RequestItems)

        def __getattr__(self, name):
            return getattr(self.real, name)

    logger = make_logger(client_factory=Recording, flush_interval_s=30.0)
    for step in range(40):
        logger.log_metrics({"a": 1.0, "b": 2.0, "c": 3.0}, step=step)
    logger.finalize("success")
    assert max(sizes) <= MAX_BATCH and sum(sizes) >= 120 and len(sizes) >= 5
    assert {n: len(s) for n, s in MetricsReader(table).all_series("job-1").items()} == {
        "a": 40,
        "b": 40,
        "c": 40,
    }


def test_hyperparameters_from_a_dictconfig(table):
    logger = make_logger()
    cfg = OmegaConf.create({"optim": {"lr": 3e-5, "warmup": "${optim.lr}"}, "layers": [1, 2], "name": "x"})
    logger.log_hyperparams({"cfg": cfg, "seed": 7})
    logger.finalize("success")
    assert MetricsReader(table).hparams("job-1") == {
        "cfg": {"optim": {"lr": 3e-5, "warmup": 3e-5}, "layers": [1, 2], "name": "x"},
        "seed": 7,
    }


def run_attempt(attempt: int, steps: range, ckpt_step: int | None, interrupted: bool) -> None:
    logger = make_logger()
    for step in steps:
        metrics = {"train_loss": step * 1000.0 + attempt, "epoch": step // 10}
        if step % 5 == 0:
            metrics["val_f1"] = step / 100 + attempt / 1e4
        logger.log_metrics(metrics, step=step)
        if step == ckpt_step:
            logger.after_save_checkpoint(checkpoint(step))
    if interrupted:
        logger.record_status("INTERRUPTED", reason="spot notice")
        logger.finalize("failed")  # what Lightning calls while JobInterrupted propagates
    else:
        logger.finalize("success")


def test_run_interrupted_three_times_reads_back_once_and_continuous(table):
    reader = MetricsReader(table)
    run_attempt(1, range(0, 11), 8, interrupted=True)
    assert reader.run_record("job-1")["status"] == "INTERRUPTED"  # not overwritten by finalize("failed")
    run_attempt(2, range(8, 21), 18, interrupted=True)
    run_attempt(3, range(18, 31), 28, interrupted=True)
    run_attempt(4, range(28, 41), None, interrupted=False)

    loss = reader.series("job-1", "train_loss")
    assert [p.step for p in loss] == list(range(41))  # no gap, no duplicate
    last_writer = [1] * 8 + [2] * 10 + [3] * 10 + [4] * 13  # replayed steps hold the later attempt
    assert [p.value for p in loss] == [s * 1000.0 + a for s, a in zip(range(41), last_writer, strict=True)]
    assert [p.step for p in reader.series("job-1", "val_f1")] == list(range(0, 41, 5))
    raw = client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="run_id = :r AND begins_with(sk, :m)",
        ExpressionAttributeValues={":r": {"S": "job-1"}, ":m": {"S": "m#"}},
    )
    assert raw["Count"] == 41 + 9

    record = reader.run_record("job-1")
    assert record["status"] == "COMPLETED" and record["attempt"] == 4 and record["last_step"] == 40
    events = reader.events("job-1", last_n=100)
    kinds = [e.kind for e in events]
    assert kinds.count("started") == 1 and kinds.count("resumed") == 3
    assert kinds.count("interrupted") == 3 and kinds.count("checkpoint") == 3 and kinds[-1] == "finished"
    assert [e.message for e in events if e.kind == "resumed"] == [
        "resumed from step 8, attempt 2",
        "resumed from step 18, attempt 3",
        "resumed from step 28, attempt 4",
    ]
    assert [e.attrs["reason"] for e in events if e.kind == "interrupted"] == ["spot notice"] * 3


def test_interrupted_is_sticky_but_a_new_attempt_runs_again(table):
    logger = make_logger()
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.record_status("INTERRUPTED", reason="SIGTERM")
    logger.finalize("failed")
    logger.finalize("success")
    reader = MetricsReader(table)
    assert reader.run_record("job-1")["status"] == "INTERRUPTED"
    resumed = make_logger()
    resumed.log_metrics({"loss": 0.5}, step=1)
    resumed.flush()
    assert reader.run_record("job-1")["status"] == "RUNNING"
    resumed.finalize("success")


def test_log_event_and_warnings_are_recorded(table):
    logger = make_logger()
    logger.log_event("warning", "loss spiked", level="warning", step=3, value=math.inf)
    logger.record_status("FAILED", error="CUDA OOM")
    logger.finalize("failed")  # an explicit terminal status is kept
    reader = MetricsReader(table)
    events = reader.events("job-1", last_n=2)
    assert [(e.kind, e.level) for e in events] == [("warning", "WARNING"), ("failed", "ERROR")]
    assert events[0].attrs == {"step": 3, "value": "Infinity"}
    assert reader.run_record("job-1")["detail"] == {"error": "CUDA OOM"}


def test_a_write_error_surfaces_at_flush_and_finalize(table):
    logger = make_logger()
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.flush()
    client("dynamodb").delete_table(TableName=table)
    logger.log_metrics({"loss": 0.5}, step=1)
    with pytest.raises(FatalError, match="ResourceNotFound"):
        logger.flush()
    with pytest.raises(FatalError, match="ResourceNotFound"):
        logger.finalize("success")


def test_failed_finalize_does_not_mask_the_training_error(table, caplog):
    logger = make_logger()
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.flush()
    client("dynamodb").delete_table(TableName=table)
    logger.finalize("failed")  # logs instead of raising over the training's own exception
    assert "not all written" in caplog.text


def test_missing_table_is_a_fatal_error_naming_it(aws):
    with pytest.raises(FatalError, match="'no-such-table'.*does not exist"):
        DynamoDBLogger("no-such-table", "job-1").log_metrics({"loss": 1.0}, step=0)


def test_other_ranks_write_nothing(table, monkeypatch):
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = make_logger()
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.log_event("x", "y")
    logger.finalize("success")
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    assert MetricsReader(table).run_record("job-1") is None


def test_run_details_text_and_plot(table, tmp_path):
    run_attempt(1, range(0, 12), 10, interrupted=False)
    text = format_run_details("job-1", table, n_events=3)
    assert "status COMPLETED" in text and "attempt 1" in text
    assert "train_loss  11001" in text and "val_f1" in text
    assert "last 3 events:" in text and "finished" in text.splitlines()[-1]
    assert "no record" in format_run_details("nope", table)
    from receipt_lightning.training.loggers.dynamodb.plot import plot_run

    out = plot_run("job-1", table, tmp_path / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_logger_pickles_without_its_thread(table):
    import pickle

    logger = make_logger()
    logger.log_metrics({"loss": 1.0}, step=0)
    copy = pickle.loads(pickle.dumps(logger))
    assert copy._experiment is None and copy.version == "job-1"
    logger.finalize("success")
