"""Decoding word probabilities into key strings, and its post-processing rules."""

from __future__ import annotations

import numpy as np
import pytest

from receipt_lightning.errors import InputError
from receipt_lightning.fields.decoding import decode_fields, gold_word_probs
from receipt_lightning.fields.lexicon import FieldLexicon
from receipt_lightning.fields.normalize import extract_date, extract_total, field_text
from receipt_lightning.fields.spans import (
    bridge_gaps,
    complete_lines,
    drop_stray_end_lines,
    field_spans,
    legal_name_lines,
    whole_address_first_line,
)
from receipt_lightning.receipt import SROIE_FIELDS, Receipt, bio_label_list

LABELS = bio_label_list(SROIE_FIELDS)


def receipt_of(words_by_line: list[list[str]]) -> Receipt:
    words, boxes, line_ids = [], [], []
    for line, ws in enumerate(words_by_line):
        for k, w in enumerate(ws):
            words.append(w)
            boxes.append((k * 50, line * 30, k * 50 + 40, line * 30 + 20))
            line_ids.append(line)
    return Receipt(id="r", words=words, boxes=boxes, width=500, height=500, line_ids=line_ids)


def probs_for(tags: list[str], confidence: list[float] | None = None) -> np.ndarray:
    """Rows putting ``confidence`` on the tag and the rest on "O" (or spread when the tag is O)."""
    out = np.zeros((len(tags), len(LABELS)))
    for i, tag in enumerate(tags):
        c = 1.0 if confidence is None else confidence[i]
        out[i, LABELS.index(tag)] = c
        out[i, 0 if tag != "O" else 1] += 1.0 - c
    return out


def test_address_across_lines_is_joined_in_reading_order():
    r = receipt_of(
        [["ACME", "SDN", "BHD"], ["NO", "5,", "JALAN", "SATU,"], ["81100", "JOHOR", "."], ["TEL", "123"]]
    )
    tags = ["B-company", "I-company", "I-company", "B-address", "I-address", "I-address", "I-address"]
    tags += ["I-address", "I-address", "I-address", "O", "O"]
    out = decode_fields(r, gold_word_probs(tags, LABELS), LABELS)
    assert out == {"company": "ACME SDN BHD", "address": "NO 5, JALAN SATU, 81100 JOHOR."}


def test_a_shop_name_before_the_address_is_left_out():
    """Seen on SROIE: a store-name line read as the start of the address. A second ``B-`` starts
    a new span, and of company/address spans the one with the most probability mass wins."""
    r = receipt_of([["IKEA", "CHERAS"], ["NO", "2A,", "JALAN"], ["55100", "KUALA", "LUMPUR"]])
    tags = ["B-address", "I-address", "B-address"] + ["I-address"] * 5
    conf = [0.9, 0.9] + [0.8] * 6
    assert decode_fields(r, probs_for(tags, conf), LABELS) == {"address": "NO 2A, JALAN 55100 KUALA LUMPUR"}
    # Without the second B- it is one span, shop name included.
    tags[2] = "I-address"
    assert decode_fields(r, probs_for(tags, conf), LABELS)["address"].startswith("IKEA CHERAS NO")


def test_an_address_takes_in_the_rest_of_its_first_and_last_line_when_they_lean_to_it():
    """Seen on SROIE: "NO" of "NO 16A, JALAN ..." left out; keys hold whole OCR lines."""
    r = receipt_of([["TEL", "123"], ["NO", "16A,", "JALAN", "ASTAKA"], ["40150", "SHAH", "ALAM", "TEL"]])
    tags = ["O", "O", "O", "B-address", "I-address", "I-address", "I-address", "I-address", "I-address", "O"]
    # "NO" gives the address 0.1 (its argmax is O): taken in. The last "TEL" gives 0.02: left out.
    conf = [1.0, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.98]
    probs = probs_for(tags, conf)
    probs[2, LABELS.index("B-address")] = 0.1
    assert decode_fields(r, probs, LABELS)["address"] == "NO 16A, JALAN ASTAKA 40150 SHAH ALAM"
    field_prob = probs[:, [LABELS.index("B-address"), LABELS.index("I-address")]].sum(axis=1)
    assert complete_lines((3, 9), field_prob, r.line_ids) == (2, 9)
    field_prob[9] = 0.06
    assert complete_lines((3, 9), field_prob, r.line_ids) == (2, 10)
    # The line before (TEL 123) is another line: never taken in; no line ids: span unchanged.
    field_prob[:2] = 1.0
    assert complete_lines((3, 9), field_prob, r.line_ids)[0] == 2
    assert complete_lines((3, 9), field_prob, None) == (3, 9)


def test_an_address_leaves_out_a_part_line_without_digits_at_either_end():
    """Seen out of fold on SROIE: the tail of the shop line before the address ("AIRPORT" of
    "BHPETROL SUBANG AIRPORT") and the head of a label line after it ("PREPAY" of "PREPAY CHIT
    NUMBER") read as address; keys hold whole lines."""
    r = receipt_of(
        [["BHPETROL", "SUBANG", "AIRPORT"], ["LOT", "1626,", "JALAN", "LAUT"], ["16200", "KELANTAN"],
         ["PREPAY", "CHIT", "NUMBER"]]
    )
    tags = ["O", "O", "B-address"] + ["I-address"] * 7 + ["O", "O"]
    probs = probs_for(tags, [1.0] * 12)
    assert decode_fields(r, probs, LABELS)["address"] == "LOT 1626, JALAN LAUT 16200 KELANTAN"
    assert drop_stray_end_lines((2, 10), r.line_ids, r.words) == (3, 9)
    # A part line with a digit is address ("HQ ADD:" | "LOT 11995, ...", "81750 JOHOR," | "TEL:").
    r2 = receipt_of([["HQ", "ADD:", "LOT", "5"], ["81750", "JOHOR,", "TEL:", "07-387"]])
    assert drop_stray_end_lines((2, 6), r2.line_ids, r2.words) == (2, 6)
    # A span on one line, or of whole lines, is left alone; so is one that would be emptied.
    assert drop_stray_end_lines((1, 2), r.line_ids, r.words) == (1, 2)
    assert drop_stray_end_lines((3, 9), r.line_ids, r.words) == (3, 9)
    assert drop_stray_end_lines((2, 10), None, r.words) == (2, 10)


def test_an_address_starting_inside_a_line_takes_in_its_start_up_to_a_label():
    """Seen out of fold on SROIE: "BLK" of "BLK 2, UNIT G1 & G2, ..." left out by the model."""
    r = receipt_of([["ACME", "SDN", "BHD"], ["BLK", "2,", "UNIT", "G1"], ["81300", "JOHOR"]])
    tags = ["B-company", "I-company", "I-company", "O", "B-address", "I-address", "I-address"]
    tags += ["I-address", "I-address"]
    probs = probs_for(tags, [1.0] * len(tags))
    assert decode_fields(r, probs, LABELS)["address"] == "BLK 2, UNIT G1 81300 JOHOR"
    assert whole_address_first_line((4, 9), r.line_ids, r.words) == (3, 9)
    # Never past a label ending in a colon, nor into the line above.
    r2 = receipt_of([["TEL", "123"], ["HQ", "ADD:", "LOT", "5,"], ["41400", "KLANG"]])
    assert whole_address_first_line((4, 8), r2.line_ids, r2.words) == (4, 8)
    assert whole_address_first_line((2, 8), r2.line_ids, r2.words) == (2, 8)
    assert whole_address_first_line((5, 8), r2.line_ids, r2.words) == (4, 8)


def test_company_drops_a_bracketed_registration_number():
    assert field_text("company", ["BROADVIEW", "SDN", "BHD(728384-M)"]) == "BROADVIEW SDN BHD"
    assert field_text("company", ["TF", "SDN", "BHD", "(482123-U)"]) == "TF SDN BHD"
    assert field_text("company", ["AEON", "CO.", "(M)", "BHD"]) == "AEON CO. (M) BHD"


def test_company_drops_a_till_number_before_and_a_bare_registration_number_after():
    # Both printed on the name's own OCR line; no SROIE company key holds either.
    assert field_text("company", ["#000002", "BAIFU", "(M)", "SDN", "BHD"]) == "BAIFU (M) SDN BHD"
    words = ["KING'S", "CONFECTIONERY", "S/B", "273500-U", "(KSB)"]
    assert field_text("company", words) == "KING'S CONFECTIONERY S/B"
    assert field_text("company", ["PERNIAGAAN", "ZHENG", "HUI", "JM0325955-V"]) == "PERNIAGAAN ZHENG HUI"
    # A name that starts with digits, a "#" inside, a number that is no registration: kept.
    assert field_text("company", ["99", "SPEED", "MART", "S/B"]) == "99 SPEED MART S/B"
    assert field_text("company", ["KEDAI", "#1", "SDN", "BHD"]) == "KEDAI #1 SDN BHD"
    assert field_text("company", ["7-ELEVEN", "MALAYSIA", "SDN", "BHD"]) == "7-ELEVEN MALAYSIA SDN BHD"
    assert field_text("company", ["#", "1", "CAFE"]) == "# 1 CAFE"


def test_company_drops_an_owner_label_glued_to_its_colon():
    """Keys drop "OWN BY:" and "DIMILIKI:" before a legal name; "DIMILIKI OLEH" without a colon
    of its own is kept, as the keys keep it."""
    assert field_text("company", ["OWN", "BY:", "CHEF", "LEE", "SDN", "BHD"]) == "CHEF LEE SDN BHD"
    assert field_text("company", ["DIMILIKI:", "BANH", "MI", "CAFE", "SDN", "BHD"]) == "BANH MI CAFE SDN BHD"
    assert field_text("company", ["OWNED", "BY:", "ACME", "SDN", "BHD"]) == "ACME SDN BHD"
    words = ["DIMILIKI", "OLEH", "T", "PLUS", "F&B", "SDN.", "BHD."]
    assert field_text("company", words) == "DIMILIKI OLEH T PLUS F&B SDN. BHD."
    assert field_text("company", ["32", "PUB", "OWN", "BY", "CNU", "TRADING"]) == "32 PUB OWN BY CNU TRADING"


def test_single_most_confident_total_and_date_spans():
    r = receipt_of([["SUBTOTAL", "8.00"], ["TOTAL", "RM9.00"], ["DATE:25/12/2018", "8:13"], ["01/01/2019"]])
    tags = ["O", "B-total", "O", "B-total", "B-date", "O", "B-date"]
    conf = [0.9, 0.55, 0.9, 0.8, 0.7, 0.9, 0.6]
    out = decode_fields(r, probs_for(tags, conf), LABELS)
    assert out == {"total": "RM9.00", "date": "25/12/2018"}


def test_fields_not_found_are_omitted_and_id2label_may_be_a_dict():
    r = receipt_of([["HELLO", "WORLD"]])
    id2label = dict(enumerate(LABELS))
    assert decode_fields(r, gold_word_probs(["O", "O"], LABELS), id2label) == {}
    assert decode_fields(
        r, gold_word_probs(["B-company", "O"], LABELS), {str(k): v for k, v in id2label.items()}
    ) == {"company": "HELLO"}


def test_bad_shapes_and_labels_raise_input_errors():
    r = receipt_of([["A", "B"]])
    with pytest.raises(InputError, match="2 words"):
        decode_fields(r, np.zeros((3, len(LABELS))), LABELS)
    with pytest.raises(InputError, match="label map"):
        decode_fields(r, np.zeros((2, 3)), LABELS)
    with pytest.raises(InputError, match="B-tip"):
        gold_word_probs(["B-tip", "O"], LABELS)


def test_a_short_uncertain_gap_inside_an_address_is_bridged():
    # Separate OCR lines, so completing a span's partial lines plays no part here.
    r = receipt_of([["NO", "5"], ["&"], ["7", "JALAN"], ["TEL", "123"]])
    tags = ["B-address", "I-address", "O", "I-address", "I-address", "O", "O"]
    conf = [0.9, 0.9, 0.7, 0.9, 0.9, 0.9, 0.9]  # "&": 0.3 on address, 0.7 on O
    probs = probs_for(tags, conf)
    probs[2] = 0.0
    probs[2, LABELS.index("O")], probs[2, LABELS.index("I-address")] = 0.7, 0.3
    assert decode_fields(r, probs, LABELS)["address"] == "NO 5 & 7 JALAN"
    probs[2, LABELS.index("O")], probs[2, LABELS.index("I-address")] = 0.95, 0.05
    assert decode_fields(r, probs, LABELS)["address"] == "NO 5"  # not bridged; equal runs -> the first
    assert bridge_gaps([(0, 2), (4, 6)], np.ones(6)) == [(0, 2), (4, 6)]  # two-word gap: kept apart


def test_field_spans_split_on_b():
    tags = ["B-total", "B-total", "I-total", "O", "B-address", "B-address"]
    assert field_spans(tags, "total") == [(0, 1), (1, 3)]
    assert field_spans(tags, "address") == [(4, 5), (5, 6)]
    # Adjacent runs are bridged unless the second starts with B-.
    assert bridge_gaps([(4, 5), (5, 6)], np.ones(6), [False] * 5 + [True]) == [(4, 5), (5, 6)]
    assert bridge_gaps([(4, 5), (5, 6)], np.ones(6)) == [(4, 6)]


def test_post_processing_rules():
    assert (
        field_text("address", ["BALAKONG", ",", "43300", "SERI", "KEMBANGAN", "."])
        == "BALAKONG, 43300 SERI KEMBANGAN."
    )
    assert field_text("company", ["MR", "D.I.Y.", "(M)", "SDN", "BHD"]) == "MR D.I.Y. (M) SDN BHD"
    # A postcode OCR glued to its town is spaced as the keys type it; other numbers are left alone.
    assert field_text("address", ["KEPONG,", "52100KL."]) == "KEPONG, 52100 KL."
    assert field_text("address", ["LOT", "PTD182908A,", "B12345X"]) == "LOT PTD182908A, B12345X"
    assert field_text("company", ["52100KL"]) == "52100KL"
    # No address key starts with a registration number or holds a phone number.
    assert field_text("address", "148481-U 425, JALAN PAHANG".split()) == "425, JALAN PAHANG"
    assert field_text("address", "81100 JOHOR 07-355 2616".split()) == "81100 JOHOR"
    assert field_text("address", "56000 KL, TEL: 03-1234 5678".split()) == "56000 KL"
    # ... also where OCR left a comma after the number, or an address label before the address.
    assert field_text("address", "KUALA SELANGOR. 03-3279 1851,".split()) == "KUALA SELANGOR."
    assert field_text("address", "HQ ADD: LOT 11995, BATU 2".split()) == "LOT 11995, BATU 2"
    assert field_text("address", "NO: G3, BLK G".split()) == "NO: G3, BLK G"
    assert (
        field_text("address", "LOT 1851-A, 41150 KLANG 1076-IJOK".split())
        == "LOT 1851-A, 41150 KLANG 1076-IJOK"
    )
    assert extract_date("DATE:25/12/2018") == "25/12/2018"
    assert extract_date("25/12/201808:13:39") == "25/12/2018"
    assert extract_date("10 MAR 2018 18:24") == "10 MAR 2018"
    assert extract_date("(12/01/2019)") == "(12/01/2019)"
    assert extract_date("20180304") == "20180304"
    # OCR of a scan glues the time to the date, or digits before it (seen out of fold on scans).
    assert extract_date("2018-01-0522:10") == "2018-01-05"
    assert extract_date("04-05-1812:50:51") == "04-05-18"
    assert extract_date("6001/06/2018") == "01/06/2018"
    assert extract_date("13/07/2017 10:22") == "13/07/2017"
    assert extract_total("TOTAL:RM9.00") == "RM9.00"
    assert extract_total("RM 9.00") == "RM 9.00" and extract_total("$7.10") == "$7.10"
    assert extract_total("7,838.80") == "7838.80" and extract_total("-1.73") == "-1.73"


def test_lexicon_rewrites_to_the_typists_spelling_and_leaves_one_out():
    keys = [{"address": "NO 290, JALAN AIR PANAS, KUALA LUMPUR."}] * 2 + [
        {"address": "NO 290, JALAN AIR PANAS. KUALA LUMPUR"}
    ]
    lex = FieldLexicon.from_keys(keys)
    assert (
        lex.snap("address", "NO 290, JALAN AIR PANAS, KUALA LUMPUR")
        == "NO 290, JALAN AIR PANAS, KUALA LUMPUR."
    )
    # A decoded value that is itself a known spelling is kept.
    assert (
        lex.snap("address", "NO 290, JALAN AIR PANAS. KUALA LUMPUR")
        == "NO 290, JALAN AIR PANAS. KUALA LUMPUR"
    )
    # One OCR error in 60 letters/digits is within the fuzzy budget (2 per 100); three are not.
    long_key = "LOT 1851-A & 1851-B, JALAN KPB 6, KAWASAN PERINDUSTRIAN BALAKONG, 43300 SERI KEMBANGAN"
    lex = FieldLexicon.from_keys([{"address": long_key}])
    assert lex.snap("address", long_key.replace("PERIND", "PERINO")) == long_key
    garbled = long_key.replace("KAWASAN", "KWANSAN").replace("BALAKONG", "BLANKONG")
    assert lex.snap("address", garbled) == garbled
    assert lex.snap("address", "NO 12, JALAN BESAR, IPOH") == "NO 12, JALAN BESAR, IPOH"
    # A shorter name (28 letters: 0.56 edits by the per-character budget) may still differ by one
    # misread letter, never by two.
    name = "GERBANG ALAF RESTAURANTS SDN BHD"
    names = FieldLexicon.from_keys([{"company": name}])
    assert names.snap("company", "GERPANG ALAF RESTAURANTS SDN BHD") == name
    assert names.snap("company", "GERPANG ALAF RESTAURANT5 SDN BHD") == "GERPANG ALAF RESTAURANT5 SDN BHD"
    short = FieldLexicon.from_keys([{"company": "ACME CO."}])
    assert short.snap("company", "ACMF CO") == "ACMF CO"  # under 12 letters: no fuzzy snap
    only = FieldLexicon.from_keys([{"company": "ACME CO."}])
    assert only.snap("company", "ACME CO", exclude={"company": "ACME CO."}) == "ACME CO"
    r = receipt_of([["ACME", "CO"]])
    assert decode_fields(r, gold_word_probs(["B-company", "I-company"], LABELS), LABELS, lexicon=only) == {
        "company": "ACME CO."
    }


def test_lexicon_save_load(tmp_path):
    lex = FieldLexicon.from_keys([{"company": "ACME CO."}])
    lex.save(tmp_path / "lex.json")
    assert FieldLexicon.load(tmp_path / "lex.json").snap("company", "ACME CO") == "ACME CO."
    (tmp_path / "bad.json").write_text("[")
    with pytest.raises(InputError, match="bad.json"):
        FieldLexicon.load(tmp_path / "bad.json")


def test_date_and_total_fall_back_to_their_most_probable_word():
    r = receipt_of([["ACME"], ["TOTAL", "9.00"], ["CASH", "10.00"], ["25/12/2018"]])
    probs = probs_for(["O"] * 6)
    total, date, address = LABELS.index("B-total"), LABELS.index("B-date"), LABELS.index("B-address")
    # Every word is "O", but "9.00" gives the total 0.3, "10.00" 0.15, "25/12/2018" the date 0.005.
    for row, col, p in ((2, total, 0.3), (4, total, 0.15), (5, date, 0.005), (0, address, 0.4)):
        probs[row] = 0.0
        probs[row, col], probs[row, 0] = p, 1.0 - p
    out = decode_fields(r, probs, LABELS)
    # The one whole date printed fills the date however improbable (date_rank); company/address
    # never fall back (a guess costs precision).
    assert out == {"total": "9.00", "date": "25/12/2018"}
    r.words[5] = "25/12"  # no whole date printed: the date falls back only above FALLBACK_MIN_PROB
    assert decode_fields(r, probs, LABELS) == {"total": "9.00"}
    probs[5, date], probs[5, 0] = 0.02, 0.98
    assert decode_fields(r, probs, LABELS)["date"] == "25/12"
    r.words[5] = "25/12/2018"
    # A word without a digit never falls back to a total, however probable ("RM", "TOTAL").
    probs[1], probs[2] = 0.0, 0.0
    probs[1, total], probs[1, 0] = 0.45, 0.55
    probs[2, total], probs[2, 0] = 0.3, 0.7
    assert decode_fields(r, probs, LABELS)["total"] == "9.00"


def test_a_total_span_without_a_digit_joins_the_amount_after_it_or_is_no_total():
    """Seen on SROIE: "RM" tagged B-total on its own, more confidently than the amount after it;
    right before the amount it is the key's "RM 27.00", anywhere else no total at all."""
    r = receipt_of([["TOTAL", "RM", "27.00"]])
    tags = ["O", "B-total", "B-total"]
    assert decode_fields(r, probs_for(tags, [0.9, 1.0, 0.87]), LABELS) == {"total": "RM 27.00"}
    r = receipt_of([["RM", "TOTAL", "27.00"]])
    assert decode_fields(r, probs_for(["B-total", "O", "B-total"], [1.0, 0.9, 0.87]), LABELS) == {
        "total": "27.00"
    }
    # Only date and total are numeric: a custom field's span needs no digit.
    labels = bio_label_list(["vendor"])
    r = receipt_of([["ACME", "STORE"]])
    assert decode_fields(r, gold_word_probs(["B-vendor", "I-vendor"], labels), labels) == {
        "vendor": "ACME STORE"
    }


def test_the_total_is_the_amount_the_model_and_its_printed_label_rank_first():
    """Seen on SROIE: the tagger leaning to the subtotal before tax, or the cash tendered, over the
    amount printed as TOTAL; the printed label (+1 TOTAL, -1 SUB TOTAL/CASH) outweighs a factor
    below e of probability, not a confident choice."""
    r = receipt_of([["SUB", "TOTAL", "90.00"], ["TOTAL", "RM", "99.90"], ["CASH", "100.00"]])
    tags = ["O", "O", "B-total", "O", "B-total", "I-total", "O", "O"]
    # The subtotal gives the total 0.6, the amount after TOTAL 0.45 ("RM" 0.55): reranked.
    out = decode_fields(r, probs_for(tags, [0.9, 0.9, 0.6, 0.9, 0.55, 0.45, 0.9, 0.9]), LABELS)
    assert out == {"total": "RM 99.90"}
    # A model sure of the subtotal (0.99 against 0.05) keeps it: ln(0.99) - 1 > ln(0.05) + 1.
    out = decode_fields(r, probs_for(tags, [0.9, 0.9, 0.99, 0.9, 0.05, 0.05, 0.9, 0.9]), LABELS)
    assert out == {"total": "90.00"}


def test_with_no_word_read_as_a_total_the_best_ranked_amount_in_cents_fills_it():
    r = receipt_of([["TABLE", "12"], ["TOTAL", "7.50"], ["CASH", "10.00"], ["CHANGE", "2.50"]])
    probs = probs_for(["O"] * 8)
    assert decode_fields(r, probs, LABELS) == {"total": "7.50"}
    # Integers (a table number, a year, a quantity) never fill it: every SROIE key total has cents.
    r = receipt_of([["TABLE", "12"], ["TOTAL", "2018"]])
    assert decode_fields(r, probs_for(["O"] * 4), LABELS) == {}
    # ... but the model's own span is kept whatever its form.
    assert decode_fields(r, probs_for(["O", "O", "O", "B-total"]), LABELS) == {"total": "2018"}


def test_a_total_not_rounded_to_5_sen_gives_way_to_its_rounding_when_the_receipt_prints_it():
    """Malaysian cash totals are rounded to 5 sen and the keys hold the amount paid."""
    r = receipt_of(
        [["TOTAL", "52.08"], ["ROUNDING", "0.02"], ["ROUNDED", "TOTAL", "52.10"], ["CASH", "60.00"]]
    )
    tags = ["O", "B-total", "O", "O", "O", "O", "O", "O", "O"]
    assert decode_fields(r, probs_for(tags, [0.9, 0.95, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]), LABELS) == {
        "total": "52.10"
    }
    # Not printed rounded (card payment): the amount stays; a 5-sen amount is never moved.
    r = receipt_of([["TOTAL", "52.08"], ["CASH", "60.00"]])
    assert decode_fields(r, probs_for(["O", "B-total", "O", "O"]), LABELS) == {"total": "52.08"}
    r = receipt_of([["TOTAL", "52.05"], ["OTHER", "52.00"]])
    assert decode_fields(r, probs_for(["O", "B-total", "O", "O"]), LABELS) == {"total": "52.05"}


def test_a_subtotal_before_tax_gives_way_to_the_total_with_it_when_the_receipt_prints_it():
    """Seen out of fold: 565.50 read as the total above GST 6% 33.93 and TOTAL 599.45."""
    r = receipt_of([["SUBTOTAL", "565.50"], ["GST", "6%", "33.93"], ["TOTAL", "599.45"], ["CASH", "600.00"]])
    tags = ["O", "B-total", "O", "O", "O", "O", "O", "O", "O"]
    probs = probs_for(tags, [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.6, 0.9, 0.9])
    assert decode_fields(r, probs, LABELS) == {"total": "599.45"}
    # 6 % above and rounded to 5 sen counts too; a cash line 6 % above never does, nor an
    # amount that is no 6 % above.
    r = receipt_of([["AMOUNT", "47.20"], ["NET", "TOTAL", "50.05"]])
    assert decode_fields(r, probs_for(["O", "B-total", "O", "O", "O"]), LABELS) == {"total": "50.05"}
    r = receipt_of([["AMOUNT", "141.50"], ["CASH", "150.00"]])
    assert decode_fields(r, probs_for(["O", "B-total", "O", "O"]), LABELS) == {"total": "141.50"}
    r = receipt_of([["AMOUNT", "141.50"], ["OTHER", "155.00"]])
    assert decode_fields(r, probs_for(["O", "B-total", "O", "O"]), LABELS) == {"total": "141.50"}


def test_the_amount_paid_including_gst_is_a_total_though_its_label_says_paid():
    """Seen out of fold (two receipts of one chain): "AMT PAID INCL. GST : RM78.30" under "AMT PAID
    EXCL. GST : RM 73.87"; "PAID" alone marks a payment line (cash, card)."""
    r = receipt_of(
        [["AMT", "PAID", "INCL.", "GST", ":", "RM78.30"], ["AMT", "PAID", "EXCL.", "GST", ":", "RM", "73.87"]]
    )
    tags = ["O"] * 5 + ["B-total"] + ["O"] * 5 + ["B-total", "I-total"]
    probs = probs_for(tags, [0.9] * 5 + [0.3] + [0.9] * 5 + [0.6, 0.6])
    assert decode_fields(r, probs, LABELS) == {"total": "RM78.30"}
    r = receipt_of([["PAID", "BY", "CARD", ":", "RM78.30"], ["AMT", "PAID", "EXCL.", "GST", ":", "RM", "73.87"]])
    tags = ["O"] * 4 + ["B-total"] + ["O"] * 5 + ["B-total", "I-total"]
    probs = probs_for(tags, [0.9] * 4 + [0.3] + [0.9] * 5 + [0.6, 0.6])
    assert decode_fields(r, probs, LABELS) == {"total": "RM 73.87"}


def test_rounding_to_5_sen_is_to_the_nearest():
    from receipt_lightning.fields.total_rank import rounded_cents

    assert [rounded_cents(c) for c in (5208, 5207, 5203, 5202, 5210, 0)] == [5210, 5205, 5205, 5200, 5210, 0]
    assert rounded_cents(-5188) == -5190


def test_a_company_or_address_of_a_known_store_read_a_line_off_takes_the_lines_that_spell_it():
    lexicon = FieldLexicon.from_keys(
        [{"company": "ACME SDN BHD", "address": "NO 2A, JALAN SATU, 55100 KUALA LUMPUR"}] * 2
    )
    r = receipt_of(
        [["IKEA", "CHERAS"], ["ACME", "SDN", "BHD"], ["NO", "2A,", "JALAN", "SATU,"], ["55100", "KUALA", "LUMPUR"],
         ["BRANCH", "7"]]
    )  # fmt: skip
    tags = ["B-company"] + ["I-company"] * 4 + ["B-address"] + ["I-address"] * 3
    tags += ["O"] * 5
    # The brand line taken into the company is dropped, the address's missing last line added.
    assert decode_fields(r, gold_word_probs(tags, LABELS), LABELS, lexicon=lexicon) == {
        "company": "ACME SDN BHD",
        "address": "NO 2A, JALAN SATU, 55100 KUALA LUMPUR",
    }
    # Without the lexicon, what the model tagged.
    assert decode_fields(r, gold_word_probs(tags, LABELS), LABELS)["address"] == "NO 2A, JALAN SATU,"
    # An address is never cut at its end to a known one: a chain's keys keep the branch line.
    tags = tags[:5] + ["B-address"] + ["I-address"] * 8
    out = decode_fields(r, gold_word_probs(tags, LABELS), LABELS, lexicon=lexicon)
    assert out["address"] == "NO 2A, JALAN SATU, 55100 KUALA LUMPUR BRANCH 7"
    # Its own key left out (a training receipt's bound), a store seen once is no known store.
    own = {"company": "ACME SDN BHD", "address": "NO 2A, JALAN SATU, 55100 KUALA LUMPUR"}
    single = FieldLexicon.from_keys([own])
    tags = ["B-company"] + ["I-company"] * 4 + ["B-address"] + ["I-address"] * 3 + ["O"] * 5
    out = decode_fields(r, gold_word_probs(tags, LABELS), LABELS, lexicon=single, exclude=own)
    assert out == {"company": "IKEA CHERAS ACME SDN BHD", "address": "NO 2A, JALAN SATU,"}


def test_a_company_over_a_brand_line_and_its_legal_name_keeps_the_legal_name():
    """Seen out of fold on SROIE: "OLD TOWN WHITE COFFEE" | "OLD TOWN KOPITIAM SDN BHD" read as
    one company, the key holding the legal name only; a unit line after it likewise."""
    r = receipt_of(
        [["OLD", "TOWN", "WHITE", "COFFEE"], ["OLD", "TOWN", "KOPITIAM", "SDN", "BHD"], ["L4-17", "(B),"],
         ["TOTAL", "5.00"]]
    )  # fmt: skip
    tags = ["B-company"] + ["I-company"] * 10 + ["O", "O"]
    assert decode_fields(r, gold_word_probs(tags, LABELS), LABELS)["company"] == "OLD TOWN KOPITIAM SDN BHD"
    assert legal_name_lines((0, 11), r.line_ids, r.words) == (4, 9)
    # A legal name wrapped over two lines stays whole: its second line continues the first
    # ("& TEA LEAF (M) SDN. BHD.") or holds one word besides its suffix ("ACME SDN BHD"); so
    # does a one-line span or one with no legal suffix.
    r = receipt_of([["THE", "COFFEE", "BEAN"], ["&", "TEA", "LEAF", "SDN.", "BHD."]])
    assert legal_name_lines((0, 8), r.line_ids, r.words) == (0, 8)
    r = receipt_of([["BIG", "BROWN"], ["ACME", "SDN", "BHD"]])
    assert legal_name_lines((0, 5), r.line_ids, r.words) == (0, 5)
    r = receipt_of([["BIG", "BROWN"], ["FOX", "ACME", "SDN", "BHD"]])
    assert legal_name_lines((0, 6), r.line_ids, r.words) == (2, 6)
    r = receipt_of([["KEDAI", "RUNCIT"], ["AH", "SENG"]])
    assert legal_name_lines((0, 4), r.line_ids, r.words) == (0, 4)
    assert legal_name_lines((0, 2), r.line_ids, r.words) == (0, 2)
    assert legal_name_lines((0, 4), None, r.words) == (0, 4)


def test_a_known_company_spelling_that_holds_its_brand_line_is_not_cut():
    """A store whose training keys hold the brand line too keeps it (the lexicon knows it)."""
    r = receipt_of([["TOKYO", "KITCHEN", "(CITTA", "MALL)"], ["TOKYO", "KITCHEN", "SDN", "BHD"]])
    tags = ["B-company"] + ["I-company"] * 7
    whole = "TOKYO KITCHEN (CITTA MALL) TOKYO KITCHEN SDN BHD"
    lexicon = FieldLexicon.from_keys([{"company": whole}])
    assert decode_fields(r, gold_word_probs(tags, LABELS), LABELS, lexicon=lexicon) == {"company": whole}
    assert decode_fields(r, gold_word_probs(tags, LABELS), LABELS) == {"company": "TOKYO KITCHEN SDN BHD"}


def test_a_date_read_in_part_is_completed_from_the_whole_dates_the_receipt_prints():
    r = receipt_of([["DATE:", "28", "MAR", "18", "14:02"], ["VALID", "01/01/2030"]])
    tags = ["O", "B-date", "I-date", "O", "O", "O", "O"]
    probs = probs_for(tags, [0.9] * 7)
    probs[3] = probs_for(["I-date"], [0.3])[0]  # "18": 0.3 date, 0.7 "O"
    # "28 MAR" is no whole date: the run "28 MAR 18" (mean P(date) 0.7) beats 01/01/2030 (0.0).
    assert decode_fields(r, probs, LABELS) == {"date": "28 MAR 18"}
    # A whole date read is kept, even when another is likelier word by word.
    tags = ["O", "O", "O", "O", "O", "O", "B-date"]
    assert decode_fields(r, probs_for(tags, [0.9] * 6 + [0.6]), LABELS) == {"date": "01/01/2030"}


def test_a_card_expiry_date_gives_way_to_the_receipts_own_date():
    r = receipt_of([["05/03/18", "15:02"], ["CARD", "EXPIRY", ":", "31/05/18"], ["TOTAL", "9.00"]])
    tags = ["B-date", "O", "O", "O", "O", "B-date", "O", "B-total"]
    # The model is surer of the expiry date (0.9) than of the purchase date (0.4).
    probs = probs_for(tags, [0.4, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert decode_fields(r, probs, LABELS)["date"] == "05/03/18"
    # A receipt whose only date is an expiry keeps what the model read: nothing better is printed.
    r2 = receipt_of([["CARD", "EXP", "DATE", "31/05/18"], ["TOTAL", "9.00"]])
    probs2 = probs_for(["O", "O", "O", "B-date", "O", "B-total"])
    assert decode_fields(r2, probs2, LABELS)["date"] == "31/05/18"
    # Without the expiry label the surer date wins, as before.
    r.words[3] = "DUE"
    assert decode_fields(r, probs, LABELS)["date"] == "31/05/18"


def test_cash_tendered_gives_way_to_itself_less_the_change_when_the_receipt_prints_that():
    """Seen out of fold: a parking ticket's "ACCEPTED TOTAL 10.00" (the note put in) read as the
    total, above "CHANGE 5.00", where "AMOUNT INCL. GST 5.00" is the key's total."""
    r = receipt_of([["AMOUNT", "INCL.", "GST", "5.00"], ["ACCEPTED", "TOTAL", "10.00"], ["CHANGE", "5.00"]])
    tags = ["O"] * 3 + ["B-total"] + ["O", "O", "B-total", "O", "O"]
    probs = probs_for(tags, [0.9] * 3 + [0.2] + [0.9, 0.9, 0.9, 0.9, 0.9])
    assert decode_fields(r, probs, LABELS) == {"total": "5.00"}
    r = receipt_of([["TOTAL", "53.60"], ["CASH", "100.00"], ["CHANGE", "46.40"]])
    tags = ["O", "O", "O", "B-total", "O", "O"]
    assert decode_fields(r, probs_for(tags), LABELS) == {"total": "53.60"}
    # The chosen amount on a total line stays, though it less the change happens to be printed
    # (an item at 7.20 on a receipt of 53.60 with 46.40 change).
    r = receipt_of([["ITEM", "7.20"], ["TOTAL", "53.60"], ["CASH", "100.00"], ["CHANGE", "46.40"]])
    tags = ["O", "O", "O", "B-total", "O", "O", "O", "O"]
    assert decode_fields(r, probs_for(tags), LABELS) == {"total": "53.60"}
    # No change printed, or nothing printed at the difference: the model's choice stays.
    r = receipt_of([["TOTAL", "5.00"], ["CASH", "10.00"]])
    assert decode_fields(r, probs_for(["O", "O", "O", "B-total"]), LABELS) == {"total": "10.00"}
    r = receipt_of([["TOTAL", "6.00"], ["CASH", "10.00"], ["CHANGE", "5.00"]])
    assert decode_fields(r, probs_for(["O", "O", "O", "B-total", "O", "O"]), LABELS) == {"total": "10.00"}


def test_a_company_holding_a_legal_form_wins_over_a_surer_brand_line():
    """Seen out of fold: "OLD TOWN WHITE COFFE" read surer than "KOPITIAM SDN BHD" on the line
    below, whose first words the model left out; the key holds the legal name, whole."""
    r = receipt_of([["OLD", "TOWN", "WHITE", "COFFE"], ["OLD", "TOWN", "KOPITIAM", "SDN", "BHD"], ["NO", "5"]])
    tags = ["B-company", "I-company", "I-company", "I-company", "O", "O", "I-company", "I-company", "I-company", "O", "O"]
    conf = [0.9, 0.9, 0.9, 0.9, 0.6, 0.9, 0.8, 0.9, 0.9, 0.9, 0.9]
    assert decode_fields(r, probs_for(tags, conf), LABELS)["company"] == "OLD TOWN KOPITIAM SDN BHD"
    # Under half the brand line's mass, the legal-form span does not win.
    tags = ["B-company", "I-company", "I-company", "I-company", "O", "O", "O", "O", "I-company", "O", "O"]
    assert decode_fields(r, probs_for(tags, conf), LABELS)["company"] == "OLD TOWN WHITE COFFE"


def test_a_company_holding_a_legal_form_takes_its_whole_first_line_up_to_an_owner_label():
    """Seen out of fold: "NANDO'S CHICKENLAND MALAYSIA" | "SDN BHD" read from "MALAYSIA" on, the
    first words leaning to the address; an owner label ("OWN BY:") is never taken in."""
    r = receipt_of([["NANDO'S", "CHICKENLAND", "MALAYSIA"], ["SDN", "BHD"], ["NO", "1"]])
    tags = ["O", "I-address", "I-company", "I-company", "I-company", "B-address", "I-address"]
    assert decode_fields(r, probs_for(tags), LABELS)["company"] == "NANDO'S CHICKENLAND MALAYSIA SDN BHD"
    r = receipt_of([["OWN", "BY:", "CHEF", "LEE", "SDN", "BHD"], ["NO", "1"]])
    tags = ["O", "O", "O", "I-company", "I-company", "I-company", "B-address", "I-address"]
    assert decode_fields(r, probs_for(tags), LABELS)["company"] == "CHEF LEE SDN BHD"
    # A legal form read alone on its line takes the line above: that is the name.
    r = receipt_of([["NANDO'S", "CHICKENLAND", "MALAYSIA"], ["SDN", "BHD"], ["NO", "1"]])
    tags = ["O", "I-address", "O", "B-company", "I-company", "B-address", "I-address"]
    assert decode_fields(r, probs_for(tags), LABELS)["company"] == "NANDO'S CHICKENLAND MALAYSIA SDN BHD"
    # A span without a legal form keeps to its words' probabilities.
    r = receipt_of([["NANDO'S", "PERI", "CHICKEN"], ["NO", "1"]])
    tags = ["O", "B-company", "I-company", "B-address", "I-address"]
    assert decode_fields(r, probs_for(tags), LABELS)["company"] == "PERI CHICKEN"


def test_an_amount_on_a_tax_line_is_no_total_however_sure_the_model_is():
    """Seen out of fold: "TOTAL GST : 5.76" and "6% GST 0.07" read as the total (with 0.9 where the
    total line got 0.01); "AMT EXCL. GST" is an amount before tax, ranked as any non-total line."""
    r = receipt_of(
        [["SUBTOTAL", "96.00"], ["TOTAL", "GST", ":", "5.76"], ["TOTAL", "SALES", "(INCL", "GST)", "101.76"],
         ["CASH", "150.00"]]
    )  # fmt: skip
    tags = ["O", "O", "O", "O", "O", "B-total", "O", "O", "O", "O", "O", "O", "O"]
    conf = [0.9] * 5 + [0.9] + [0.9] * 4 + [0.99] + [0.9, 0.9]
    probs = probs_for(tags, conf)
    probs[10, LABELS.index("B-total")] = 0.01
    assert decode_fields(r, probs, LABELS) == {"total": "101.76"}
    from receipt_lightning.fields.total_match import is_tax_label

    assert is_tax_label("TOTALGST:") and is_tax_label("6%GST")
    assert not is_tax_label("TOTALSALES(INCLGST)") and not is_tax_label("AMTPAIDEXCL.GST:")
    assert not is_tax_label("TOTAL") and not is_tax_label("GRANDTOTALAFTERTAX")


def test_the_cash_tendered_less_the_change_is_the_total_over_a_surer_item_price():
    """Seen out of fold: an item's price (and a service charge, the tax included) read as the total
    where the receipt prints the cash and the change; the difference is the total's amount."""
    r = receipt_of(
        [["CENDOL", "RM5.30"], ["SUBTOTAL", "RM53.60"], ["CASH", "RM100.00"], ["CHANGE", "RM46.40"]]
    )
    tags = ["O", "B-total", "O", "O", "O", "O", "O", "O"]
    probs = probs_for(tags, [0.9, 0.99] + [0.9] * 6)
    probs[3, LABELS.index("B-total")] = 0.01  # 99x less sure of the subtotal line's amount
    assert decode_fields(r, probs, LABELS) == {"total": "RM53.60"}
    # Without the change printed the model's choice stands: the subtotal's label counts against it.
    r = receipt_of([["CENDOL", "RM5.30"], ["SUBTOTAL", "RM53.60"], ["CASH", "RM100.00"]])
    assert decode_fields(r, probs[:6], LABELS) == {"total": "RM5.30"}


def test_paid_less_change_reads_payment_and_change_lines_only():
    from receipt_lightning.fields.text_match import parse_amount
    from receipt_lightning.fields.total_rank import paid_less_change

    r = receipt_of(
        [["ITEM", "5.00"], ["TUNAI", "50.00"], ["BAKI", "11.00"], ["CHANGE", "0.00"], ["VISA", "2.00"]]
    )
    amounts = [parse_amount(w) if any(c.isdigit() for c in w) else None for w in r.words]
    # 50.00 - 11.00; a change of 0 and the item are no part of it; VISA is no payment label.
    assert paid_less_change(r, amounts) == {3900}
    r = receipt_of([["CASH", "10.00"], ["CHANGE", "10.00"]])
    assert paid_less_change(r, [None, 10.0, None, 10.0]) == set()
    # Seen out of fold: the amount handed over printed as "TOTAL PAID" under "GRAND TOTAL".
    r = receipt_of([["GRAND", "TOTAL", "RM14.20"], ["TOTAL", "PAID", "RM20.20"], ["CHANGE", "RM6.00"]])
    assert paid_less_change(r, [None, None, 14.2, None, None, 20.2, None, 6.0]) == {1420}


def test_an_amount_of_zero_is_never_the_total():
    """Seen out of fold: "ROUNDING ADJ. RM0.00" read as the total; no key holds a zero total."""
    r = receipt_of([["SUB", "TOTAL", "RM40.00"], ["ROUNDING", "ADJ.", "RM0.00"], ["TOTAL", "RM40.00"]])
    tags = ["O", "O", "O", "O", "O", "B-total", "O", "O"]
    assert decode_fields(r, probs_for(tags), LABELS) == {"total": "RM40.00"}
    r = receipt_of([["TOTAL", "0.00"]])
    assert decode_fields(r, probs_for(["O", "B-total"]), LABELS) == {}
