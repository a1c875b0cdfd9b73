"""Word spans of one field, in reading order, and the operations decoding applies to them
(``[start, end)`` word indices). Each rule and threshold is measured in ``decoding``'s docstring."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from receipt_lightning.fields.normalize import LEGAL_SUFFIX, has_digit

# Bridging a gap in a company/address: at most this many words, each with at least this much
# probability on the field (B- + I-).
MAX_GAP_WORDS = 1
GAP_MIN_PROB = 0.2
# A company/address span takes in the rest of its first and last OCR line when those words give
# the field at least this mean probability (B- + I-). 0.2 until 2026-12-02, chosen on the
# development fold; out of fold over all 501 receipts (one model per fold, five folds) 0.05 gains
# 2 companies and 3 addresses and loses none (0.03: +6 -0, 0.1: +2, 0 takes in any line: -36).
LINE_MIN_PROB = 0.05
# A legal-name line needs this many words besides its suffix before the lines above it are cut
# off ("ACME SDN BHD" under a brand line may be the end of "BIG ACME SDN BHD"), and it must not
# start with a word that continues the line above: "& TEA LEAF (M) SDN. BHD." under "THE COFFEE
# BEAN", "CO. (M) SDN BHD" under "POPULAR BOOK" are the second halves of one name.
LEGAL_NAME_MIN_WORDS = 2
CONTINUES_NAME = re.compile(r"&|AND|CO\.?|\(M\)", re.IGNORECASE)
# A company span holding a legal form wins over a more probable one holding none when its
# probability mass is at least this share of the other's.
LEGAL_SPAN_MIN_SHARE = 0.5
# A company span holding a legal form takes in the rest of its first line whatever its words'
# probability (True), or only from ``LINE_MIN_PROB`` on as any span does (False).
LEGAL_SPAN_WHOLE_FIRST_LINE = True


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


def line_runs(line_ids: Sequence[int]) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of words on one OCR line, in reading order."""
    runs: list[tuple[int, int]] = []
    for i, line in enumerate(line_ids):
        if runs and line_ids[runs[-1][0]] == line:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def nearby_line_ranges(
    span: tuple[int, int], line_ids: Sequence[int] | None, reach: int
) -> list[tuple[int, int]]:
    """Word spans of whole OCR lines whose first and last line are each at most ``reach`` lines
    from those of ``span`` and that share a line with it; fewest lines moved first, then reading
    order (a caller taking the first acceptable one prefers the smallest change)."""
    if line_ids is None or span[1] <= span[0]:
        return []
    runs = line_runs(line_ids)
    first = next(k for k, (s, e) in enumerate(runs) if s <= span[0] < e)
    last = next(k for k, (s, e) in enumerate(runs) if s < span[1] <= e)
    ranges = []
    for a in range(max(0, first - reach), first + reach + 1):
        for b in range(max(a, last - reach), min(len(runs), last + reach + 1)):
            if b >= first and a <= last:
                ranges.append((abs(a - first) + abs(b - last), a, b))
    return [(runs[a][0], runs[b][1]) for _, a, b in sorted(ranges)]


def legal_name_lines(
    span: tuple[int, int], line_ids: Sequence[int] | None, words: Sequence[str]
) -> tuple[int, int]:
    """A company span over several OCR lines cut to its legal name: it starts at the first line
    after its first that holds a ``LEGAL_SUFFIX`` (and ``LEGAL_NAME_MIN_WORDS`` other words), a
    brand or branch line above it left out ("OLD TOWN WHITE COFFEE" | "OLD TOWN KOPITIAM SDN
    BHD") unless that line continues the one above (``CONTINUES_NAME``), and ends with the last
    line holding one ("KAISON FURNISHING SDN BHD" | "L4-17 (B),").
    A span on one line, or with no such line, is returned unchanged."""
    start, end = span
    if line_ids is None or end - start < 2:
        return span
    lines = [(max(a, start), min(b, end)) for a, b in line_runs(line_ids) if a < end and b > start]
    legal = [k for k, (a, b) in enumerate(lines) if LEGAL_SUFFIX.search(" ".join(words[a:b]))]
    if len(lines) < 2 or not legal:
        return span
    first_start, first_end = lines[legal[0]]
    name_words = [w for w in words[first_start:first_end] if not LEGAL_SUFFIX.fullmatch(w)]
    continues = bool(CONTINUES_NAME.fullmatch(words[first_start]))
    if legal[0] > 0 and len(name_words) >= LEGAL_NAME_MIN_WORDS and not continues:
        start = first_start
    return start, lines[legal[-1]][1]


def prefer_legal_span(
    spans: Sequence[tuple[int, int]], best: tuple[int, int], field_prob: np.ndarray, words: Sequence[str]
) -> tuple[int, int]:
    """``best``, or, when it holds no ``LEGAL_SUFFIX``, the most probable span that holds one with
    at least ``LEGAL_SPAN_MIN_SHARE`` of its probability mass: a brand line the model reads with
    more confidence than the legal name a few lines below ("OLD TOWN WHITE COFFE" over "OLD TOWN
    KOPITIAM SDN BHD")."""

    def mass(span: tuple[int, int]) -> float:
        return float(field_prob[span[0] : span[1]].sum())

    def legal(span: tuple[int, int]) -> bool:
        return bool(LEGAL_SUFFIX.search(" ".join(words[span[0] : span[1]])))

    if legal(best):
        return best
    others = [s for s in spans if legal(s) and mass(s) >= LEGAL_SPAN_MIN_SHARE * mass(best)]
    return max(others, key=mass) if others else best


def line_start_after_label(index: int, line_ids: Sequence[int], words: Sequence[str]) -> int:
    """The first word of the OCR line of word ``index``, or the word after the last label ending
    in a colon before ``index`` on that line ("OWN BY:", "HQ ADD:")."""
    start = index
    while start > 0 and line_ids[start - 1] == line_ids[index] and not words[start - 1].endswith(":"):
        start -= 1
    return start


def whole_first_line(
    span: tuple[int, int], line_ids: Sequence[int] | None, words: Sequence[str]
) -> tuple[int, int]:
    """A company span that holds a ``LEGAL_SUFFIX`` widened to the start of its first OCR line, or
    to just after a label ending in a colon on it ("OWN BY:", "DIMILIKI:"), and a span of legal-form
    words alone to the start of the line above: a legal name is printed on whole lines
    ("NANDO'S CHICKENLAND MALAYSIA" | "SDN BHD" read from "MALAYSIA", or as "SDN BHD" alone)."""
    start, end = span
    if line_ids is None or not LEGAL_SPAN_WHOLE_FIRST_LINE or not LEGAL_SUFFIX.search(" ".join(words[start:end])):
        return span
    start = line_start_after_label(start, line_ids, words)
    if start == span[0] and start > 0 and all(LEGAL_SUFFIX.fullmatch(w) for w in words[start:end]):
        # A legal form alone ("SDN BHD" on a line of its own) is no name: the line above is.
        start -= 1
        while start > 0 and line_ids[start - 1] == line_ids[start]:
            start -= 1
    return start, end


def drop_stray_end_lines(
    span: tuple[int, int], line_ids: Sequence[int] | None, words: Sequence[str]
) -> tuple[int, int]:
    """An address span over several OCR lines without the part of its first or last line that it
    takes only in part and that holds no digit: the tail of a shop line before it ("BHPETROL
    SUBANG" | "AIRPORT") or the head of a label line after it ("PREPAY" | "CHIT NUMBER", "FAX:" |
    "03-5121 5716"). Keys hold whole lines: of the 493 weak-labelled address spans of the shared
    receipts that run over several lines, one starts and one ends inside a line, both on a part
    with digits ("LOT 11995, ..." after "HQ ADD:", "81750 JOHOR BAHRU, JOHOR," before "TEL NO.:")."""
    start, end = span
    if line_ids is None or end - start < 2 or line_ids[start] == line_ids[end - 1]:
        return span
    lines = [(a, b) for a, b in line_runs(line_ids) if a < end and b > start]
    (first_start, first_end), (last_start, last_end) = lines[0], lines[-1]
    if first_start < start and not any(has_digit(w) for w in words[start:first_end]):
        start = first_end
    if last_end > end and not any(has_digit(w) for w in words[last_start:end]):
        end = last_start
    return (start, end) if end > start else span


def whole_address_first_line(
    span: tuple[int, int], line_ids: Sequence[int] | None, words: Sequence[str]
) -> tuple[int, int]:
    """An address span that starts inside its first OCR line (after ``drop_stray_end_lines``: on a
    part with a digit) widened to the line's start, up to a label ending in a colon: the model is
    least sure of a block word before the number ("BLK" of "BLK 2, UNIT G1 & G2, ..."), and of the
    493 weak-labelled address spans over several lines only the one after "HQ ADD:" starts inside
    a line."""
    if line_ids is None or span[1] <= span[0]:
        return span
    return line_start_after_label(span[0], line_ids, words), span[1]
