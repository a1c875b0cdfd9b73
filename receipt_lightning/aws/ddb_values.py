"""Plain Python values <-> what DynamoDB stores, one rule for every table (jobs, sweeps, workers,
metrics).

DynamoDB numbers are decimals of at most 38 significant digits whose magnitude lies between
1E-130 and 9.9999999999999999999999999999999999999E+125 (or zero); the service rejects any
other number, and with it the whole write (a metrics batch: 25 items). So:

- a finite int, float or Decimal that fits is stored as a number, exactly: a float through its
  ``repr`` (the shortest text that reads back as the same float: no binary noise), an int with
  trailing zeros past 38 digits as mantissa and exponent (``10**40`` -> ``1E+40``);
- NaN, infinities and numbers that do not fit are stored as strings: "NaN", "Infinity",
  "-Infinity", or the number's own text (``repr`` for floats, ``str`` for ints), all of which
  ``float()`` reads back. The metrics table keeps such a value in ``value_str`` with
  ``nonfinite = True`` (``training.loggers.dynamodb.items.metric_item``);
- bools stay DynamoDB booleans in ``to_dynamo``; ``encode_number`` (a metric's value) takes
  them as 0 and 1.

Read back, an integral number becomes an ``int`` and any other a ``float``. DynamoDB itself
drops trailing zeros (``1.0`` is returned as ``1``), so a rule that told 1.0 from 1 by its text
would read differently from the service than from a local emulator.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

MAX_DIGITS = 38  # significant decimal digits DynamoDB keeps
MIN_MAGNITUDE = Decimal("1E-130")  # smallest non-zero magnitude DynamoDB accepts
MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")  # largest (38 nines)


def _fits(number: Decimal) -> Decimal | None:
    """``number`` as DynamoDB can store it exactly, or None when it cannot."""
    if number.is_zero():
        return number
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the caller
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1  # trailing zeros cost no precision (10**40 is 1E+40)
    if significant > MAX_DIGITS or not MIN_MAGNITUDE <= abs(number) <= MAX_MAGNITUDE:
        return None
    if len(digits) > MAX_DIGITS:  # an int such as 10**40: send mantissa and exponent
        exponent += len(digits) - significant
        return Decimal((sign, digits[:significant], exponent))
    return number


def encode_number(value: float | int | Decimal) -> tuple[Decimal | None, str | None]:
    """``(Decimal, None)`` when DynamoDB stores the number exactly, else ``(None, text)`` (see the
    module docstring). A bool counts as 0 or 1."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None, "NaN"
        if math.isinf(value):
            return None, "Infinity" if value > 0 else "-Infinity"
        text = repr(value)  # shortest round-tripping text, <= 17 significant digits
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if value.is_nan():
            return None, "NaN"
        if value.is_infinite():
            return None, "Infinity" if value > 0 else "-Infinity"
        text = str(value)
    else:
        raise TypeError(f"not a number: {type(value).__name__}")
    number = _fits(Decimal(text))
    return (number, None) if number is not None else (None, text)


def to_dynamo(obj: Any) -> Any:
    """A plain value made storable: numbers as ``encode_number`` says (Decimal or text), bools,
    None, strings and bytes as they are, enums as their value, mappings with ``str`` keys,
    lists and tuples as lists; anything else as its ``str``."""
    if isinstance(obj, enum.Enum):  # before str: a status enum is stored as its plain string
        return to_dynamo(obj.value)
    if obj is None or isinstance(obj, (bool, str, bytes)):
        return obj
    if isinstance(obj, (int, float, Decimal)):
        number, text = encode_number(obj)
        return number if number is not None else text
    if isinstance(obj, Mapping):
        return {str(k): to_dynamo(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dynamo(v) for v in obj]
    return str(obj)


def from_dynamo(obj: Any) -> Any:
    """What boto3's deserializer returns, as plain values: ``Decimal`` to int (integral) or
    float, sets to sorted lists, maps and lists recursively."""
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, Mapping):
        return {k: from_dynamo(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_dynamo(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(from_dynamo(v) for v in obj)
    return obj
