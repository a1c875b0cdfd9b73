"""Word spans of one field, in reading order, and the operations decoding applies to them
(``[start, end)`` word indices). Each rule and threshold is measured in ``decoding``'s docstring."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from receipt_lightning.fields.normalize import has_digit

# Bridging a gap in a company/address: at most this many words, each with at least this much
# probability on the field (B- + I-).
MAX_GAP_WORDS = 1
GAP_MIN_PROB = 0.2
# A company/address span takes in the rest of its first and last OCR line when those words give
# the field at least this mean probability (B- + I-); chosen on the development fold.
LINE_MIN_PROB = 0.2


def field_spans(tags: Sequence[str], field: str) -> list[tuple[int, int]]:
    """``[start, end)`` runs of words tagged ``B-field``/``I-field``; a ``B-`` starts a new run."""
    spans: list[tuple[int, int]] = []
    start = None
    for i, tag in enumerate([*tags, "O"]):
        inside = tag in (f"B-{field}", f"I-{field}")
        if start is not None and (not inside or tag == f"B-{field}"):
            spans.append((start, i))
            start = None
        if inside and start is None:
            start = i
    return spans


def bridge_gaps(
    spans: list[tuple[int, int]], field_prob: np.ndarray, starts: Sequence[bool] | None = None
) -> list[tuple[int, int]]:
    """Join consecutive spans separated by a short gap of words still leaning to the field;
    ``starts[i]``: word i is tagged ``B-`` (a span starting there is never joined to the last)."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and not (starts is not None and starts[start]):
            prev_start, prev_end = merged[-1]
            gap = field_prob[prev_end:start]
            if len(gap) <= MAX_GAP_WORDS and bool((gap >= GAP_MIN_PROB).all()):
                merged[-1] = (prev_start, end)
                continue
        merged.append((start, end))
    return merged


def join_digitless(spans: list[tuple[int, int]], words: Sequence[str]) -> list[tuple[int, int]]:
    """Date/total spans: one without a digit is joined to the span right after it, else dropped."""
    out: list[tuple[int, int]] = []
    held: tuple[int, int] | None = None  # a digitless span, kept if the next one starts at its end
    for start, end in spans:
        if held is not None and held[1] == start:
            start = held[0]
        held = None
        if any(has_digit(w) for w in words[start:end]):
            out.append((start, end))
        else:
            held = (start, end)
    return out


def complete_lines(
    span: tuple[int, int], field_prob: np.ndarray, line_ids: Sequence[int] | None
) -> tuple[int, int]:
    """Widen ``[start, end)`` to whole OCR lines where the left-out words of its first or last line
    lean to the field (mean ``field_prob`` >= ``LINE_MIN_PROB``); words are in reading order."""
    start, end = span
    if line_ids is None or end <= start:
        return span
    line_start = start
    while line_start > 0 and line_ids[line_start - 1] == line_ids[start]:
        line_start -= 1
    line_end = end
    while line_end < len(line_ids) and line_ids[line_end] == line_ids[end - 1]:
        line_end += 1
    if line_start < start and float(field_prob[line_start:start].mean()) >= LINE_MIN_PROB:
        start = line_start
    if line_end > end and float(field_prob[end:line_end].mean()) >= LINE_MIN_PROB:
        end = line_end
    return start, end
