"""Dates and times on a synthetic receipt: the transaction date (labelled "date", as printed),
the time next to it ("time"), the document number and cashier lines around them, and a later
"expiry" date in the footer as an unlabelled distractor.
"""

from __future__ import annotations

import datetime as dt
import random

from receipt_lightning.data.synthetic import vocab
from receipt_lightning.data.synthetic.layout import Line, Token, tokens

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Printed date formats seen on SROIE receipts; fields: d day, m month, b month name, Y/y year.
DATE_FORMATS: tuple[str, ...] = (
    "{d}/{m}/{Y}",
    "{d}-{m}-{Y}",
    "{Y}-{m}-{d}",
    "{d} {b} {Y}",
    "{d}.{m}.{y}",
    "{d}/{m}/{y}",
    "{d}-{m}-{y}",
    "{d} {b} {y}",
    "{d}-{b}-{Y}",
    "{Y}/{m}/{d}",
    "{d}.{m}.{Y}",
)
FIRST_DAY = dt.date(2016, 1, 1)
DAYS = 4 * 365  # transaction dates span 2016-2019, as SROIE's do


def random_date(rng: random.Random) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS))


def format_date(day: dt.date, fmt: str) -> str:
    """`day` in one of DATE_FORMATS, upper-case month names, zero-padded day and month."""
    return fmt.format(
        d=f"{day.day:02d}",
        m=f"{day.month:02d}",
        b=MONTHS[day.month - 1],
        Y=f"{day.year:04d}",
        y=f"{day.year % 100:02d}",
    )


def format_time(rng: random.Random) -> str:
    """A time of day as tills print it: "20:13", "20:13:39", "8:13:39 PM", "08:13PM"."""
    hour, minute, second = rng.randint(7, 22), rng.randrange(60), rng.randrange(60)
    h12 = (hour - 1) % 12 + 1
    ampm = "PM" if hour >= 12 else "AM"
    return rng.choice(
        (
            f"{hour:02d}:{minute:02d}",
            f"{hour:02d}:{minute:02d}:{second:02d}",
            f"{h12}:{minute:02d}:{second:02d} {ampm}",
            f"{h12:02d}:{minute:02d} {ampm}",
            f"{h12}:{minute:02d}{ampm}",
        )
    )


def _doc_number(rng: random.Random) -> list[Token]:
    number = rng.choice(vocab.DOC_PREFIXES) + "".join(
        str(rng.randint(0, 9)) for _ in range(rng.randint(5, 9))
    )
    return tokens(f"{rng.choice(vocab.DOC_KEYS)} {number}")


def info_lines(rng: random.Random, day: dt.date, cols: int) -> list[Line]:
    """Document number, date and time, cashier: several layouts, the date always printed once."""
    date = tokens(format_date(day, rng.choice(DATE_FORMATS)), "date")
    time = tokens(format_time(rng), "time")
    cashier = tokens(
        f"{rng.choice(('CASHIER:', 'CASHIER :', 'OPERATOR:', 'STAFF:'))} {rng.choice(vocab.CASHIERS)}"
    )
    style = rng.randrange(6)
    lines: list[Line] = []
    if style == 0:  # DATE: 25/12/2018 / TIME: 20:13 on separate lines
        lines += [
            [("l", 0, _doc_number(rng))],
            [("l", 0, tokens("DATE:") + date)],
            [("l", 0, tokens("TIME:") + time)],
        ]
    elif style == 1:  # DATE : 25/12/2018 8:13:39 PM
        lines += [
            [("l", 0, _doc_number(rng))],
            [("l", 0, tokens(rng.choice(("DATE:", "DATE :"))) + date + time)],
        ]
    elif style == 2:  # 25-12-2018 20:13:05 alone, a till number on the right
        lines += [[("l", 0, date + time), ("r", cols, tokens(f"POS{rng.randint(1, 9):02d}"))]]
        lines.append([("l", 0, _doc_number(rng))])
    elif style == 3:  # DATE/TIME: 25.12.18 20:13
        lines += [[("l", 0, tokens(rng.choice(("DATE/TIME:", "DATE & TIME:"))) + date + time)]]
        lines.append([("l", 0, _doc_number(rng))])
    elif style == 4:  # INV NO: CS123 on the left, DATE: 25/12/2018 on the right
        lines.append([("l", 0, _doc_number(rng))])
        lines.append([("l", 0, tokens("DATE:") + date), ("r", cols, tokens("TIME:") + time)])
    else:  # the date centred under the title, time after it
        lines += [[("c", 0, date + time)], [("l", 0, _doc_number(rng))]]
    if rng.random() < 0.7:
        lines.append([("l", 0, cashier)])
    return lines


def expiry_line(rng: random.Random, day: dt.date) -> Line:
    """A later date the model must not take for the transaction date (points or voucher expiry)."""
    later = day + dt.timedelta(days=rng.randint(30, 400))
    key = rng.choice(("POINTS EXPIRY:", "VALID UNTIL", "VOUCHER EXP:", "EXCHANGE BEFORE", "EXP DATE:"))
    return [("c", 0, tokens(f"{key} {format_date(later, rng.choice(DATE_FORMATS))}"))]
