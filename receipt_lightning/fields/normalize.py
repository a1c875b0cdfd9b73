"""Turn the words of one predicted span into the string a SROIE key holds.

Every rule here was chosen on the *training* split only (``sroie_split`` train ids; measured with
``receipt-lightning label-bound --split train``), never on the validation receipts:

- company/address: words joined with single spaces, then a lone "," or "." that OCR split off a
  word is glued back to the word before it ("BALAKONG ," -> "BALAKONG,"); the keys never put a
  space before a comma.
- company: a registration number in brackets at the end is dropped ("... SDN BHD(728384-M)" ->
  "... SDN BHD"): none of the 401 training company keys holds one, while receipts print it on
  the company's line.
- date: only the date itself is kept; a "DATE:" prefix or a time glued to the date is cut off.
- total: only the amount is kept, with the currency prefix exactly as printed ("RM9.00",
  "RM 9.00", "$9.00"), because the keys keep a printed prefix far more often than not (training
  split: stripping a glued "RM" +1 -29, stripping "$" +0 -21); words glued in front
  ("TOTAL:9.00") are cut off; thousands separators are dropped ("7,838.80" -> "7838.80", +1 -0).
- rejected on the training split (each lost more than it gained): dropping a trailing "," or "."
  of an address (+0 -12, +4 -88), turning it into "." (+2 -12), a space after every comma
  (+6 -56), or only where most commas have one (+1 -4), "." -> "," where "," dominates (+3 -24).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from receipt_lightning.fields.text_match import collapse_ws

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
# Most specific first: a numeric date with separators (year first, or day first), a date with a
# month name, then yyyymmdd. A four-digit year is 19xx or 20xx and a year-first date ends with a
# two-digit day, so a time that OCR glued on is no part of the date ("2018-01-0522:10",
# "04-05-1812:50" -> "2018-01-05", "04-05-18"), nor digits glued before it ("6001/06/2018" ->
# "01/06/2018"): out of fold on the OCR'd scans +4 dates of 501, none lost; on SROIE's lines no
# change (docs/ocr.md). All 501 date keys are still their own match.
_YEAR = r"(?:19|20)\d{2}"
DATE_PATTERN = re.compile(
    rf"\(?(?:{_YEAR}[/\-.]\d{{1,2}}[/\-.]\d{{2}}|\d{{1,2}}[/\-.]\d{{1,2}}[/\-.](?:{_YEAR}|\d{{2}}))\)?"
    rf"|\d{{1,2}}[ /\-]?(?:{_MONTHS})[A-Z]*[ /\-,]*(?:{_YEAR}|\d{{2}})"
    r"|(?<!\d)20\d{6}(?!\d)",
    re.IGNORECASE,
)
# An amount with the currency prefix as printed: "RM9.00", "RM 9.00", "$9.00", "-1.73", "1,234.50".
TOTAL_PATTERN = re.compile(r"(?:RM\s?|\$\s?)?-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?:RM\s?|\$\s?)?-?\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SPACE_BEFORE_COMMA = re.compile(r" (?=[,.](?: |$))")
# A postcode (five digits) that OCR glued to the town after it ("52100KL"): all 451 postcodes
# followed by a town in the shared SROIE keys are typed with a space, none glued.
_GLUED_POSTCODE = re.compile(r"(?<![\dA-Z])(\d{5})(?=[A-Z])")
# What a span takes in around an address that no key holds: none of the 501 shared SROIE address
# keys starts with a company registration number ("148481-U 425, JALAN ...") or holds a phone
# number ("... 81100 JOHOR BAHRU 07-355 2616", "TEL: 03-1234 5678"; a comma or a lone dot around
# it goes with it, a dot that ends the word before it stays: "SELANGOR. 03-3279 1851,").
_LEADING_REGISTRATION_NO = re.compile(r"^\(?\d{4,8}-[A-Z]\)?\s+(?=\S)")
# Nor does one start with an address label ("HQ ADD: LOT 11995, ..."): the key starts after it.
_ADDRESS_LABEL = re.compile(r"^(?:HQ\s+)?ADD(?:RESS)?\s*:\s*(?=\S)", re.IGNORECASE)
_ADDRESS_PHONE = re.compile(
    r"(?:[\s,]|(?<=\s)\.)*\b(?:(?:TEL|FAX|PHONE|H/P)\b[\s.:]*)?\(?0\d{1,2}\)?[-\s]?\d{3,4}[-\s]?\d{3,4}[\s,.]*$"
)
# "(728384-M)", "(1234567-X" (bracket lost in OCR), "( 482123-U )": digits first, then digits,
# dashes, letters.
_REGISTRATION_NO = re.compile(r"\s*\(\s*\d[\dA-Z\-]*\s*\)?\s*$")
# What a company span takes in on the name's own line that no key holds: none of the 501 shared
# SROIE company keys starts with "#" ("#000002 BAIFU (M) SDN BHD": a till number) or holds a
# registration number without brackets ("KING'S CONFECTIONERY S/B 273500-U (KSB)", a business's
# "PERNIAGAAN ZHENG HUI JM0325955-V"), so the name starts after the one and ends before the other.
# Out of fold over all 501 receipts (five one-model folds, 2026-12-02): +3 companies, none lost;
# the labelling bound is unchanged. Nor does a key hold an owner label glued to its colon ("OWN
# BY: CHEF LEE SDN BHD", "DIMILIKI: BANH MI CAFE SDN BHD"; a key keeps "DIMILIKI OLEH ..." where
# the print has no such colon).
_COMPANY_LEAD = re.compile(r"^(?:#\d+|(?:OWNE?D? BY|DIMILIKI):)\s+(?=\S)")
_COMPANY_TAIL = re.compile(r"\s+\(?[A-Z]{0,3}\d{4,10}-[A-Z]\b.*$")

# The words that end a company's legal name ("... SDN BHD", "... SDN. BHD.", "... ENTERPRISE"):
# the name a SROIE key holds, where a receipt prints a brand or branch line above it.
LEGAL_SUFFIX = re.compile(r"\b(?:SDN\.?|BHD\.?|BERHAD|S/B|ENTERPRISES?|TRADING|PLT)(?=\W|$)", re.IGNORECASE)

MULTI_LINE_FIELDS = frozenset({"company", "address"})
# Fields whose value always holds a digit.
NUMERIC_FIELDS = frozenset({"date", "total"})


def has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def join_words(words: Sequence[str]) -> str:
    """Words joined with single spaces (reading order is the caller's)."""
    return collapse_ws(" ".join(words))


def clean_multiline(text: str) -> str:
    """Company/address: glue a lone "," or "." back to the word before it (training split +5)."""
    return _SPACE_BEFORE_COMMA.sub("", text)


def extract_date(text: str) -> str:
    """The first date written in ``text``; the text itself if none is recognisable."""
    match = DATE_PATTERN.search(text)
    if match is None:
        return text.strip(" :")
    return match.group(0).strip()


def extract_total(text: str) -> str:
    """The last amount written in ``text`` (with its printed currency prefix); else the text."""
    matches = [m for m in TOTAL_PATTERN.finditer(text) if has_digit(m.group(0))]
    if not matches:
        return text.strip()
    return _THOUSANDS.sub("", matches[-1].group(0).strip())


def field_text(field: str, words: Sequence[str]) -> str:
    """The key string for ``field`` from the words of its span, in reading order."""
    text = join_words(words)
    if field == "company":
        text = _REGISTRATION_NO.sub("", clean_multiline(text))
        return _COMPANY_TAIL.sub("", _COMPANY_LEAD.sub("", text))
    if field == "address":
        text = _LEADING_REGISTRATION_NO.sub("", _ADDRESS_LABEL.sub("", clean_multiline(text)))
        text = _ADDRESS_PHONE.sub("", text)
        return _GLUED_POSTCODE.sub(r"\1 ", text)
    if field in MULTI_LINE_FIELDS:
        return clean_multiline(text)
    if field == "date":
        return extract_date(text)
    if field == "total":
        return extract_total(text)
    return text
