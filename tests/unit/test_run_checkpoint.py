"""Which runs are final fits (trained on every receipt): ``predict --split val|dev|cv`` warns
before scoring such a model on receipts it trained on."""

from __future__ import annotations

import json

import pytest

from receipt_lightning.run_checkpoint import is_final_fit


@pytest.mark.parametrize(("summary", "expected"), [
    ({"validated": False}, True),
    ({"validated": True}, False),
    ({}, False),  # a run from before the flag: no claim either way
    (None, False),  # no summary.json
])  # fmt: skip
def test_a_final_fit_is_known_from_its_run_directory_or_a_checkpoint_in_it(tmp_path, summary, expected):
    run = tmp_path / "runs" / "r"
    (run / "checkpoints").mkdir(parents=True)
    ckpt = run / "checkpoints" / "step-00000010.ckpt"
    ckpt.write_bytes(b"x")
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    assert is_final_fit(run) is expected
    assert is_final_fit(ckpt) is expected


def test_a_checkpoint_outside_a_run_directory_or_an_unreadable_summary_is_no_final_fit(tmp_path):
    loose = tmp_path / "model.ckpt"
    loose.write_bytes(b"x")
    assert is_final_fit(loose) is False
    (tmp_path / "summary.json").write_text("{not json")
    assert is_final_fit(tmp_path) is False
