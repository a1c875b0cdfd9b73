"""Weak labelling on hand-made receipts: spacing/punctuation, multi-line fields, totals, dates."""

from __future__ import annotations

from receipt_lightning.fields.decoding import decode_fields, gold_word_probs
from receipt_lightning.fields.text_match import best_substring, edit_distance, parse_amount, relaxed, squash
from receipt_lightning.fields.weak_label import weak_label
from receipt_lightning.receipt import SROIE_FIELDS, Receipt, bio_label_list


def make_receipt(lines: list[str | tuple[str, int]], fields: dict[str, str]) -> Receipt:
    """One OCR line per entry; ``(text, row)`` puts a line on visual row ``row`` (right column)."""
    words, boxes, line_ids = [], [], []
    row = 0
    for line_no, entry in enumerate(lines):
        text, row = (entry, row + 1) if isinstance(entry, str) else entry
        x = 0 if isinstance(entry, str) else 300
        for w in text.split():
            words.append(w)
            boxes.append((x, row * 30, x + 10 * len(w), row * 30 + 20))
            line_ids.append(line_no)
            x += 10 * len(w) + 10
    return Receipt(
        id="t", words=words, boxes=boxes, width=600, height=30 * (row + 2), line_ids=line_ids, fields=fields
    )


def roundtrip(receipt: Receipt) -> dict[str, str]:
    labels = bio_label_list(SROIE_FIELDS)
    receipt.labels = weak_label(receipt, SROIE_FIELDS)
    return decode_fields(receipt, gold_word_probs(receipt.labels, labels), labels)


def tagged(receipt: Receipt, field: str) -> list[str]:
    return [w for w, t in zip(receipt.words, receipt.labels or [], strict=True) if t.endswith(field)]


def test_multiline_address_with_spacing_and_punctuation_differences():
    receipt = make_receipt(
        [
            "ACME TRADING",
            "SDN BHD",
            "NO.53 55,57 & 59, JALAN SAGU 18,",
            "TAMAN DAYA,",
            "81100 JOHOR BAHRU ,",
            "JOHOR.",
            "TEL 07-1234",
        ],
        {
            "company": "ACME TRADING SDN BHD",
            "address": "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR.",
        },
    )
    out = roundtrip(receipt)
    assert out["company"] == "ACME TRADING SDN BHD"
    # The lone "," OCR split off "BAHRU" is glued back; the key's lines are joined with spaces.
    assert out["address"] == "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR."
    assert receipt.labels[receipt.words.index("NO.53")] == "B-address"
    assert "TEL" not in tagged(receipt, "address")


def test_address_differing_only_in_spaces_and_commas_is_still_labelled():
    receipt = make_receipt(
        ["SHOP", "27,JALAN DEDAP 13, TAMAN JOHOR JAYA.", "81100 JOHOR BAHRU,JOHOR"],
        {"address": "27, JALAN DEDAP 13, TAMAN JOHOR JAYA, 81100 JOHOR BAHRU, JOHOR"},
    )
    roundtrip(receipt)
    assert (
        tagged(receipt, "address") == "27,JALAN DEDAP 13, TAMAN JOHOR JAYA. 81100 JOHOR BAHRU,JOHOR".split()
    )


def test_fuzzy_match_survives_ocr_errors_but_not_a_different_text():
    receipt = make_receipt(
        ["B00K TA .K(TAMAN DAYA) SDN BND", "CASH BILL"], {"company": "BOOK TA .K (TAMAN DAYA) SDN BHD"}
    )
    roundtrip(receipt)
    assert tagged(receipt, "company") == "B00K TA .K(TAMAN DAYA) SDN BND".split()
    other = make_receipt(["HELLO WORLD", "CASH BILL"], {"company": "BOOK TA .K (TAMAN DAYA) SDN BHD"})
    assert set(roundtrip_labels(other)) == {"O"}


def roundtrip_labels(receipt: Receipt) -> list[str]:
    return weak_label(receipt, SROIE_FIELDS)


def test_total_prefers_total_line_over_subtotal_and_cash():
    receipt = make_receipt(
        ["ITEM A 9.00", "SUBTOTAL", ("9.00", 2), "CASH", ("9.00", 3), "ROUNDED TOTAL (RM):", ("9.00", 4)],
        {"total": "9.00"},
    )
    assert roundtrip(receipt)["total"] == "9.00"
    labelled = [i for i, t in enumerate(receipt.labels) if t == "B-total"]
    assert labelled == [len(receipt.words) - 1]  # only the amount on the ROUNDED TOTAL row


def test_every_total_line_with_the_amount_is_labelled_and_the_last_wins_ties():
    receipt = make_receipt(
        ["TOTAL", ("9.00", 1), "NETT TOTAL", ("9.00", 2), "CHANGE", ("0.00", 3)], {"total": "9.00"}
    )
    roundtrip(receipt)
    assert receipt.labels.count("B-total") == 2
    assert weak_label(receipt, SROIE_FIELDS, all_totals=False).count("B-total") == 1


def test_total_written_with_currency_forms():
    glued = make_receipt(["TOTAL RM9.00"], {"total": "9.00"})
    assert roundtrip(glued)["total"] == "RM9.00"  # keys keep a printed prefix (training split)
    glued_key = make_receipt(["TOTAL RM9.00"], {"total": "RM9.00"})
    assert roundtrip(glued_key)["total"] == "RM9.00"
    spaced = make_receipt(["TOTAL RM 9.00"], {"total": "RM 9.00"})
    assert roundtrip(spaced)["total"] == "RM 9.00" and tagged(spaced, "total") == ["RM", "9.00"]
    plain = make_receipt(["TOTAL RM 9.00"], {"total": "9.00"})
    assert roundtrip(plain)["total"] == "9.00" and tagged(plain, "total") == ["9.00"]
    short = make_receipt(["TOTAL: 9.0"], {"total": "9.00"})
    assert tagged_after(short, "total") == ["9.0"]


def tagged_after(receipt: Receipt, field: str) -> list[str]:
    receipt.labels = weak_label(receipt, SROIE_FIELDS)
    return tagged(receipt, field)


def test_glued_date_is_labelled_whole_and_cut_by_decoding():
    receipt = make_receipt(["INV 12/11/2018 SALE", "DATE:25/12/2018 8:13:39 PM"], {"date": "25/12/2018"})
    assert roundtrip(receipt)["date"] == "25/12/2018"
    assert tagged(receipt, "date") == ["DATE:25/12/2018"]


def test_date_in_the_keys_form_is_preferred():
    receipt = make_receipt(["25-12-18 SALE", "DATE 25/12/2018", "10 MAR 2018"], {"date": "25/12/2018"})
    assert roundtrip(receipt)["date"] == "25/12/2018"
    words = make_receipt(["PRINTED 10 MAR 2018 18:24"], {"date": "10 MAR 2018"})
    assert roundtrip(words)["date"] == "10 MAR 2018"
    other_form = make_receipt(["DATE 04/03/2018"], {"date": "20180304"})
    assert tagged_after(other_form, "date") == ["04/03/2018"]  # same day, labelled for the model


def test_fields_never_overlap_and_empty_keys_label_nothing():
    receipt = make_receipt(
        ["SHOP 9.00", "TOTAL 9.00"], {"company": "SHOP 9.00", "total": "9.00", "address": ""}
    )
    labels = weak_label(receipt, SROIE_FIELDS)
    assert labels.count("B-total") == 1 and "address" not in " ".join(labels)


def test_text_helpers():
    assert squash(" a b\tc ") == "ABC" and relaxed("No. 5, Jln") == "NO5JLN"
    assert parse_amount("RM1,234.50") == parse_amount("1234.5") and parse_amount("9 x 2.00") is None
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3
    start, end, cost = best_substring("XXJALAN SATUYY", "JALAN SATV")
    assert (start, cost) == (2, 1) and end in (11, 12)  # "JALAN SAT" (V deleted) ties "JALAN SATU"
