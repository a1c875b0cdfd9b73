"""Realistic synthetic receipts, generated offline and deterministically from a seed.

They imitate SROIE's scanned Malaysian till receipts (plus a minority of US/UK ones): company
and registration number at the top, a multi-line address, phone and tax ids, document number,
date and time, cashier, an item table, subtotal, tax, rounding, TOTAL, cash and change, a GST
summary and footer text, laid out on a 400-600 px wide page with OCR-like noise.

Labelling is consistent so that a small model can learn it: the company is always the first
line(s); the address follows it (after an optional registration line); the date is printed once
(the footer may carry a later *expiry* date, unlabelled); "total" labels only the final total's
amount, which follows a TOTAL-like keyword on its own line after subtotal, tax and rounding.
OCR noise never touches labelled words, so joining a field's words with single spaces gives
exactly ``Receipt.fields[field]``, as a person would have typed the SROIE key.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from receipt_lightning.data.synthetic import body, dates, header, vocab
from receipt_lightning.data.synthetic.layout import Line, render, tokens
from receipt_lightning.errors import InputError
from receipt_lightning.receipt import SROIE_FIELDS, Receipt

# Every field the generator can label; SROIE's four come first.
SYNTHETIC_FIELDS: tuple[str, ...] = (*SROIE_FIELDS, "time", "phone", "subtotal", "tax")
P_INTERNATIONAL = 0.15  # share of US/UK-style receipts ("$", sales tax, no rounding)


def generate_receipts(n: int, seed: int, fields: Sequence[str] = SROIE_FIELDS) -> list[Receipt]:
    """`n` synthetic receipts labelled (BIO) for `fields`, the same for the same `seed`.

    Receipt ``i`` depends only on `seed` and ``i`` (a prefix of a longer run is identical), ids
    are ``synthetic-000000``, ``synthetic-000001``, ...; use different seeds for different splits.
    `fields` may be any of ``SYNTHETIC_FIELDS``; ``Receipt.fields`` holds each one the receipt
    prints (SROIE's four always are; phone, subtotal and tax may be absent).
    """
    names = check_fields(fields)
    if n < 0:
        raise InputError(f"number of synthetic receipts must be >= 0, got {n}", source="data.synthetic")
    master = random.Random(seed)
    # One independent stream per receipt, drawn in order, so receipt i never depends on n.
    return [make_receipt(random.Random(master.getrandbits(64)), i, names) for i in range(n)]


def check_fields(fields: Sequence[str]) -> list[str]:
    """`fields` as a list, or an ``InputError`` naming the first one the generator cannot label."""
    if isinstance(fields, str):
        fields = [fields]  # a single field name, not a sequence of one-letter names
    names = list(fields)
    for name in names:
        if name not in SYNTHETIC_FIELDS:
            raise InputError(
                f"synthetic receipts cannot label field {name!r}; known fields: {', '.join(SYNTHETIC_FIELDS)}",
                source="data.synthetic",
            )
    if len(set(names)) != len(names):
        raise InputError(f"field list {names} repeats a field", source="data.synthetic")
    return names


def receipt_lines(rng: random.Random, cols: int) -> tuple[list[Line], str]:
    """Every printed line of one receipt, top to bottom, and the merchant kind."""
    kind = rng.choice(vocab.KINDS)
    intl = rng.random() < P_INTERNATIONAL
    day = dates.random_date(rng)
    lines = header.header_lines(rng, header.merchant_name(rng, kind, intl), cols, intl)
    lines.append([])
    if rng.random() < 0.8:
        lines.append([("c", 0, tokens(rng.choice(vocab.TITLES)))])
    lines += dates.info_lines(rng, day, cols)
    lines.append([])
    items, subtotal, qty = body.item_lines(rng, kind, cols, intl)
    lines += items
    if rng.random() < 0.6:
        lines.append([("l", 0, tokens("-" * (cols - rng.randint(0, 4))))])
    totals, total, tax, tax_name = body.totals_lines(rng, subtotal, qty, cols, kind, intl)
    lines += totals + body.payment_lines(rng, total, cols)
    if tax and tax_name == "GST" and rng.random() < 0.5:
        lines += [[], *body.gst_summary_lines(rng, total, tax, cols)]
    footer = body.footer_lines(rng)
    if rng.random() < 0.3:
        footer.insert(rng.randint(0, len(footer)), dates.expiry_line(rng, day))
    lines += [[], *footer]
    return lines, kind


def bio_labels(
    words: list[str], roles: list[str | None], fields: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """BIO tags for `fields` from each word's role, and each present field's value.

    A field's value is its words joined with single spaces; a word starts a new entity ("B-")
    unless the previous word has the same role.
    """
    wanted = set(fields)
    labels: list[str] = []
    found: dict[str, list[str]] = {}
    previous: str | None = None
    for word, role in zip(words, roles, strict=True):
        if role in wanted:
            labels.append(("I-" if role == previous else "B-") + role)
            found.setdefault(role, []).append(word)
        else:
            labels.append("O")
        previous = role
    return labels, {name: " ".join(found[name]) for name in fields if name in found}


def make_receipt(rng: random.Random, index: int, fields: Sequence[str]) -> Receipt:
    """Receipt number `index`, drawn entirely from `rng`."""
    cols = rng.randint(36, 48)  # characters per printed line: 58-80 mm till rolls
    lines, kind = receipt_lines(rng, cols)
    words, boxes, roles, line_ids, width, height = render(lines, cols, rng)
    labels, values = bio_labels(words, roles, fields)
    return Receipt(
        id=f"synthetic-{index:06d}",
        words=words,
        boxes=boxes,
        width=width,
        height=height,
        labels=labels,
        line_ids=line_ids,
        fields=values,
        source="synthetic",
        extra={"kind": kind},
    )
