"""Word labels (BIO) derived from a receipt's key values: weak labelling made to be a ceiling.

Each field's span is chosen so that decoding it (``model.postprocess.field_text``) gives back the
key string whenever the OCR text allows it:

- company/address: the key and the words (in reading order, across OCR lines) are compared with
  letters and digits only, so spacing, commas and dots never prevent a match; exact occurrences
  first (the topmost), else the closest substring in edit distance (OCR noise, typos in the keys).
  The span's ends are then nudged by a word where that makes the decoded text closer to the key.
- date: runs of 1-3 words on one line containing the key's date in the key's own form (a word
  like "DATE:25/12/2018" is labelled whole; decoding cuts the date out); with ``all_dates`` every
  such copy, else one, preferring a line that says DATE; failing that the same calendar day in
  another form, else the nearest date-like word.
- total: words (or a currency word + amount) whose amount equals the key's, preferring the written
  form the key uses, then the occurrence on a TOTAL/ROUNDED/NETT/GRAND line (not SUBTOTAL, CASH,
  CHANGE, GST...), then the lowest one. With ``all_totals`` every such occurrence on a total-like
  line is labelled (they all decode to the same string), so a model is not taught that one
  "TOTAL 9.00" is the total and the "ROUNDED TOTAL 9.00" under it is not.
"""

from __future__ import annotations

from collections.abc import Sequence

from receipt_lightning.fields.date_match import label_date
from receipt_lightning.fields.normalize import field_text
from receipt_lightning.fields.text_match import best_substring, collapse_ws, edit_distance, relaxed
from receipt_lightning.fields.total_match import label_total
from receipt_lightning.receipt import Receipt

# A fuzzy company/address match is kept only if at most this fraction of the key's letters and
# digits must be edited (OCR errors and typos stay well below; a different address does not).
MAX_FUZZY_COST = 0.34
# Span ends are moved by at most this many words when that brings the decoded text nearer the key.
BOUNDARY_SLACK = 2


def weak_label(
    receipt: Receipt, fields: Sequence[str], all_totals: bool = True, all_dates: bool = True
) -> list[str]:
    """BIO tags, one per word of ``receipt``, from ``receipt.fields`` (the key values)."""
    tags = ["O"] * len(receipt.words)
    key = receipt.fields or {}
    # Most constrained first, so a date or amount is never swallowed by an address span.
    order = [f for f in ("total", "date") if f in fields] + [f for f in fields if f not in ("total", "date")]
    for field in order:
        value = key.get(field, "")
        if not value.strip():
            continue
        if field == "total":
            spans = label_total(receipt, value, tags, all_totals=all_totals)
        elif field == "date":
            spans = label_date(receipt, value, tags, all_dates=all_dates)
        else:
            found = match_text_span(receipt, value, field, tags)
            spans = [found] if found else []
        for start, end in spans:
            for i in range(start, end):
                tags[i] = ("B-" if i == start else "I-") + field
    return tags


def _relaxed_stream(words: Sequence[str], taken: Sequence[str]) -> tuple[str, list[int]]:
    """Letters and digits of the words in order, and the word index of each character.

    Words already labelled contribute a character that no key contains, so a match never runs
    through another field's span.
    """
    chars: list[str] = []
    owner: list[int] = []
    for i, word in enumerate(words):
        text = relaxed(word) if taken[i] == "O" else "\x00"
        chars.append(text)
        owner.extend([i] * len(text))
    return "".join(chars), owner


def match_text_span(receipt: Receipt, value: str, field: str, taken: Sequence[str]) -> tuple[int, int] | None:
    """Word span ``[start, end)`` of a free-text field (company, address), or None."""
    target = relaxed(value)
    if not target:
        return None
    stream, owner = _relaxed_stream(receipt.words, taken)
    start_char = stream.find(target)
    if start_char >= 0:
        end_char = start_char + len(target)
    else:
        start_char, end_char, cost = best_substring(stream, target)
        if end_char <= start_char or cost > MAX_FUZZY_COST * len(target):
            return None
    span = (owner[start_char], owner[end_char - 1] + 1)
    return refine_span(receipt.words, span, field, value, taken)


def refine_span(
    words: Sequence[str], span: tuple[int, int], field: str, value: str, taken: Sequence[str]
) -> tuple[int, int]:
    """Move the span's ends by up to ``BOUNDARY_SLACK`` words if that decodes nearer the key."""
    want = collapse_ws(value)
    start, end = span
    if field_text(field, words[start:end]) == want:
        return span
    best, best_cost = span, edit_distance(field_text(field, words[start:end]), want)
    for s in range(max(0, start - BOUNDARY_SLACK), min(start + BOUNDARY_SLACK, end - 1) + 1):
        for e in range(max(s + 1, end - BOUNDARY_SLACK), min(len(words), end + BOUNDARY_SLACK) + 1):
            if any(taken[i] != "O" for i in range(s, e)):
                continue
            cost = edit_distance(field_text(field, words[s:e]), want)
            if cost < best_cost:
                best, best_cost = (s, e), cost
    return best
