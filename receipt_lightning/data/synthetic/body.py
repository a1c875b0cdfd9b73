"""The body of a synthetic receipt: line items, the totals block, payment and footer.

Money is computed in integer cents so printed amounts always add up. Only the final total's
amount is labelled "total"; the subtotal ("subtotal"), the tax amount ("tax") and every other
amount (item prices, rounding, cash, change, GST summary) are there to be told apart from it.
The final total always sits on the line of a TOTAL-like keyword, after subtotal, tax and rounding,
and that line is often printed double height (taller boxes), as on many till receipts.
"""

from __future__ import annotations

import random

from receipt_lightning.data.synthetic import vocab
from receipt_lightning.data.synthetic.layout import Line, Token, tokens

# Keywords of the final total; "BALANCE" is kept for change (its Malaysian use), never a total.
# fmt: off
TOTAL_KEYS: tuple[str, ...] = (
    "TOTAL", "TOTAL:", "TOTAL (RM)", "TOTAL (RM):", "TOTAL RM", "GRAND TOTAL", "NETT TOTAL", "TOTAL AMOUNT",
    "ROUNDED TOTAL (RM):", "TOTAL INCL. GST", "TOTAL DUE", "AMOUNT DUE",
)
INTL_TOTAL_KEYS: tuple[str, ...] = ("TOTAL", "TOTAL:", "TOTAL DUE", "GRAND TOTAL", "AMOUNT DUE")
SUBTOTAL_KEYS: tuple[str, ...] = (
    "SUB TOTAL", "SUBTOTAL", "SUB-TOTAL", "SUB TOTAL (RM)", "SUBTOTAL:", "SUB TOTAL (EXCL GST)",
)
# fmt: on
P_TALL_TOTAL = 0.6  # share of tills that print the total line double height


def money(cents: int) -> str:
    """Cents as a printed amount: 900 -> "9.00", -2 -> "-0.02"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _items(rng: random.Random, kind: str) -> list[tuple[int, str, int]]:
    """(quantity, description, unit price in cents) for 1-8 distinct goods."""
    goods = rng.sample(
        vocab.GOODS[kind], k=min(len(vocab.GOODS[kind]), rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8)))
    )
    step = rng.choice((1, 5, 10))  # cents: some shops price to the 5 or 10 sen
    out = []
    for name, price in goods:
        unit = max(step, round(price * rng.uniform(0.7, 1.3) * 100 / step) * step)
        out.append((rng.choice((1, 1, 1, 1, 1, 1, 2, 2, 3, 4, 6, 10)), name, unit))
    return out


def item_lines(rng: random.Random, kind: str, cols: int, intl: bool) -> tuple[list[Line], int, int]:
    """The item table; returns (lines, sum of amounts in cents, total quantity)."""
    items = _items(rng, kind)
    style = rng.randrange(3)
    lines: list[Line] = []
    if rng.random() < 0.7:
        header = ("QTY DESCRIPTION", "AMOUNT") if style == 0 else ("ITEM", "QTY PRICE AMOUNT")
        lines.append([("l", 0, tokens(header[0])), ("r", cols, tokens(header[1] if not intl else "AMT"))])
    if rng.random() < 0.5:
        lines.append([("l", 0, tokens("-" * (cols - rng.randint(0, 4))))])
    tax_code = rng.choice(("", "", "SR", "S", "ZR", "T")) if not intl else ""
    amount_col = cols - (len(tax_code) + 1 if tax_code else 0)
    total = 0
    for qty, name, unit in items:
        amount = qty * unit
        total += amount
        code = [("r", cols, tokens(tax_code))] if tax_code else []
        desc = tokens(name[: max(8, amount_col - 20)])  # chars: room for qty and prices
        if style == 0:  # 2 MILO 1KG ........ 31.80
            lines.append(
                [("l", 0, tokens(str(qty))), ("l", 4, desc), ("r", amount_col, tokens(money(amount))), *code]
            )
        elif style == 1:  # description, then "2 X 15.90   31.80"
            unit_text = money(unit) + ("0" if rng.random() < 0.2 else "")  # "9.000" as some tills print
            times = rng.choice(("X", "x", "@", "*"))
            lines.append([("l", 0, desc)])
            qty_toks = tokens(f"{qty} {times} {unit_text}")
            lines.append([("l", 4, qty_toks), ("r", amount_col, tokens(money(amount))), *code])
        else:  # MILO 1KG   2   15.90   31.80
            lines.append(
                [
                    ("l", 0, desc),
                    ("r", amount_col - 16, tokens(str(qty))),
                    ("r", amount_col - 8, tokens(money(unit))),
                    ("r", amount_col, tokens(money(amount))),
                    *code,
                ]
            )
    return lines, total, sum(q for q, _, _ in items)


def _amount_line(
    rng: random.Random, key: str, cents: int, cols: int, role: str | None, currency: str, tall: bool = False
) -> Line:
    amount: list[Token] = tokens(money(cents), role)
    if currency and rng.random() < 0.3:
        amount = tokens(currency) + amount  # "RM 9.00": the currency is its own word, unlabelled
    left, right = ("l+", "r+") if tall else ("l", "r")
    if rng.random() < 0.15:  # amount right after the keyword instead of in the amount column
        return [(left, 0, tokens(key) + amount)]
    return [(left, 0, tokens(key)), (right, cols, amount)]


def totals_lines(
    rng: random.Random, subtotal: int, qty: int, cols: int, kind: str, intl: bool
) -> tuple[list[Line], int, int, str]:
    """Subtotal, discount, service charge, tax, rounding and the final total.

    Returns (lines, total in cents, tax in cents, tax name such as "GST"). Rounding is to the
    nearest 5 sen, as Malaysian tills do.
    """
    currency = "$" if intl else "RM"
    lines: list[Line] = []
    if rng.random() < 0.3:
        lines.append(
            [("l", 0, tokens(rng.choice(("TOTAL QTY:", "TOTAL ITEMS:", "ITEM COUNT:", "QTY:")) + f" {qty}"))]
        )
    discount = min(subtotal // 2, rng.choice((0, 0, 0, 0, subtotal // 10, 100)))
    service = subtotal // 10 if kind == "restaurant" and rng.random() < 0.5 else 0
    mode = rng.choice(("none", "added", "added", "included"))
    # hundredths of a percent: 600 is 6 %
    rate = (825 if intl else rng.choice((600, 600, 1000))) if mode != "none" else 0
    base = subtotal - discount + service
    tax = round(base * rate / 10000) if mode == "added" else round(base * rate / (10000 + rate))
    pre = base + (tax if mode == "added" else 0)
    rounding = 0 if intl else (round(pre / 5) * 5 - pre)
    total = pre + rounding
    tax_name = "SALES TAX" if intl else rng.choice(("GST", "SST", "SERVICE TAX")) if rate != 1000 else "SST"
    tax_key = f"{tax_name} {rng.choice(('', '@'))}{rate / 100:g}%"
    if mode == "added" or discount or service or rounding or rng.random() < 0.7:
        lines.append(_amount_line(rng, rng.choice(SUBTOTAL_KEYS), subtotal, cols, "subtotal", currency))
    if discount:
        lines.append(
            _amount_line(rng, rng.choice(("DISCOUNT", "DISC", "LESS DISCOUNT")), -discount, cols, None, "")
        )
    if service:
        lines.append(_amount_line(rng, "SERVICE CHARGE 10%", service, cols, None, ""))
    if mode == "added":
        lines.append(_amount_line(rng, tax_key, tax, cols, "tax", currency))
    if rounding or (not intl and rng.random() < 0.5):
        lines.append(
            _amount_line(
                rng, rng.choice(("ROUNDING ADJ", "ROUNDING", "ROUNDING ADJUSTMENT")), rounding, cols, None, ""
            )
        )
    keys = INTL_TOTAL_KEYS if intl else TOTAL_KEYS
    tall = rng.random() < P_TALL_TOTAL
    lines.append(_amount_line(rng, rng.choice(keys), total, cols, "total", currency, tall))
    if mode == "included":  # the tax is part of the total; printed after it
        lines.append(_amount_line(rng, f"{tax_name} INCLUDED", tax, cols, "tax", ""))
    return lines, total, tax, tax_name


def payment_lines(rng: random.Random, total: int, cols: int) -> list[Line]:
    """Cash tendered (more than the total) and change, or a card payment."""
    if rng.random() < 0.8:
        note = rng.choice((100, 500, 1000, 5000, 10000))  # cents: the notes a customer hands over
        cash = max(note, -(-total // note) * note)
        if rng.random() < 0.15:
            cash = total  # exact money
        return [
            _amount_line(rng, rng.choice(("CASH", "CASH:", "TENDER", "PAID")), cash, cols, None, ""),
            _amount_line(rng, rng.choice(("CHANGE", "CHANGE:", "BALANCE")), cash - total, cols, None, ""),
        ]
    card = rng.choice(("VISA", "MASTERCARD", "CREDIT CARD", "DEBIT CARD"))
    last4 = "".join(str(rng.randint(0, 9)) for _ in range(4))
    return [
        _amount_line(rng, card, total, cols, None, ""),
        [("l", 0, tokens(f"CARD NO: XXXX XXXX XXXX {last4}"))],
    ]


def gst_summary_lines(rng: random.Random, total: int, tax: int, cols: int) -> list[Line]:
    """The GST summary table: more amounts that are neither total nor subtotal."""
    rate = rng.choice(("SR @ 6%", "S=GST @6%", "SR 6%"))
    return [
        [("l", 0, tokens(rng.choice(("GST SUMMARY", "GST SUMMARY:")))), ("r", cols, tokens("AMOUNT TAX"))],
        [
            ("l", 0, tokens(rate)),
            ("r", cols - 8, tokens(money(total - tax))),
            ("r", cols, tokens(money(tax))),
        ],
        [("l", 0, tokens("ZR @ 0%")), ("r", cols - 8, tokens("0.00")), ("r", cols, tokens("0.00"))],
    ]


def footer_lines(rng: random.Random) -> list[Line]:
    """Closing text, centred."""
    lines: list[Line] = [[("c", 0, tokens(text))] for text in rng.choice(vocab.FOOTERS)]
    if rng.random() < 0.3:
        lines.insert(rng.randint(0, len(lines)), [("c", 0, tokens("*" * rng.randint(3, 12)))])
    return lines
