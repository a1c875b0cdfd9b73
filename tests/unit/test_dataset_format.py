"""One rule for a dataset's format (``data.sources.detect_source``), used by ``predict`` and by
the worker's admission. They used to differ: admission took a JSONL folder only with
``train.jsonl`` and predict any ``*.jsonl``; admission took ``box/`` without ``key/``, which the
trainer then failed on. Now both detect the same format, and admission also checks what
training reads (both splits, SROIE labels), refusing the job before a trainer starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from receipt_lightning.data.sources import detect_source
from receipt_lightning.errors import InputError
from receipt_lightning.jobs.admission import detect_format
from receipt_lightning.jobs.messages import PoisonMessage


def make(root: Path, *paths: str) -> Path:
    root.mkdir(parents=True)
    for p in paths:
        if p.endswith("/"):
            (root / p).mkdir()
        else:
            (root / p).write_text("")
    return root


# (layout, format both callers see, what admission says is missing or None when it admits it)
CASES = {
    "sroie": (("box/", "key/", "img/"), "sroie", None),
    "sroie_unlabelled": (("box/",), "sroie", "no key/"),
    "scans": (("img/", "key/"), "sroie_images", None),  # OCR'd by the worker (data=sroie_images)
    "scans_unlabelled": (("img/",), "sroie_images", "img/ but no key/"),
    "sroie_and_jsonl": (("box/", "key/", "train.jsonl"), "sroie", None),  # box/ decides first
    "jsonl_train_val": (("train.jsonl", "val.jsonl"), "jsonl", None),
    "jsonl_train_validation": (("train.jsonl", "validation.jsonl"), "jsonl", None),
    "jsonl_train_only": (("train.jsonl",), "jsonl", "no val.jsonl or validation.jsonl"),
    "jsonl_other_names": (("receipts.jsonl",), "jsonl", "no train.jsonl"),
    "empty": ((), None, "not a dataset"),
    "wrong_files": (("train.csv", "key/"), None, "not a dataset"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_predict_and_admission_agree_on_the_format(tmp_path, case):
    layout, fmt, missing = CASES[case]
    root = make(tmp_path / case, *layout)
    if fmt is None:
        with pytest.raises(InputError, match="not a dataset"):
            detect_source(root)
    else:
        assert detect_source(root) == fmt  # what predict (load_receipts) reads
    if missing is None:
        assert detect_format(root) == fmt  # the worker admits it as the same format
    else:
        with pytest.raises(PoisonMessage, match=missing) as err:
            detect_format(root)
        assert str(root) in str(err.value)  # the message names the folder


def test_a_single_jsonl_file_is_jsonl(tmp_path):
    f = tmp_path / "receipts.jsonl"
    f.write_text("")
    assert detect_source(f) == "jsonl" and detect_source(f, splits=("train", "val")) == "jsonl"
    with pytest.raises(InputError, match="not a dataset"):
        detect_source(tmp_path / "receipts.csv")


def test_a_scans_dataset_is_admitted_as_data_sroie_images(tmp_path):
    """A job naming a folder of scans + keys trains data=sroie_images (OCR'd on the worker)."""
    from receipt_lightning.jobs.admission import dataset_overrides
    from receipt_lightning.jobs.messages import JobMessage

    make(tmp_path / "datasets" / "scans", "img/", "key/")
    msg = JobMessage(job_id="j1", overrides=[], dataset="scans")
    assert dataset_overrides(msg, tmp_path) == ["data=sroie_images", f"data.root={tmp_path / 'datasets' / 'scans'}"]
