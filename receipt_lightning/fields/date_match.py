"""Finding the key's date among a receipt's words (part of weak labelling)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from receipt_lightning.fields.normalize import DATE_PATTERN, extract_date
from receipt_lightning.fields.text_match import edit_distance, squash
from receipt_lightning.receipt import Receipt

# A date may be printed over up to this many words of one line ("10 MAR 2018").
MAX_DATE_WORDS = 3
# A date-like word this close to the key (in edits) is taken as an OCR-garbled copy of it.
MAX_DATE_EDITS = 2
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def calendar_day(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a date string in any of the receipts' forms, else None."""
    text = text.upper().strip("() ")
    if re.fullmatch(r"20\d{6}", text):
        return int(text[:4]), int(text[4:6]), int(text[6:])
    parts = re.split(r"[/\-. ,]+", text)
    if len(parts) != 3:
        return None
    if parts[1][:3] in _MONTHS:
        parts[1] = str(_MONTHS.index(parts[1][:3]) + 1)
    if not all(p.isdigit() for p in parts):
        return None
    a, b, c = (int(p) for p in parts)
    if len(parts[0]) == 4:  # yyyy-mm-dd
        return a, b, c
    return (c + 2000 if c < 100 else c), b, a


def _windows(receipt: Receipt, taken: Sequence[str]):
    """``(start, end, decoded date)`` for every run of 1..MAX_DATE_WORDS free words on one line."""
    words, lines = receipt.words, receipt.line_ids or [0] * len(receipt.words)
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + MAX_DATE_WORDS) + 1):
            if lines[end - 1] != lines[start] or taken[end - 1] != "O":
                break
            yield start, end, extract_date(" ".join(words[start:end]))


def _says_date(receipt: Receipt, start: int) -> bool:
    """Whether the OCR line of word ``start`` (or the word itself) mentions DATE / TARIKH."""
    lines = receipt.line_ids or [0] * len(receipt.words)
    text = " ".join(w for w, line in zip(receipt.words, lines, strict=True) if line == lines[start]).upper()
    return "DATE" in text or "TARIKH" in text


def label_date(
    receipt: Receipt, value: str, taken: Sequence[str], all_dates: bool = True
) -> list[tuple[int, int]]:
    """Spans ``[start, end)`` of the key's date: every copy in the key's own form (``all_dates``;
    they all decode to the key, and a model is not taught that one printed copy is the date and
    another is not), else the best one in another form or garbled."""
    want = squash(value)
    day = calendar_day(value)
    exact, same_day, near = [], [], []
    for start, end, found in _windows(receipt, taken):
        if not DATE_PATTERN.search(found) and squash(found) != want:
            continue
        if squash(found) == want:
            exact.append((start, end))
        elif day is not None and calendar_day(found) == day:
            same_day.append((start, end))
        else:
            cost = edit_distance(squash(found), want)
            if cost <= MAX_DATE_EDITS:
                near.append((cost, start, end))
    for group in (exact, same_day):
        if group:
            # Shortest window first (a date alone beats the date plus the word after it), then a
            # line that says DATE, then the topmost.
            group.sort(key=lambda s: (s[1] - s[0], not _says_date(receipt, s[0]), s[0]))
            if group is same_day or not all_dates:
                return [group[0]]
            kept: list[tuple[int, int]] = []
            for span in group:
                if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
                    kept.append(span)
            return sorted(kept)
    if near:
        _, start, end = min(near)
        return [(start, end)]
    return []
