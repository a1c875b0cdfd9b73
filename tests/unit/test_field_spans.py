"""``decode_field_spans``: the same values as ``decode_fields``, each with the words it came from
and a confidence in [0, 1] (the mean probability of the field over those words)."""

from __future__ import annotations

import numpy as np

from receipt_lightning.fields.decoding import decode_field_spans, decode_fields
from receipt_lightning.fields.spans import line_runs, nearby_line_ranges
from receipt_lightning.receipt import Receipt, bio_label_list

LABELS = bio_label_list(["company", "total"])


def probs_for(tags: list[str], sure: float) -> np.ndarray:
    p = np.full((len(tags), len(LABELS)), (1 - sure) / (len(LABELS) - 1))
    for row, tag in enumerate(tags):
        p[row, LABELS.index(tag)] = sure
    return p


def test_spans_give_the_words_boxes_and_a_bounded_confidence():
    words = ["ACME", "TRADING", "SDN", "BHD", "TOTAL", "RM", "12.50"]
    tags = ["B-company", "I-company", "I-company", "I-company", "O", "B-total", "I-total"]
    receipt = Receipt(
        id="r", words=words, boxes=[(i * 10, 0, i * 10 + 8, 10) for i in range(7)], width=100, height=20,
        line_ids=[0, 0, 0, 0, 1, 1, 1],
    )  # fmt: skip
    probs = probs_for(tags, 0.8)
    spans = decode_field_spans(receipt, probs, LABELS)
    assert {f: s.value for f, s in spans.items()} == decode_fields(receipt, probs, LABELS)
    assert (spans["company"].start, spans["company"].end) == (0, 4)
    assert (spans["total"].start, spans["total"].end) == (5, 7)
    for span in spans.values():
        assert 0.0 <= span.confidence <= 1.0
    # B- + I- of the field: 0.8 + 0.2/8 on every word of the span
    assert abs(spans["total"].confidence - (0.8 + 0.2 / (len(LABELS) - 1))) < 1e-6
    unsure = decode_field_spans(receipt, probs_for(tags, 0.4), LABELS)
    assert unsure["total"].confidence < spans["total"].confidence


def test_nearby_line_ranges_move_each_end_by_whole_lines_smallest_change_first():
    line_ids = [0, 0, 1, 1, 1, 2, 3, 3]
    assert line_runs(line_ids) == [(0, 2), (2, 5), (5, 6), (6, 8)]
    ranges = nearby_line_ranges((3, 5), line_ids, reach=1)  # inside line 1
    assert ranges[0] == (2, 5)  # the span's own lines, whole
    assert set(ranges) == {(2, 5), (0, 5), (2, 6), (0, 6)}
    assert nearby_line_ranges((3, 5), None, reach=1) == []
