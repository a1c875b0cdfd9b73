"""Receipts as JSON Lines: one receipt per line, for users' own OCR output and for export.

Format of each line (a JSON object; blank lines are skipped)::

    {"id": "r1", "words": ["TOTAL", "9.00"], "bboxes": [[10, 20, 60, 32], [300, 20, 340, 32]],
     "width": 400, "height": 900,                                    # optional, page pixels
     "labels": ["O", "B-total"],                                     # optional, BIO tags
     "line_ids": [0, 0],                                             # optional, OCR line per word
     "fields": {"total": "9.00"}}                                    # optional, key values

Page size: ``width`` and ``height`` are the page size in pixels. Where one is absent it is
inferred per axis: if every coordinate of every box in the receipt is <= 1000 the boxes are
taken as already normalised to LayoutLM's 0..1000 space (that side is 1000), otherwise the side is
the largest coordinate on that axis, rounded up. Boxes reaching outside the page are clamped to
it; one warning per file gives how many were.

Line ids: where ``line_ids`` is absent they are inferred from the boxes in reading order: a word
starts a new line when its vertical centre lies outside the previous word's box or it starts to
the left of the previous word.

Bad input (invalid JSON, a missing key, a wrong type, lengths that differ, a box that is not four
numbers or has x0 > x1 / y0 > y1, a label outside the label set, a receipt with no words, a
repeated id, a file with no receipts) raises ``InputError`` naming the file and line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import IO

from receipt_lightning.errors import InputError
from receipt_lightning.receipt import MAX_COORD_PX, Box, Receipt, bio_label_list
from receipt_lightning.runs import write_atomic

log = logging.getLogger(__name__)
Fail = Callable[[str], InputError]  # builds the error for the line being parsed

NORMALISED_SIDE = 1000  # LayoutLM's box coordinate range is 0..1000
BIO_TAG = re.compile(r"^(O|[BI]-\S+)$")


def load_jsonl(path: str | os.PathLike[str], fields: Sequence[str] | None = None) -> list[Receipt]:
    """Every receipt in the JSON Lines file `path` (format and rules in the module docstring).

    With `fields`, labels must be in ``bio_label_list(fields)`` and ``Receipt.fields`` keeps only
    those fields; without, any well-formed BIO tag is accepted (see ``infer_fields``).
    """
    source = str(path)
    allowed = set(bio_label_list(fields)) if fields is not None else None
    receipts: list[Receipt] = []
    first_line: dict[str, int] = {}
    clamped = 0
    try:
        handle = open(path, "rb")  # bytes, so a decoding error can name its line
    except OSError as exc:
        raise InputError(f"cannot read receipts file: {exc.strerror or exc}", source=source) from exc
    with handle:
        for n, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").lstrip("\ufeff" if n == 1 else "")
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 text ({exc.reason})", source=source, line=n) from exc
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"invalid JSON: {exc.msg} at column {exc.colno}", source=source, line=n
                ) from exc
            except RecursionError:
                raise InputError("invalid JSON: nested too deeply", source=source, line=n) from None
            except ValueError as exc:  # an integer over Python's digit limit (4300)
                raise InputError(f"invalid number: {str(exc)[:120]}", source=source, line=n) from None
            receipt, outside = parse_receipt(obj, allowed, fields, source, n)
            if receipt.id in first_line:
                raise InputError(
                    f"duplicate id {receipt.id!r} (first on line {first_line[receipt.id]})",
                    source=source,
                    line=n,
                )
            first_line[receipt.id] = n
            receipts.append(receipt)
            clamped += outside
    if not receipts:
        raise InputError("no receipts in file (every line is blank)", source=source)
    if clamped:
        log.warning("%s: clamped %d box(es) reaching outside their page", source, clamped)
    return receipts


def parse_receipt(
    obj: object, allowed: set[str] | None, fields: Sequence[str] | None, source: str, n: int
) -> tuple[Receipt, int]:
    """One line's object as a Receipt, and how many of its boxes were clamped to the page.

    Long on purpose: it is the boundary for user files, and reads as one list of checks in the
    order of the format (keys, words, boxes, page size, labels, line ids, fields), each failing
    with the line number and key; split up, the checks would pass half-vetted values around."""

    def fail(message: str) -> InputError:
        return InputError(message, source=source, line=n)

    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "words", "bboxes"):
        if key not in obj:
            raise fail(f"missing key {key!r}")
    rid, words, bboxes = obj["id"], obj["words"], obj["bboxes"]
    if not isinstance(rid, str) or not rid:
        raise fail(f"'id' must be a non-empty string, got {rid!r}")
    if not isinstance(words, list):
        raise fail(f"receipt {rid!r}: 'words' must be a list of strings, got {type(words).__name__}")
    for i, word in enumerate(words):
        if not isinstance(word, str) or not word.strip():
            raise fail(f"receipt {rid!r} word {i}: expected a non-blank string, got {word!r}")
    if not words:
        raise fail(f"receipt {rid!r} has no words")
    if not isinstance(bboxes, list) or len(bboxes) != len(words):
        count = len(bboxes) if isinstance(bboxes, list) else type(bboxes).__name__
        raise fail(f"receipt {rid!r}: {len(words)} words but 'bboxes' is {count}")
    boxes = [_box(b, i, rid, fail) for i, b in enumerate(bboxes)]
    everything_small = all(c <= NORMALISED_SIDE for box in boxes for c in box)
    width = _side(obj, "width", rid, fail, boxes, 2, everything_small)
    height = _side(obj, "height", rid, fail, boxes, 3, everything_small)
    labels = _optional_list(obj, "labels", str, rid, len(words), fail)
    if labels is not None:
        for i, tag in enumerate(labels):
            ok = tag in allowed if allowed is not None else BIO_TAG.match(tag) is not None
            if not ok:
                expected = sorted(allowed) if allowed is not None else "'O', 'B-<field>' or 'I-<field>'"
                raise fail(
                    f"receipt {rid!r} word {i} ({words[i]!r}) has label {tag!r}, expected one of {expected}"
                )
    line_ids = _optional_list(obj, "line_ids", int, rid, len(words), fail)
    if line_ids is not None and any(i < 0 for i in line_ids):
        raise fail(f"receipt {rid!r}: 'line_ids' must be >= 0")
    values = obj.get("fields")
    if values is not None:
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise fail(f"receipt {rid!r}: 'fields' must be an object of strings")
        if fields is not None:
            values = {k: v for k, v in values.items() if k in fields}
    inside = [_clamp(b, width, height) for b in boxes]
    receipt = Receipt(
        id=rid,
        words=list(words),
        boxes=inside,
        width=width,
        height=height,
        labels=labels,
        line_ids=line_ids if line_ids is not None else infer_line_ids(inside),
        fields=values,
        source=f"{source}:{n}",
    )
    return receipt, sum(a != b for a, b in zip(inside, boxes, strict=True))


def _box(value: object, i: int, rid: str, fail: Fail) -> Box:
    numbers = isinstance(value, list) and len(value) == 4
    numbers = numbers and all(
        isinstance(c, int | float) and not isinstance(c, bool) and -MAX_COORD_PX <= c <= MAX_COORD_PX
        for c in value  # NaN compares false; a 400-digit int compares fine (no float conversion)
    )
    if not numbers:
        shown = repr(value)
        shown = shown if len(shown) <= 120 else shown[:120] + "..."
        raise fail(
            f"receipt {rid!r} word {i}: bbox must be 4 numbers [x0, y0, x1, y1] within "
            f"+-{MAX_COORD_PX} px, got {shown}"
        )
    x0, y0, x1, y1 = (round(c) for c in value)
    if x0 > x1 or y0 > y1:
        raise fail(f"receipt {rid!r} word {i}: bbox {value!r} has x0 > x1 or y0 > y1")
    return (x0, y0, x1, y1)


def _side(obj: dict, key: str, rid: str, fail: Fail, boxes: list[Box], far: int, small: bool) -> int:
    """Page side `key` ("width"/"height"): given, or inferred (module docstring); `far` indexes x1/y1."""
    value = obj.get(key)
    if value is None:
        return NORMALISED_SIDE if small else max(1, max(b[far] for b in boxes))
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_COORD_PX:
        shown = repr(value)[:60]
        raise fail(f"receipt {rid!r}: {key!r} must be a positive number of pixels (at most {MAX_COORD_PX}), got {shown}")
    return round(value)


def _optional_list(obj: dict, key: str, kind: type, rid: str, length: int, fail: Fail) -> list | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise fail(f"receipt {rid!r}: {key!r} must be a list of {kind.__name__}")
    if len(value) != length:
        raise fail(f"receipt {rid!r}: {length} words but {len(value)} {key}")
    return value


def _clamp(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return (min(max(x0, 0), width), min(max(y0, 0), height), min(max(x1, 0), width), min(max(y1, 0), height))


def infer_line_ids(boxes: Sequence[Box]) -> list[int]:
    """OCR line per word, from boxes in reading order (rule in the module docstring)."""
    line_ids: list[int] = []
    line = 0
    for i, (x0, y0, _, y1) in enumerate(boxes):
        if i:
            px0, py0, _, py1 = boxes[i - 1]
            centre = (y0 + y1) / 2
            if not py0 <= centre <= py1 or x0 < px0:
                line += 1
        line_ids.append(line)
    return line_ids


def infer_fields(receipts: Iterable[Receipt]) -> list[str]:
    """Field names in the receipts' BIO labels, in order of first appearance."""
    seen: dict[str, None] = {}
    for receipt in receipts:
        for tag in receipt.labels or ():
            if tag != "O":
                seen.setdefault(tag[2:], None)
    return list(seen)


def write_jsonl(receipts: Iterable[Receipt], path: str | os.PathLike[str]) -> None:
    """Write `receipts` to `path` in the format ``load_jsonl`` reads (atomically: all or nothing)."""

    def write(out: IO[bytes]) -> None:
        for r in receipts:
            row: dict = {"id": r.id, "words": r.words, "bboxes": [list(b) for b in r.boxes]}
            row.update(width=r.width, height=r.height)
            for key in ("labels", "line_ids", "fields"):
                if getattr(r, key) is not None:
                    row[key] = getattr(r, key)
            out.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))

    write_atomic(path, write)  # a reader never sees a half-written file
