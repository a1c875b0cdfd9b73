"""The run contracts defined once in ``receipt_lightning.runs``: the checkpoint file name (and the
ModelCheckpoint template derived from it), run and job statuses, atomic writes, summary.json."""

from __future__ import annotations

import json
import os

import pytest

from receipt_lightning.jobs.attempt import resume_step
from receipt_lightning.runs import (
    CHECKPOINT_FILENAME_TEMPLATE,
    CHECKPOINT_SUFFIX,
    SUMMARY_FILE,
    TMP_PREFIX,
    JobStatus,
    RunStatus,
    checkpoint_name,
    checkpoint_step,
    read_summary,
    write_atomic,
    write_json_atomic,
)


def test_checkpoint_name_round_trips_and_rejects_other_names():
    assert checkpoint_name(3) == "step-00000003.ckpt"
    assert checkpoint_name(123_456_789) == "step-123456789.ckpt"  # more than 8 digits still parses
    for step in (0, 7, 99_999_999, 123_456_789):
        assert checkpoint_step(f"/runs/x/checkpoints/{checkpoint_name(step)}") == step
    # The reconciled rule is the strict one: the whole file name, 8+ digits, ".ckpt". The worker
    # used to search "step-(\d+)" anywhere, which also took sidecars and temporary files.
    for other in (
        "epoch=1-step=10.ckpt",  # Lightning's default name: not ours
        "step-00000003.ckpt.sha256",  # sidecar
        f"{TMP_PREFIX}step-00000003.ckpt.123.ab12cd34",  # a save in progress
        "step-3.ckpt",  # fewer than 8 digits
        "last.ckpt",
        "/runs/step-00000003.ckpt/other",  # the step is in a folder name, not the file's
    ):
        assert checkpoint_step(other) is None, other


def test_model_checkpoint_writes_the_contract_name(tmp_path):
    """Lightning formats the template (it appends the suffix) to exactly ``checkpoint_name``."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    mc = ModelCheckpoint(
        dirpath=tmp_path,
        filename=CHECKPOINT_FILENAME_TEMPLATE,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    assert mc.format_checkpoint_name({"step": 42, "epoch": 1}) == str(tmp_path / checkpoint_name(42))
    assert mc.FILE_EXTENSION == CHECKPOINT_SUFFIX


def test_worker_reads_the_resume_step_with_the_same_rule():
    assert resume_step({"resumed_from": "/r/checkpoints/" + checkpoint_name(40)}) == 40
    assert resume_step({"resumed_from": "/r/checkpoints/epoch=1-step=10.ckpt"}) is None
    assert resume_step({"resumed_from": None}) is None
    assert resume_step({"resume": {"checkpoint_step": 12}, "resumed_from": checkpoint_name(40)}) == 12


def test_statuses_are_their_stored_strings():
    # Values are what summary.json and the tables already hold: stored data is unchanged.
    assert [s.value for s in RunStatus] == ["RUNNING", "COMPLETED", "FAILED", "INTERRUPTED"]
    assert {s.value for s in JobStatus} == {
        "QUEUED", "RUNNING", "INTERRUPTED", "RETRYING", "COMPLETED", "FAILED", "REJECTED",
        "CANCEL_REQUESTED", "CANCELLED", "TIMED_OUT",  # fleet operations (issue 20)
    }  # fmt: skip
    for status in (RunStatus.INTERRUPTED, JobStatus.REJECTED):
        assert status == status.value and str(status) == status.value and f"{status}" == status.value
        assert f"{status:>12}" == f"{status.value:>12}"
        assert json.dumps({"status": status}) == json.dumps({"status": status.value})
    # A job status of the same name is the same string as the run status.
    assert JobStatus.COMPLETED == RunStatus.COMPLETED and JobStatus("FAILED") == RunStatus.FAILED
    assert {JobStatus.RUNNING: 1}["RUNNING"] == 1  # dict lookups by the stored string work


def test_lightning_finalize_statuses_map_to_ours():
    assert RunStatus.from_lightning("success") is RunStatus.COMPLETED
    assert RunStatus.from_lightning("failed") is RunStatus.FAILED
    assert RunStatus.from_lightning("finished") is RunStatus.INTERRUPTED  # requeue: resumed later
    assert RunStatus.from_lightning("something new") is RunStatus.FAILED  # never left RUNNING


def test_write_json_atomic_and_read_summary(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    assert read_summary(run_dir) is None
    write_json_atomic(run_dir / SUMMARY_FILE, {"status": RunStatus.COMPLETED, "b": 1, "a": float("nan")})
    assert read_summary(run_dir) == pytest.approx(
        {"status": "COMPLETED", "b": 1, "a": float("nan")}, nan_ok=True
    )
    assert os.listdir(run_dir) == [SUMMARY_FILE]  # no temporary file left
    (run_dir / SUMMARY_FILE).write_text("[1, 2]")
    assert read_summary(run_dir) is None  # not a summary object


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.bin"
    digest = write_atomic(path, lambda f: f.write(b"old"))
    assert path.read_bytes() == b"old" and len(digest) == 64

    def fail(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, fail)
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]  # the temporary file is gone too
