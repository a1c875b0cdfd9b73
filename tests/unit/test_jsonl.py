"""JSON Lines receipts: round trip, page-size and line inference, and every bad-input case."""

from __future__ import annotations

import json
import logging

import pytest

from receipt_lightning.data.jsonl import infer_fields, infer_line_ids, load_jsonl, write_jsonl
from receipt_lightning.data.synthetic.generator import generate_receipts
from receipt_lightning.errors import InputError
from receipt_lightning.receipt import SROIE_FIELDS

GOOD = {
    "id": "r1",
    "words": ["SHOP", "SDN", "BHD", "TOTAL", "9.00"],
    "bboxes": [[10, 10, 50, 20], [55, 10, 80, 20], [85, 10, 110, 20], [10, 40, 60, 50], [300, 40, 340, 50]],
    "labels": ["B-company", "I-company", "I-company", "O", "B-total"],
    "width": 400,
    "height": 900,
}


def write_lines(tmp_path, *rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def with_(**changes):
    row = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is None:
            row.pop(key)
        else:
            row[key] = value
    return row


def test_round_trip_of_synthetic_receipts(tmp_path):
    receipts = generate_receipts(15, seed=4)
    path = tmp_path / "out" / "receipts.jsonl"
    write_jsonl(receipts, path)
    assert [p.name for p in path.parent.iterdir()] == ["receipts.jsonl"]  # no temporary file left
    loaded = load_jsonl(path, fields=SROIE_FIELDS)
    assert len(loaded) == 15
    for a, b in zip(receipts, loaded, strict=True):
        for key in ("id", "words", "boxes", "width", "height", "labels", "line_ids", "fields"):
            assert getattr(a, key) == getattr(b, key), key
        assert b.source.startswith(f"{path}:")
    assert infer_fields(loaded) == ["company", "address", "date", "total"]
    assert load_jsonl(path) == loaded  # fields=None accepts the same labels


def test_minimal_line_blank_lines_and_inferred_values(tmp_path):
    row = {
        "id": "a",
        "words": ["HELLO", "WORLD", "NEXT"],
        "bboxes": [[0, 0, 10, 10], [12, 1, 20, 9], [0, 20, 8, 30]],
    }
    path = write_lines(tmp_path, "", json.dumps(row), "   ")
    (r,) = load_jsonl(path)
    assert (r.width, r.height) == (1000, 1000)  # every coordinate <= 1000: already normalised
    assert r.labels is None and r.fields is None
    assert r.line_ids == [0, 0, 1]
    assert r.source == f"{path}:2"


def test_page_size_from_largest_coordinate(tmp_path):
    row = with_(width=None, height=None, bboxes=[[10, 10, 50, 20]] * 4 + [[300, 1400, 340, 1420.4]])
    (r,) = load_jsonl(write_lines(tmp_path, row))
    assert (r.width, r.height) == (340, 1420)
    only_height = with_(height=None, bboxes=[[10, 10, 50, 20]] * 4 + [[300, 1400, 340, 1420]])
    (r,) = load_jsonl(write_lines(tmp_path, only_height))
    assert (r.width, r.height) == (400, 1420)


def test_boxes_outside_the_page_are_clamped_with_one_warning(tmp_path, caplog):
    row = with_(
        bboxes=[[-5, 10, 50, 20], [55, 10, 80, 20], [85, 10, 110, 20], [10, 40, 60, 950], [300, 40, 420, 50]]
    )
    path = write_lines(tmp_path, row, with_(id="r2", bboxes=row["bboxes"]))
    with caplog.at_level(logging.WARNING, logger="receipt_lightning.data.jsonl"):
        receipts = load_jsonl(path)
    assert receipts[0].boxes[0] == (0, 10, 50, 20)
    assert receipts[0].boxes[3] == (10, 40, 60, 900)
    assert receipts[0].boxes[4] == (300, 40, 400, 50)
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1 and "clamped 6 box" in warnings[0] and str(path) in warnings[0]


def test_fields_restrict_labels_and_values(tmp_path):
    row = with_(fields={"company": "SHOP SDN BHD", "total": "9.00", "cashier": "ANN"})
    (r,) = load_jsonl(write_lines(tmp_path, row), fields=["company", "total"])
    assert r.fields == {"company": "SHOP SDN BHD", "total": "9.00"}
    (r,) = load_jsonl(write_lines(tmp_path, row))
    assert r.fields["cashier"] == "ANN"


def test_infer_fields_in_order_of_first_appearance(tmp_path):
    a = with_(labels=["O", "O", "O", "O", "B-total"])
    b = with_(id="b", labels=["B-company", "I-company", "O", "B-date", "I-date"])
    receipts = load_jsonl(write_lines(tmp_path, a, b))
    assert infer_fields(receipts) == ["total", "company", "date"]


def test_infer_line_ids_breaks_on_vertical_move_or_return_left():
    boxes = [(10, 10, 20, 20), (30, 11, 40, 21), (50, 30, 60, 40), (5, 31, 9, 41), (20, 31, 30, 41)]
    assert infer_line_ids(boxes) == [0, 0, 1, 2, 2]


BAD_CASES = [
    ("not json", "{oops", "invalid JSON"),
    ("not an object", "[1, 2]", "expected a JSON object, got list"),
    ("missing id", with_(id=None), "missing key 'id'"),
    ("missing words", with_(words=None), "missing key 'words'"),
    ("missing bboxes", with_(bboxes=None), "missing key 'bboxes'"),
    ("id type", with_(id=7), "'id' must be a non-empty string"),
    ("words type", with_(words="SHOP"), "'words' must be a list of strings"),
    ("word type", with_(words=["SHOP", "SDN", 3, "TOTAL", "9.00"]), "word 2: expected a non-blank string"),
    ("blank word", with_(words=["SHOP", "SDN", " ", "TOTAL", "9.00"]), "word 2: expected a non-blank string"),
    ("no words", with_(words=[], bboxes=[], labels=[]), "has no words"),
    ("length mismatch", with_(bboxes=GOOD["bboxes"][:4]), "5 words but 'bboxes' is 4"),
    ("bbox 3 numbers", with_(bboxes=[[1, 2, 3]] + GOOD["bboxes"][1:]), "word 0: bbox must be 4 numbers"),
    ("bbox strings", with_(bboxes=[["1", 2, 3, 4]] + GOOD["bboxes"][1:]), "word 0: bbox must be 4 numbers"),
    ("bbox inverted", with_(bboxes=GOOD["bboxes"][:4] + [[340, 40, 300, 50]]), "word 4: bbox"),
    ("width type", with_(width="wide"), "'width' must be a positive number"),
    ("height zero", with_(height=0), "'height' must be a positive number"),
    ("labels length", with_(labels=["O"]), "5 words but 1 labels"),
    ("labels type", with_(labels="O"), "'labels' must be a list of str"),
    ("label not bio", with_(labels=["O", "O", "O", "O", "TOTAL"]), "word 4 ('9.00') has label 'TOTAL'"),
    ("line_ids type", with_(line_ids=[0, 0, 0, "1", 1]), "'line_ids' must be a list of int"),
    ("line_ids length", with_(line_ids=[0, 0]), "5 words but 2 line_ids"),
    ("fields type", with_(fields={"total": 9.0}), "'fields' must be an object of strings"),
]


@pytest.mark.parametrize(("row", "message"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_input_names_file_and_line(tmp_path, row, message):
    path = write_lines(tmp_path, GOOD, "", row)
    with pytest.raises(InputError) as info:
        load_jsonl(path)
    text = str(info.value)
    assert text.startswith(f"{path}:3: ") and message in text, text
    assert "\n" not in text
    assert info.value.line == 3 and info.value.source == str(path)


def test_label_outside_the_field_label_set(tmp_path):
    path = write_lines(tmp_path, with_(labels=["B-company", "I-company", "I-company", "O", "B-vendor"]))
    with pytest.raises(InputError, match=rf"^{path}:1: .*word 4 .*'B-vendor'"):
        load_jsonl(path, fields=SROIE_FIELDS)
    assert load_jsonl(path)[0].labels[4] == "B-vendor"  # any BIO tag without a field list


def test_duplicate_id(tmp_path):
    path = write_lines(tmp_path, GOOD, GOOD)
    with pytest.raises(InputError, match=rf"^{path}:2: duplicate id 'r1' \(first on line 1\)"):
        load_jsonl(path)


def test_missing_empty_and_undecodable_files(tmp_path):
    with pytest.raises(InputError, match="cannot read receipts file"):
        load_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="no receipts in file"):
        load_jsonl(write_lines(tmp_path, "", ""))
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"id": "\xe9"}\n')
    with pytest.raises(InputError, match=rf"^{path}:2: not UTF-8"):
        load_jsonl(path)
