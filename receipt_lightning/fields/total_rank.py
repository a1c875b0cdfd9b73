"""The total as a ranking over the receipt's amounts: the model's probability and the amount's
printed label together.

A tagger reads each word in a window of context and often leans to the wrong one of several
amounts a receipt prints (the subtotal before tax, the cash tendered, an amount before rounding),
while the label printed beside each amount ("TOTAL", "ROUNDED TOTAL" against "CASH", "CHANGE",
"SUB TOTAL") is what tells them apart. Every word holding one amount in cents is a candidate,
scored

    ln(P(total) + ``PROB_FLOOR``) + ``ROW_WEIGHT`` * row_score

where ``row_score`` is weak labelling's own judgement of its label (+1 a total's, -1 a subtotal,
cash, change, tax or item line's, 0 neither; ``total_match.row_score``). The decoder's span is
replaced when the best candidate holds another amount; where no word reads as a total, the best
candidate fills it (a guess pays when it is right about half the time or more: micro F1 is
about 0.86).

Measured on three development folds of the training receipts (docs/sroie.md, "Decoding rules
measured on six models"): six models (trained on SROIE's lines, or on lines and OCR'd scans),
each scored on its held-out receipts' lines and scans, 960 totals. 773 right with the decoder's
span alone (and the old fallback), 783 with this ranking over any amount, 817 with only amounts
in cents competing and empty totals filled, for 36 more predicted; no model lost on either
input. The weight was picked on the three lines + scans models (1 against 0.5 and 2; a
repetition count and an "is the largest amount" term added nothing held out) and confirmed on
the three lines-only ones.

A chosen amount that is not a multiple of 5 sen gives way to its rounding to 5 sen when the
receipt prints that too (``ROUNDING_SEN``): Malaysian cash totals are rounded to 5 sen, and the
keys hold the amount paid (``52.08`` printed above ``ROUNDED TOTAL 52.10``; the label rarely
survives OCR whole). Out of fold over all 501 receipts (the five cross-validation models):
totals +8 -1 on scans, +6 -2 on lines; on the six development-fold models +16 -2 and +7 -2;
the labelling bound loses 2 of 501 totals (keys that hold the unrounded amount).

A chosen amount that is the amount before tax gives way to the amount with tax when the receipt
prints that too (``TAX_RATE``, Malaysia's 6 % GST of 2015-2018, when these receipts were printed;
to the sen, or rounded to 5 sen), on a line whose label is not a cash, change, subtotal or
tax line's (``row_score`` >= 0): a tagger reads `565.50` above `GST 6% 33.93` and `TOTAL
599.45` as the total more often than the layout would suggest. Out of fold over all 501
receipts (the cross-validation models of docs/sroie.md; ninth session): `+experiment=sroie` +4
totals, none lost; across seven recipe/input pairs +1 to +6, at most 1 lost. Without the label
condition the cash tendered wins where it happens to be 6 % above (`141.50` -> `150.00`: 3 lost
per recipe); any printed sum (total = subtotal + another printed amount) instead of the rate
loses 17-21.

Three more facts about receipts, found in the out-of-fold error list of the five one-model folds
over all 501 receipts (2026-12-02, third session) and measured by re-decoding their cached word
probabilities (docs/sroie.md, "Totals and companies: six more rules"; the labelling bound is
unchanged):

- an amount on a tax line ("TOTAL GST : 5.76", "6% GST 0.07"; ``total_match.is_tax_label``) is
  never the total while another amount competes (``TAX_ROW_SCORE``): the model gave such an
  amount 0.9 where the total line had 0.01; +3 totals, none lost (-1, as any other line: +0;
  -3: +2; -5 to -20: +3);
- an amount of 0 is never the total (``ZERO_IS_NO_TOTAL``; no key of the 501 is 0): +1, none lost;
- an amount chosen on a payment line ("CASH", "ACCEPTED TOTAL") gives way to itself less the change
  printed on a change line where the receipt prints that amount on a line not labelled otherwise
  (a parking machine's "ACCEPTED TOTAL 10.00", "CHANGE 5.00", "AMOUNT INCL. GST 5.00"): +1, none
  lost; without the payment-line condition it moved a right total to an item priced at the total
  less the change (the labelling bound lost it).

The issue's ranking with arithmetic agreement (2026-12-03): an amount that is the cash tendered
less the change, both printed on their labelled lines, scores ``PAID_WEIGHT`` more
(``paid_less_change``). It finds the total where the tagger chose the tax included
(`(BILL INCLUSIVE OF 6% GST : RM2.21)` under `GRAND TOTAL RM39.00`), an item's price, or a
service charge, and where a column layout leaves the total's own label unreadable (`SUBTOTAL`
`CASH` `CHANGE` printed above `RM53.60` `RM100.00` `RM46.40`). Out of fold +5 totals on lines and
+4 on scans, none lost; the labelling bound is unchanged (docs/sroie.md, "Totals: the cash less
the change").
"""

from __future__ import annotations

import math
import re

import numpy as np

from receipt_lightning.fields.normalize import has_digit
from receipt_lightning.fields.text_match import parse_amount
from receipt_lightning.fields.total_match import (
    CURRENCY_WORD,
    is_tax_label,
    label_score,
    label_text,
    row_score,
)
from receipt_lightning.receipt import Receipt

# Added to a probability before its log, so a word the model gives ~0 still ranks by its label
# (ln 1e-4 = -9.2, far below any label's +-1).
PROB_FLOOR = 1e-4
# Weight of the printed label against ln P(total): one step of the label is worth a factor e
# (2.7x) of probability.
ROW_WEIGHT = 1.0
# Only an amount in cents may replace the decoder's choice or fill an empty total: every one of the
# 500 totals in the shared SROIE keys is written with two decimals, while the integers a receipt
# prints (a quantity, a table or receipt number, a year) make wrong guesses. A model's own span is
# kept whatever its form (a currency without cents still gets the model's total).
CENTS = re.compile(r"\d\.\d\d(?!\d)")
# A currency word before the chosen amount joins it ("RM" "9.00" -> "RM 9.00") when the model
# gives it the total at least this probability (the keys keep a printed prefix more often than not).
CURRENCY_MIN_PROB = 0.5
# An amount of 0 is never the total (no key of the 501 is): a rounding, discount or tax line's
# "0.00" chosen by the model gives way to the best-ranked other amount, and none competes.
ZERO_IS_NO_TOTAL = True
# The label score of an amount on a tax line ("TOTAL GST 5.76"), in place of ``row_score``'s -1.
TAX_ROW_SCORE = -10
# Cash totals are rounded to this many sen (Malaysia's rounding mechanism); an amount up to
# ``ROUNDING_SEN // 2`` sen away is its unrounded form.
ROUNDING_SEN = 5
# The sales tax the receipts add to a subtotal (Malaysian GST, 6 % from 2015 to 2018), and how far
# in sen the total printed may be from the subtotal with it (the tax is rounded per line).
TAX_RATE = 0.06
TAX_TOLERANCE_SEN = 1
# Added to the score of an amount that is the cash tendered less the change printed beside it
# (``paid_less_change``): of the 501 shared receipts, 203 print both, the difference is the key's
# total on 195 of them (on the other 8 the key holds the amount before 5-sen rounding, 7, or
# before tax, 1), and it is never two printed amounts; so it outweighs all but a model ~3,000x
# (e^8) surer of another amount. Out of fold (the five one-model CV folds): lines +5 totals,
# scans +4, none lost, at every weight from 8 to 20 (5: one scan less; 1-3: two to three less).
PAID_WEIGHT = 8.0
# The label of the change given back (English, Malay); the cash tendered less it is the total.
CHANGE_LABEL = re.compile(r"CHANGE|BAKI")
# The label of the amount the customer handed over (English, Malay). "PAID": "TOTAL PAID RM20.20"
# above "CHANGE RM6.00" (out of fold +1 total on lines through ``paid_less_change``, none lost).
PAYMENT_LABEL = re.compile(r"CASH|TENDER|ACCEPTED|TUNAI|PAID")


def rounded_cents(cents: int, step: int = ROUNDING_SEN) -> int:
    """``cents`` rounded to the nearest multiple of ``step`` (halves up: 2.5 sen never occurs)."""
    return step * ((cents + step // 2) // step)


def paid_less_change(receipt: Receipt, amounts: list[float | None]) -> set[int]:
    """Cents of each amount printed on a payment line ("CASH", "TUNAI", "TOTAL PAID") less each
    amount above 0 printed on a change line ("CHANGE", "BAKI"): the amount paid, when both are
    printed.

    ``amounts``: the amount each word holds, None for other words."""
    change = change_cents(receipt, amounts)
    paid = set()
    for i, amount in enumerate(amounts):
        if amount is not None and amount > 0:
            label = label_text(receipt, i)
            if PAYMENT_LABEL.search(label) and not CHANGE_LABEL.search(label):
                paid.add(round(amount * 100))
    return {p - c for p in paid for c in change if p > c}


def change_cents(receipt: Receipt, amounts: list[float | None]) -> set[int]:
    """Cents of each amount above 0 printed on a change line ("CHANGE", "BAKI")."""
    return {
        round(a * 100)
        for i, a in enumerate(amounts)
        if a is not None and a > 0 and CHANGE_LABEL.search(label_text(receipt, i))
    }


def candidate_score(receipt: Receipt, field_prob: np.ndarray, index: int, paid: bool = False) -> float:
    """Score of word ``index`` (an amount) as the total; higher is better. ``paid``: the amount
    is the cash tendered less the change (``paid_less_change``)."""
    label = label_text(receipt, index)
    row = TAX_ROW_SCORE if is_tax_label(label) else label_score(label)
    return math.log(float(field_prob[index]) + PROB_FLOOR) + ROW_WEIGHT * row + PAID_WEIGHT * paid


def rerank_total(
    receipt: Receipt, field_prob: np.ndarray, span: tuple[int, int] | None
) -> tuple[int, int] | None:
    """The decoder's total ``span``, or the span of a better-ranked amount (see module docstring);
    with no ``span`` (no word reads as a total), the best-ranked amount, or None where the receipt
    prints no amount in cents.

    ``field_prob``: P(B-total) + P(I-total) per word.
    """
    words = receipt.words
    amounts = [parse_amount(w) if CENTS.search(w) else None for w in words]
    current = set() if span is None else {parse_amount(w) for w in words[span[0] : span[1]] if has_digit(w)}
    if ZERO_IS_NO_TOTAL:
        amounts = [a or None for a in amounts]
        if current and not any(current):
            span, current = None, set()
    best, best_score = None, -math.inf
    paid = paid_less_change(receipt, amounts)
    for i, amount in enumerate(amounts):
        if amount is None:
            continue
        score = candidate_score(receipt, field_prob, i, round(amount * 100) in paid)
        if score > best_score:
            best, best_score = i, score
    if best is None or amounts[best] in current:
        chosen = span
    else:
        chosen = _with_currency(receipt, field_prob, best)
    chosen = _prefer_paid(receipt, field_prob, chosen, amounts)
    return _prefer_rounded(field_prob, _prefer_taxed(receipt, field_prob, chosen, amounts), amounts)


def _span_cents(span: tuple[int, int] | None, amounts: list[float | None]) -> int | None:
    """The last amount ``span`` holds, in cents; None without one."""
    held = [amounts[i] for i in range(*span) if amounts[i] is not None] if span is not None else []
    return round(held[-1] * 100) if held else None


def _most_probable(field_prob: np.ndarray, indexes: list[int]) -> int:
    """The word of ``indexes`` the model gives the total most probability, the first on a tie."""
    return max(indexes, key=lambda i: (float(field_prob[i]), -i))


def _prefer_paid(
    receipt: Receipt, field_prob: np.ndarray, span: tuple[int, int] | None, amounts: list[float | None]
) -> tuple[int, int] | None:
    """``span``, or the most probable amount, on a line not labelled otherwise, that is the chosen
    amount less the change printed on a change line: the chosen amount is then the cash tendered
    (module docstring)."""
    cents = _span_cents(span, amounts)
    if span is None or cents is None or not PAYMENT_LABEL.search(label_text(receipt, span[1] - 1)):
        return span
    paid = {cents - c for c in change_cents(receipt, amounts) if cents - c > 0}
    found = [
        i
        for i, a in enumerate(amounts)
        if a is not None and round(a * 100) in paid and row_score(receipt, i) >= 0
    ]
    if not found:
        return span
    return _with_currency(receipt, field_prob, _most_probable(field_prob, found))


def _prefer_taxed(
    receipt: Receipt, field_prob: np.ndarray, span: tuple[int, int] | None, amounts: list[float | None]
) -> tuple[int, int] | None:
    """``span``, or the most probable amount on a line not labelled otherwise that prints its
    amount with ``TAX_RATE`` added (module docstring)."""
    cents = _span_cents(span, amounts)
    if span is None or cents is None:
        return span
    taxed = cents * (1 + TAX_RATE)
    found = [
        i
        for i, a in enumerate(amounts)
        if a is not None
        and round(a * 100) > cents
        and (
            abs(round(a * 100) - taxed) <= TAX_TOLERANCE_SEN or round(a * 100) == rounded_cents(round(taxed))
        )
        and row_score(receipt, i) >= 0
    ]
    if not found:
        return span
    return _with_currency(receipt, field_prob, _most_probable(field_prob, found))


def _with_currency(receipt: Receipt, field_prob: np.ndarray, best: int) -> tuple[int, int]:
    """The span of amount word ``best``, with a currency word before it on its line that the
    model gives the total (``CURRENCY_MIN_PROB``)."""
    words = receipt.words
    lines = receipt.line_ids
    if (
        best > 0
        and CURRENCY_WORD.match(words[best - 1])
        and (lines is None or lines[best - 1] == lines[best])
        and field_prob[best - 1] >= CURRENCY_MIN_PROB
    ):
        return best - 1, best + 1
    return best, best + 1


def _prefer_rounded(
    field_prob: np.ndarray, span: tuple[int, int] | None, amounts: list[float | None]
) -> tuple[int, int] | None:
    """``span``, or the most probable word printing its amount rounded to ``ROUNDING_SEN`` when
    that amount is not already a multiple of it (module docstring)."""
    cents = _span_cents(span, amounts)
    if span is None or cents is None:
        return span
    target = rounded_cents(cents)
    if target == cents:
        return span
    rounded = [i for i, a in enumerate(amounts) if a is not None and round(a * 100) == target]
    if not rounded:
        return span
    best = _most_probable(field_prob, rounded)
    return best, best + 1
