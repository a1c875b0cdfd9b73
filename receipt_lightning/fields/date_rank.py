"""A date the tagger read only in part ("28 MAR" of "28 MAR 18", the year alone, a time), or not
at all, completed from the dates the receipt prints.

500 of the 501 date keys of the shared SROIE receipts are one whole ``DATE_PATTERN`` match (the
other is an eight-digit ``25032018``). A decoded date that is no such match is replaced by the
receipt's whole date most probable for the field (mean P(date) over its words); a receipt where
no word was read as a date gets that date too when its mean probability reaches
``FILL_MIN_PROB``. Candidates are runs of at most ``MAX_DATE_WORDS`` words of one OCR line whose
text holds a date starting in the first word and ending in the last.

Measured on three development folds of the training receipts, six models (trained on SROIE's
lines, or on lines and OCR'd scans) scored on their held-out receipts' lines and scans, 960
dates: 888 right before, 910 completing partial dates only, 919 filling empty ones too (for 15
more predicted); the labelling bound is unchanged (497 of 501).

A date on a line that prints a card's expiry (``EXPIRY_LINE``) is never the receipt's date: it is
no candidate, and a decoded one gives way to the most probable other whole date. Out of fold over
all 501 receipts (five one-model folds, 2026-12-02): +2 dates of the 3 receipts that print one,
none lost; the labelling bound is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from receipt_lightning.fields.normalize import DATE_PATTERN, extract_date, join_words
from receipt_lightning.fields.spans import line_runs
from receipt_lightning.receipt import Receipt

# "10 MAY 2018" is three words; longer runs only add a label or a time.
MAX_DATE_WORDS = 3
# Least mean P(date) of a date filled in where the tagger read none.
FILL_MIN_PROB = 0.0
# A line that prints a card's expiry ("CARD EXPIRY : 31/05/18") holds no date of the purchase:
# three of the 501 shared receipts print one, and no key holds its date.
EXPIRY_LINE = re.compile(r"\bEXP(?:IRY|IRES?|\.?\s*DATE)?\b", re.IGNORECASE)


def date_candidates(receipt: Receipt) -> list[tuple[int, int]]:
    """``[start, end)`` word runs holding one whole date, starting in the first word and ending
    in the last (so no run holds a neighbour it does not need)."""
    words = receipt.words
    runs = (
        line_runs(receipt.line_ids)
        if receipt.line_ids is not None
        else [(i, i + 1) for i in range(len(words))]
    )
    found = []
    for run_start, run_end in runs:
        if prints_expiry(words[run_start:run_end]):
            continue
        for start in range(run_start, run_end):
            for end in range(start + 1, min(run_end, start + MAX_DATE_WORDS) + 1):
                text = join_words(words[start:end])
                match = DATE_PATTERN.search(text)
                if match is None:
                    continue
                first_len = len(words[start])
                last_start = len(text) - len(words[end - 1])
                if match.start() < first_len and match.end() > last_start:
                    found.append((start, end))
    return found


def complete_date(
    receipt: Receipt, field_prob: np.ndarray, span: tuple[int, int] | None
) -> tuple[int, int] | None:
    """``span`` when its text is a whole date not on a card's expiry line; else the receipt's most
    probable whole date (see the module docstring), or ``span`` unchanged when the receipt prints
    none."""
    if (
        span is not None
        and DATE_PATTERN.fullmatch(extract_date(join_words(receipt.words[span[0] : span[1]])))
        and not _on_expiry_line(receipt, span)
    ):
        return span
    best, best_score = None, -1.0
    for start, end in date_candidates(receipt):
        score = float(field_prob[start:end].mean())
        if score > best_score:
            best, best_score = (start, end), score
    if best is None or (span is None and best_score < FILL_MIN_PROB):
        return span
    return best


def prints_expiry(line_words: Sequence[str]) -> bool:
    """Whether the words of one OCR line print a card's expiry (``EXPIRY_LINE``)."""
    return bool(EXPIRY_LINE.search(join_words(line_words)))


def _on_expiry_line(receipt: Receipt, span: tuple[int, int]) -> bool:
    """Whether the OCR line of ``span``'s first word prints a card's expiry."""
    if receipt.line_ids is None:
        return False
    start, end = next((a, b) for a, b in line_runs(receipt.line_ids) if a <= span[0] < b)
    return prints_expiry(receipt.words[start:end])
