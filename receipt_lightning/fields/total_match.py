"""Finding the key's total among a receipt's words (part of weak labelling).

A receipt prints the total's amount several times (TOTAL, ROUNDED TOTAL, CASH, the item itself),
with or without a currency prefix, so candidates are scored by the words printed on the same
visual row, to the left of the amount.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from receipt_lightning.fields.normalize import field_text
from receipt_lightning.fields.text_match import collapse_ws, parse_amount
from receipt_lightning.receipt import Receipt

CURRENCY_WORD = re.compile(r"^(RM|\$|MYR)$", re.IGNORECASE)
# Words that make an amount the total, or something else; checked on the text of its label (see
# ``label_text``) upper-cased with spaces removed ("SUB TOTAL" -> "SUBTOTAL"). Strong words win over
# the negative ones ("TOTAL AFTER ADJ INCL GST", "AMOUNT TO BE PAID"). "TOTAL 0% SUPPLIES" is the
# zero-rated part of a GST receipt: the total only when nothing was taxed, and then it is printed
# again on the TOTAL PAYABLE line, which is labelled. "AMT PAID INCL. GST" is the amount the
# customer paid, tax included (two receipts of 501, both keys; "PAID" alone is a payment line):
# out of fold +2 totals, none lost (2026-12-02).
STRONG_TOTAL_WORDS = (
    "GRANDTOTAL", "NETTTOTAL", "NETTOTAL", "ROUNDEDTOTAL", "TOTALAFTER", "AMOUNTDUE", "AMTDUE",
    "TOBEPAID", "NETAMT", "TOTALINCL", "TOTALSALES", "TOTALPAYABLE", "TOTALAMOUNT", "ROUNDDTOTAL",
    "PAIDINCL",
)  # fmt: skip
TOTAL_WORDS = ("TOTAL", "NETT", "GRAND", "JUMLAH", "PAYABLE", "ROUNDED", "TL:")
NOT_TOTAL_WORDS = (
    "SUB", "SAVING", "QTY", "QUANTITY", "ITEM", "DISC", "CHANGE", "CASH", "TENDER", "CARD", "VISA",
    "MASTER", "PAID", "BALANCE", "DEPOSIT", "VOUCHER", "POINT", "ROUNDING", "ADJUSTMENT", "EXCL",
    "CREDIT", "DEBIT", "SUPPLIES",
)  # fmt: skip


def same_row(receipt: Receipt, index: int) -> list[int]:
    """Words left of word ``index`` whose vertical extent overlaps it by half its height or more."""
    x0, y0, x1, y1 = receipt.boxes[index]
    height = max(1, y1 - y0)
    row = []
    for j, (bx0, by0, _bx1, by1) in enumerate(receipt.boxes):
        if j == index or bx0 >= x0:
            continue
        overlap = min(y1, by1) - max(y0, by0)
        if overlap >= 0.5 * min(height, max(1, by1 - by0)):
            row.append(j)
    return row


def label_text(receipt: Receipt, index: int) -> str:
    """The amount's label: the words before it on its own OCR line ("TOTAL RM 9.00"), preceded by
    the nearest OCR lines to its left on the same visual row until one holds a label (a row may
    hold two label/amount pairs, so farther lines are not read)."""
    lines = receipt.line_ids or list(range(len(receipt.words)))
    own = [j for j in range(index) if lines[j] == lines[index]]
    row = [j for j in same_row(receipt, index) if lines[j] != lines[index]]
    # Lines to the left, nearest first, until one holds a real label (not just "RM" or ":").
    by_line: dict[int, list[int]] = {}
    for j in sorted(row, key=lambda j: -receipt.boxes[j][2]):
        by_line.setdefault(lines[j], []).append(j)
    text = "".join(receipt.words[j] for j in own).upper()
    for words in by_line.values():
        text = "".join(receipt.words[j] for j in sorted(words)).upper() + text
        if len(re.sub(r"[^A-Z]", "", text.replace("RM", ""))) >= 3:
            break
    return text


def label_score(text: str) -> int:
    """+1 for a total's label text (``label_text``), -1 for a subtotal/cash/change/tax/item one,
    0 for neither."""
    if "SUB" not in text and any(w in text for w in STRONG_TOTAL_WORDS):
        return 1
    if any(w in text for w in NOT_TOTAL_WORDS) or _names_tax(text):
        return -1
    if any(w in text for w in TOTAL_WORDS):
        return 1
    return 0


def _names_tax(text: str) -> bool:
    """Whether label text names a tax ("TOTAL GST", "6% GST"), not one included ("INCL. GST")."""
    return ("GST" in text or "TAX" in text) and "INC" not in text


def is_tax_label(text: str) -> bool:
    """Whether label text marks the tax itself ("TOTAL GST", "6% GST"): a ``label_score`` of -1
    for naming a tax, not for a ``NOT_TOTAL_WORDS`` word ("AMT EXCL. GST" is the amount before
    it)."""
    return label_score(text) < 0 and _names_tax(text) and not any(w in text for w in NOT_TOTAL_WORDS)


def row_score(receipt: Receipt, index: int) -> int:
    """``label_score`` of word ``index``'s label (``label_text``)."""
    return label_score(label_text(receipt, index))


def total_candidates(receipt: Receipt, value: str, taken: Sequence[str]) -> list[tuple[int, int]]:
    """Spans ``[start, end)`` of one amount word, or a currency word and the amount after it."""
    amount = parse_amount(value)
    if amount is None:
        return []
    spans = []
    words = receipt.words
    for i, word in enumerate(words):
        if taken[i] != "O" or not any(c.isdigit() for c in word) or parse_amount(word) != amount:
            continue
        spans.append((i, i + 1))
        same_line = i > 0 and receipt.line_ids is not None and receipt.line_ids[i - 1] == receipt.line_ids[i]
        if same_line and taken[i - 1] == "O" and CURRENCY_WORD.match(words[i - 1]):
            spans.append((i - 1, i + 1))
    return spans


def label_total(
    receipt: Receipt, value: str, taken: Sequence[str], all_totals: bool = True
) -> list[tuple[int, int]]:
    """Spans to label as the total: the best occurrence, or all equally good total-line ones."""
    spans = total_candidates(receipt, value, taken)
    if not spans:
        return []
    want = collapse_ws(value)

    def rank(span: tuple[int, int]) -> tuple[int, int, int]:
        amount_word = span[1] - 1
        exact = int(field_text("total", receipt.words[span[0] : span[1]]) == want)
        return exact, row_score(receipt, amount_word), receipt.boxes[amount_word][1]

    ranked = sorted(spans, key=rank, reverse=True)
    best = ranked[0]
    chosen = [best]
    if all_totals:
        chosen += [s for s in ranked[1:] if rank(s)[:2] == rank(best)[:2] and rank(s)[1] > 0]
    # Overlapping candidates ("RM" "9.00" and "9.00"): keep the better-ranked of each overlap.
    kept: list[tuple[int, int]] = []
    for span in chosen:
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return sorted(kept)
