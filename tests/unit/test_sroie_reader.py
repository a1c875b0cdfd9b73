"""SROIE reader: rows -> words with boxes, reading order, bad input, the fixed split."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from receipt_lightning.data.sroie import (
    list_sroie_ids,
    load_sroie,
    reading_order,
    split_words,
    sroie_fold,
    sroie_split,
)
from receipt_lightning.errors import InputError

KEY = {"company": "ACME SDN BHD", "date": "25/12/2018", "address": "NO 1, JALAN SATU", "total": "9.00"}


def make_sroie(root: Path, rid: str, rows: list[str] | bytes, key: dict | None = KEY) -> Path:
    (root / "box").mkdir(parents=True, exist_ok=True)
    (root / "key").mkdir(parents=True, exist_ok=True)
    data = rows if isinstance(rows, bytes) else ("\n".join(rows) + "\n").encode()
    (root / "box" / f"{rid}.csv").write_bytes(data)
    if key is not None:
        (root / "key" / f"{rid}.json").write_text(json.dumps(key))
    return root


def row(x0: int, y0: int, x1: int, y1: int, text: str) -> str:
    return f"{x0},{y0},{x1},{y0},{x1},{y1},{x0},{y1},{text}"


def test_commas_in_text_and_word_boxes(tmp_path):
    make_sroie(tmp_path, "001", [row(0, 0, 180, 20, "NO 1, JALAN SATU")])
    (receipt,) = load_sroie(tmp_path, label=False)
    assert receipt.words == ["NO", "1,", "JALAN", "SATU"]
    # 16 characters over 180 px: "JALAN" spans characters 6..11.
    assert receipt.boxes[2] == (68, 0, 124, 20)
    assert receipt.fields == KEY
    assert receipt.width == 190 and receipt.height == 30


def test_split_words_boxes_are_ordered_and_inside_the_line():
    words = split_words((10, 5, 110, 25), "  A BB   CCC ")
    assert [w for w, _ in words] == ["A", "BB", "CCC"]
    for _, (x0, y0, x1, y1) in words:
        assert 10 <= x0 <= x1 <= 110 and (y0, y1) == (5, 25)


def test_reading_order_sorts_rows_top_to_bottom_then_left_to_right():
    rows = [
        ((300, 100, 350, 120), "9.00"),  # listed last in the file, but on the TOTAL line
        ((10, 10, 100, 30), "SHOP"),
        ((10, 102, 100, 121), "TOTAL:"),
        ((10, 50, 100, 70), "DATE"),
    ]
    assert reading_order(rows) == [1, 3, 2, 0]


def test_malformed_rows_are_skipped_with_one_warning(tmp_path, caplog):
    rows = [
        row(0, 0, 100, 20, "SHOP"),
        "1,2,3",
        "a,b,c,d,e,f,g,h,TEXT",
        "",
        row(0, 30, 100, 50, "TOTAL 9.00"),
    ]
    make_sroie(tmp_path, "002", rows)
    with caplog.at_level(logging.WARNING):
        (receipt,) = load_sroie(tmp_path, label=False)
    assert receipt.words == ["SHOP", "TOTAL", "9.00"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "002.csv" in warnings[0] and "2 malformed" in warnings[0] and "lines 2, 3" in warnings[0]


def test_undecodable_bytes_are_replaced_with_a_warning(tmp_path, caplog):
    make_sroie(tmp_path, "003", row(0, 0, 100, 20, "CAF").encode() + b"\xe9 SHOP\n")
    with caplog.at_level(logging.WARNING):
        (receipt,) = load_sroie(tmp_path, label=False)
    assert receipt.words == ["CAF\ufffd", "SHOP"]
    assert any("003.csv" in r.getMessage() and "undecodable" in r.getMessage() for r in caplog.records)


def test_missing_key_file_raises_when_labelling_and_is_allowed_otherwise(tmp_path):
    make_sroie(tmp_path, "004", [row(0, 0, 100, 20, "SHOP")], key=None)
    with pytest.raises(InputError, match=r"004\.json"):
        load_sroie(tmp_path)
    (receipt,) = load_sroie(tmp_path, label=False)
    assert receipt.fields is None and receipt.labels is None


def test_bad_key_json_names_the_file(tmp_path):
    make_sroie(tmp_path, "005", [row(0, 0, 100, 20, "SHOP")])
    (tmp_path / "key" / "005.json").write_text("{not json")
    with pytest.raises(InputError, match=r"005\.json:1"):
        load_sroie(tmp_path)


def test_empty_receipt_is_skipped_with_a_warning(tmp_path, caplog):
    make_sroie(tmp_path, "006", ["", row(0, 0, 100, 20, "   ")])
    make_sroie(tmp_path, "007", [row(0, 0, 100, 20, "ACME SDN BHD")])
    with caplog.at_level(logging.WARNING):
        receipts = load_sroie(tmp_path)
    assert [r.id for r in receipts] == ["007"]
    assert any("006.csv" in r.getMessage() and "no words" in r.getMessage() for r in caplog.records)


def test_list_ids_and_labels(tmp_path):
    make_sroie(tmp_path, "010", [row(0, 0, 100, 20, "ACME SDN BHD")])
    make_sroie(tmp_path, "009", [row(0, 0, 100, 20, "OTHER")])
    assert list_sroie_ids(tmp_path) == ["009", "010"]
    receipt = load_sroie(tmp_path, ["010"])[0]
    assert receipt.labels == ["B-company", "I-company", "I-company"]
    with pytest.raises(InputError, match="no box/"):
        list_sroie_ids(tmp_path / "box")


def test_split_is_fixed_and_disjoint():
    ids = [f"{i:03d}" for i in range(200)]
    train, val = sroie_split(ids, 0.2)
    assert len(val) == 40 and not set(train) & set(val) and sorted(train + val) == ids
    assert sroie_split(list(reversed(ids)), 0.2) == (train, val)
    with pytest.raises(InputError):
        sroie_split(ids, 1.5)


def test_development_folds_never_read_validation_and_cv_folds_cover_every_receipt():
    ids = [f"{i:03d}" for i in range(501)]
    _, val = sroie_split(ids, 0.2)
    dev = [sroie_fold(ids, k) for k in range(1, 6)]
    assert [len(d) for _, d in dev] == [80, 80, 80, 80, 81]
    assert sorted(i for _, d in dev for i in d) == sorted(set(ids) - set(val))
    assert all(not set(t) & set(val) and not set(t) & set(d) for t, d in dev)
    assert sroie_fold(ids, True) == dev[0]
    # val_fraction=0 (the final fit): five folds of all receipts, each trained on the other four.
    cv = [sroie_fold(ids, k, val_fraction=0.0) for k in range(1, 6)]
    assert [len(d) for _, d in cv] == [100, 100, 100, 100, 101]
    assert sorted(i for _, d in cv for i in d) == ids
    assert all(sorted(t + d) == ids for t, d in cv)
    assert sroie_fold(ids, False, val_fraction=0.0) == (ids, [])
    for bad in (0.5, 6, -1):
        with pytest.raises(InputError, match="dev_fold"):
            sroie_fold(ids, bad, val_fraction=0.0)
