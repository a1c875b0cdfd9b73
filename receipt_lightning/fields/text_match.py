"""String normalisation and approximate matching for weak labelling and relaxed scoring.

Three views of a string, from strict to loose:
- ``collapse_ws``: runs of whitespace -> one space, stripped (the SROIE task-3 comparison);
- ``squash``: upper-case, no whitespace (spacing differences between key and OCR vanish);
- ``relaxed``: upper-case letters and digits only (spacing and punctuation vanish).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import numpy as np

_NON_ALNUM = re.compile(r"[^0-9A-Z]")
_AMOUNT = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")


def collapse_ws(text: str) -> str:
    """Whitespace runs collapsed to one space, ends stripped."""
    return " ".join(text.split())


def squash(text: str) -> str:
    """Upper-case without any whitespace."""
    return "".join(text.split()).upper()


def relaxed(text: str) -> str:
    """Upper-case letters and digits only."""
    return _NON_ALNUM.sub("", text.upper())


def parse_amount(text: str) -> Decimal | None:
    """The single money amount written in ``text`` ("RM9.00", "9.0", "$1,234.50"), else None.

    Thousands separators are dropped; text with two separate numbers gives None.
    """
    found = _AMOUNT.findall(text.replace(" ", ""))
    if len(found) != 1:
        return None
    try:
        return Decimal(found[0].replace(",", ""))
    except InvalidOperation:
        return None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit costs); rows over ``b`` vectorised over ``a`` with numpy."""
    if not a or not b:
        return len(a) + len(b)
    return _align(a, b, free_ends=False)[2]


def best_substring(text: str, pattern: str) -> tuple[int, int, int]:
    """The substring of ``text`` closest to ``pattern`` in edit distance: ``(start, end, cost)``.

    Semi-global alignment (Sellers 1980): free start and end in ``text``; among equally close
    substrings the one ending first wins.
    """
    if not text or not pattern:
        return 0, 0, len(pattern)
    return _align(text, pattern, free_ends=True)


def _align(text: str, pattern: str, free_ends: bool) -> tuple[int, int, int]:
    """Edit-distance DP over ``pattern`` (rows) x ``text`` (columns, one numpy vector per row).

    The in-row insertion chain ``cost[j] = min_k (cand[k] + j - k)`` is a running minimum, so each
    row is a handful of vector operations: ``O(len(pattern))`` numpy calls of ``len(text)``.
    ``free_ends``: the match may start and end anywhere in ``text`` (else it spans all of it).
    """
    n = len(text)
    t = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    cols = np.arange(n + 1)
    cost = np.zeros(n + 1, dtype=np.int64) if free_ends else cols.copy()
    start = cols.copy() if free_ends else np.zeros(n + 1, dtype=np.int64)
    cand = np.empty(n + 1, dtype=np.int64)
    cand_start = np.empty(n + 1, dtype=np.int64)
    for i, ch in enumerate(pattern, start=1):
        mismatch = (t != ord(ch)).astype(np.int64)
        cand[0], cand_start[0] = i, 0  # pattern prefix deleted entirely before text position 0
        diag = cost[:-1] + mismatch
        up = cost[1:] + 1  # pattern char deleted
        take_diag = diag <= up
        cand[1:] = np.where(take_diag, diag, up)
        cand_start[1:] = np.where(take_diag, start[:-1], start[1:])
        shifted = cand - cols  # text chars inserted: running minimum of cand[k] - k
        running = np.minimum.accumulate(shifted)
        argmin = np.maximum.accumulate(np.where(shifted <= running, cols, 0))
        cost = running + cols
        start = cand_start[argmin]
    end = int(np.argmin(cost)) if free_ends else n
    return int(start[end]), end, int(cost[end])
