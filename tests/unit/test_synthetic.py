"""The embedded synthetic receipt generator: deterministic, realistic, labels consistent."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from receipt_lightning.data.synthetic.generator import SYNTHETIC_FIELDS, bio_labels, generate_receipts
from receipt_lightning.errors import InputError
from receipt_lightning.receipt import SROIE_FIELDS, bio_label_list, check_labels


@pytest.fixture(scope="module")
def receipts():
    return generate_receipts(200, seed=7)


@pytest.fixture(scope="module")
def all_fields():
    return generate_receipts(100, seed=3, fields=SYNTHETIC_FIELDS)


def entities(receipt, field):
    """Word spans labelled `field` (B- starts one, I- continues it)."""
    spans, current = [], None
    for word, tag in zip(receipt.words, receipt.labels, strict=True):
        if tag == f"B-{field}":
            current = [word]
            spans.append(current)
        elif tag == f"I-{field}":
            assert current is not None, f"{receipt.id}: I-{field} without B-{field}"
            current.append(word)
        else:
            current = None
    return [" ".join(s) for s in spans]


def test_same_seed_same_receipts():
    a, b = generate_receipts(20, seed=11), generate_receipts(20, seed=11)
    assert a == b
    assert [r.id for r in a] == [f"synthetic-{i:06d}" for i in range(20)]


def test_prefix_of_longer_run_is_identical():
    assert generate_receipts(5, seed=11) == generate_receipts(12, seed=11)[:5]


def test_different_seed_different_receipts():
    a, b = generate_receipts(20, seed=1), generate_receipts(20, seed=2)
    assert [r.words for r in a] != [r.words for r in b]
    assert sum(x.fields == y.fields for x, y in zip(a, b, strict=True)) == 0


def test_does_not_touch_global_rng():
    import random

    random.seed(5)
    expected = random.random()
    random.seed(5)
    generate_receipts(3, seed=0)
    assert random.random() == expected


def test_each_receipt_well_formed(receipts):
    for r in receipts:
        assert r.source == "synthetic"
        assert 400 <= r.width <= 600 and r.height > 300
        assert len(r.words) == len(r.boxes) == len(r.labels) == len(r.line_ids) > 20
        assert all(w and not any(c.isspace() for c in w) for w in r.words)
        for x0, y0, x1, y1 in r.boxes:
            assert 0 <= x0 < x1 <= r.width and 0 <= y0 < y1 <= r.height
        assert r.line_ids[0] == 0
        assert all(0 <= b - a <= 1 for a, b in zip(r.line_ids, r.line_ids[1:], strict=False))
        check_labels(r, bio_label_list(SROIE_FIELDS))


def test_lines_read_top_to_bottom_left_to_right(receipts):
    for r in receipts:
        tops = {}
        for (x0, y0, _, y1), line in zip(r.boxes, r.line_ids, strict=True):
            tops.setdefault(line, []).append(((y0 + y1) / 2, x0))
        centres = [sum(c for c, _ in words) / len(words) for _, words in sorted(tops.items())]
        assert centres == sorted(centres), r.id
        for words in tops.values():
            assert [x for _, x in words] == sorted(x for _, x in words), r.id


@pytest.mark.parametrize("field", SYNTHETIC_FIELDS)
def test_labelled_words_spell_the_field_value(all_fields, field):
    present = 0
    for r in all_fields:
        spans = entities(r, field)
        if field in r.fields:
            present += 1
            assert spans == [r.fields[field]], (r.id, spans, r.fields[field])
        else:
            assert spans == []
    assert present >= (100 if field in SROIE_FIELDS else 30)


def test_only_requested_fields_are_labelled(receipts):
    # A total is one word ("9.00"), so "I-total" never occurs.
    assert {t for r in receipts for t in r.labels} == set(bio_label_list(SROIE_FIELDS)) - {"I-total"}
    assert all(set(r.fields) == set(SROIE_FIELDS) for r in receipts)
    only_total = generate_receipts(10, seed=7, fields=["total"])
    assert {t for r in only_total for t in r.labels} == {"O", "B-total"}
    assert [r.words for r in only_total] == [r.words for r in receipts[:10]]
    assert [r.fields for r in only_total] == [{"total": r.fields["total"]} for r in receipts[:10]]


def test_company_at_top_and_total_after_keyword(receipts):
    for r in receipts:
        assert r.labels[0] == "B-company"
        i = r.labels.index("B-total")
        line = [w for w, li in zip(r.words, r.line_ids, strict=True) if li == r.line_ids[i]]
        # The keyword itself may carry OCR noise ("T0TAL", "TO TAL").
        text = "".join(line).upper().replace("0", "O")
        assert re.search(r"TOTAL|DUE", text), (r.id, line)
        assert re.fullmatch(r"\d+\.\d\d", r.fields["total"])


def test_varied_merchants_and_date_formats(receipts):
    assert len({r.fields["company"] for r in receipts}) >= 120
    assert len({r.fields["address"] for r in receipts}) == len(receipts)
    shapes = Counter(re.sub(r"\d", "9", re.sub(r"[A-Z]{3}", "MON", r.fields["date"])) for r in receipts)
    assert len(shapes) >= 8, shapes
    assert any(" " in r.fields["date"] for r in receipts)  # "25 DEC 2018" spans several words
    assert any(len(r.fields["address"].split()) >= 8 for r in receipts)
    assert any(
        r.line_ids[r.labels.index("B-company")] != r.line_ids[len(entities(r, "company")[0].split()) - 1]
        for r in receipts
    )  # some company names wrap onto a second line


def test_distractors_present(all_fields):
    money = re.compile(r"^-?\d+\.\d\d$")
    differs = 0
    cash_above_total = 0
    for r in all_fields:
        text = " ".join(r.words)
        if "subtotal" in r.fields and r.fields["subtotal"] != r.fields["total"]:
            differs += 1
        total = float(r.fields["total"])
        amounts = [float(w) for w, t in zip(r.words, r.labels, strict=True) if t == "O" and money.match(w)]
        cash_above_total += any(a > total for a in amounts)
        assert "time" in r.fields and r.fields["time"] in text
    assert differs >= 30
    assert cash_above_total >= 60
    phones = sum("phone" in r.fields for r in all_fields)
    assert 50 <= phones < 100


def test_expiry_dates_are_not_labelled():
    found = 0
    for r in generate_receipts(150, seed=9):
        for i, word in enumerate(r.words):
            if word in ("EXPIRY:", "UNTIL", "EXP:", "BEFORE"):
                found += 1
                line = r.line_ids[i]
                assert all(t == "O" for t, li in zip(r.labels, r.line_ids, strict=True) if li == line)
    assert found >= 10


def test_ocr_noise_only_on_unlabelled_words(receipts):
    words = Counter(w for r in receipts for w, t in zip(r.words, r.labels, strict=True) if t == "O")
    noisy = [w for w in words if re.search(r"[a-z]", w) or re.search(r"[A-Z]0|0[A-Z]", w)]
    assert len(noisy) >= 20  # case noise, O/0 confusions ...
    assert words["THANK"] > words["THANKYOU"] > 0  # merged tokens, occasionally


def test_bio_labels_starts_new_entity_after_a_gap():
    labels, values = bio_labels(
        ["A", "B", "x", "C"], ["company", "company", None, "total"], ["company", "total"]
    )
    assert labels == ["B-company", "I-company", "O", "B-total"]
    assert values == {"company": "A B", "total": "C"}


def test_bad_arguments():
    with pytest.raises(InputError, match="cannot label field 'vendor'"):
        generate_receipts(1, seed=0, fields=["company", "vendor"])
    with pytest.raises(InputError, match="repeats"):
        generate_receipts(1, seed=0, fields=["total", "total"])
    with pytest.raises(InputError, match=">= 0"):
        generate_receipts(-1, seed=0)
    assert generate_receipts(0, seed=0) == []


def test_total_line_often_printed_double_height(receipts):
    tall = 0
    for r in receipts:
        heights = sorted(y1 - y0 for _, y0, _, y1 in r.boxes)
        _, y0, _, y1 = r.boxes[r.labels.index("B-total")]
        tall += (y1 - y0) > 1.5 * heights[len(heights) // 2]
    assert 0.4 * len(receipts) <= tall <= 0.8 * len(receipts)
