"""The top of a synthetic receipt: company, registration number, address, phone and tax id.

Every function returns printed lines (see ``synthetic_layout``) whose tokens carry a role:
"company" and "address" words are the key values, "phone" the telephone number; the rest
(registration numbers, "TEL:", the fax number, GST ids) are unlabelled context.
"""

from __future__ import annotations

import random

from receipt_lightning.data.synthetic import vocab
from receipt_lightning.data.synthetic.layout import Line, tokens, wrap


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def merchant_name(rng: random.Random, kind: str, intl: bool) -> str:
    """A company name as printed at the top of the receipt (and typed in the key)."""
    if intl:
        root = rng.choice(vocab.INTL_ROOTS)
        word = rng.choice(vocab.KIND_WORDS[kind]).replace("KEDAI RUNCIT", "GROCERY")
        return " ".join(w for w in (root, word, rng.choice(vocab.INTL_SUFFIXES)) if w)
    if rng.random() < 0.12:
        return rng.choice(vocab.CHAINS)
    root = rng.choice(vocab.NAME_ROOTS)
    word = rng.choice(vocab.KIND_WORDS[kind])
    suffix = rng.choice(vocab.MY_SUFFIXES)
    if word in ("KEDAI RUNCIT", "RESTORAN", "FARMASI"):
        parts = (word, root, suffix)  # Malay word order: "KEDAI RUNCIT ABC SDN BHD"
    else:
        parts = (root, word, suffix)
    if rng.random() < 0.1:
        parts = ("SYARIKAT PERNIAGAAN", root, suffix)
    return " ".join(p for p in parts if p)


def company_lines(rng: random.Random, name: str, cols: int, align: str) -> list[Line]:
    """The company name, wrapped like a header (a long name takes two lines)."""
    limit = rng.randint(max(16, cols // 2), cols - 2)
    return [[(align, 0, tokens(" ".join(words), "company"))] for words in wrap(name.split(), limit)]


def registration_line(rng: random.Random, align: str) -> Line:
    """A company registration number: "(789417-W)", "CO. REG: 123456-X", ..."""
    number = f"{_digits(rng, rng.choice((6, 7)))}-{rng.choice('AKPDHTUVWX')}"
    text = rng.choice(("({n})", "CO. REG: {n}", "ROC NO: {n}", "COMPANY NO. {n}", "{n}"))
    return [(align, 0, tokens(text.format(n=number)))]


def _my_address_parts(rng: random.Random) -> list[str]:
    city = rng.choice(sorted(vocab.CITIES))
    postcode, state = vocab.CITIES[city]
    comma = rng.choice((",", ",", "", "."))
    number = rng.choice(("NO. {}", "NO.{}", "{}", "LOT {}", "G-{}", "NO {}")).format(rng.randint(1, 300))
    if rng.random() < 0.2:
        number += rng.choice((" & {}", ", {}")).format(rng.randint(1, 300))
    street = f"{rng.choice(vocab.STREET_WORDS)} {rng.choice(vocab.STREET_NAMES)}"
    if rng.random() < 0.6:
        street += f" {rng.randint(1, 30)}" + rng.choice(("", "", f"/{rng.randint(1, 9)}"))
    parts = [number + comma, street + comma]
    if rng.random() < 0.7:
        parts.append(f"{rng.choice(vocab.TAMAN_WORDS)} {rng.choice(vocab.TAMANS)}{comma}")
    parts.append(f"{postcode} {city}{comma}")
    if rng.random() < 0.6 and state != city:
        parts.append(state + rng.choice((".", "", "")))
    return parts


def _intl_address_parts(rng: random.Random) -> list[str]:
    city, region, template = rng.choice(vocab.INTL_CITIES)
    postcode = "".join(str(rng.randint(0, 9)) if ch == "#" else ch for ch in template)
    parts = [f"{rng.randint(1, 9999)} {rng.choice(vocab.INTL_STREETS)}"]
    if rng.random() < 0.3:
        parts.append(f"SUITE {rng.randint(100, 900)}")
    parts.append(f"{city}, {region} {postcode}" if region else f"{city} {postcode}")
    return parts


def address_lines(rng: random.Random, cols: int, align: str, intl: bool) -> list[Line]:
    """A multi-line address; lines break between parts (street, taman, postcode+city, state)."""
    parts = _intl_address_parts(rng) if intl else _my_address_parts(rng)
    limit = rng.randint(max(20, cols // 2), cols - 2)
    lines: list[list[str]] = []
    current: list[str] = []
    for part in parts:
        if current and len(" ".join([*current, part])) > limit:
            lines.append(current)
            current = []
        current.append(part)
    lines.append(current)
    words_per_line = [w for line in lines for w in wrap(" ".join(line).split(), cols - 2)]
    return [[(align, 0, tokens(" ".join(words), "address"))] for words in words_per_line]


def _phone(rng: random.Random, intl: bool) -> str:
    if intl:
        return f"({_digits(rng, 3)}) {_digits(rng, 3)}-{_digits(rng, 4)}"
    area = rng.choice(("03", "07", "04", "05", "06", "09"))
    return rng.choice(
        (
            f"{area}-{_digits(rng, 4)} {_digits(rng, 4)}",
            f"{area}-{_digits(rng, 7)}",
            f"{area}-{_digits(rng, 8)}",
        )
    )


def contact_lines(rng: random.Random, cols: int, align: str, intl: bool) -> list[Line]:
    """ "TEL: 07-3523888" (the number labelled "phone"), sometimes with a fax number."""
    key = (
        rng.choice(("TEL:", "TEL :", "TEL NO:", "PHONE:", "TEL"))
        if not intl
        else rng.choice(("TEL:", "PHONE:", "PH"))
    )
    line = tokens(key) + tokens(_phone(rng, intl), "phone")
    fax = tokens(rng.choice(("FAX:", "FAX :", "FAX")) + " " + _phone(rng, intl))
    if rng.random() < 0.3 and len(" ".join(t for t, _ in line + fax)) < cols - 2:
        return [[(align, 0, line + fax)]]
    if rng.random() < 0.3:
        return [[(align, 0, line)], [(align, 0, fax)]]
    return [[(align, 0, line)]]


def tax_id_line(rng: random.Random, align: str, intl: bool) -> Line:
    """The merchant's tax registration: "GST ID: 000123456789", "SST ID: W10-1808-31000123"."""
    if intl:
        return [(align, 0, tokens(rng.choice(("VAT NO: GB", "TAX ID: ")) + _digits(rng, 9)))]
    if rng.random() < 0.7:
        key = rng.choice(("GST ID:", "GST ID :", "GST REG NO:", "GST NO:", "GST REG #"))
        return [(align, 0, tokens(f"{key} {_digits(rng, 12)}"))]
    return [(align, 0, tokens(f"SST ID: W10-{_digits(rng, 4)}-{_digits(rng, 8)}"))]


def header_lines(rng: random.Random, name: str, cols: int, intl: bool) -> list[Line]:
    """Company, optional registration number, address, contacts and tax id, in SROIE's order."""
    align = "c" if rng.random() < 0.8 else "l"
    lines = company_lines(rng, name, cols, align)
    if not intl and rng.random() < 0.7:
        lines.append(registration_line(rng, align))
    lines += address_lines(rng, cols, align, intl)
    if rng.random() < 0.85:
        lines += contact_lines(rng, cols, align, intl)
    if rng.random() < 0.6:
        lines.append(tax_id_line(rng, align, intl))
    return lines
