"""Reader for receipts in the SROIE task-3 format (``box/NNN.csv`` + ``key/NNN.json``).

Each CSV row is one OCR *line*: ``x1,y1,x2,y2,x3,y3,x4,y4,TEXT`` (a quadrilateral in image pixels,
then the transcript, which may itself contain commas). A line is split into words on whitespace and
each word gets a box cut from the line's bounding rectangle in proportion to its character offsets,
so a word's box is only as good as the assumption of a monospaced line.

Reading order: rows are sorted top-to-bottom, then left-to-right within a visual line (rows whose
vertical centres lie within half a median line height of the line's first row). Many files are in
reading order already, but some list stray rows at the end (e.g. ``000.csv``'s ``9.00``).

Bad input: a row with fewer than 9 comma-separated parts or non-integer coordinates is skipped,
with one warning per file giving the count and the line numbers; an integer coordinate beyond
``MAX_COORD_PX`` raises ``InputError`` naming the file and line; blank rows are skipped silently
(the data set has some). Undecodable bytes are replaced (warning naming the file). A box file
without its key file raises ``InputError`` when ``label=True`` (the labels would silently be all
"O"); with ``label=False`` the receipt is read without key values. A receipt without any word is
skipped with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from receipt_lightning.errors import InputError
from receipt_lightning.fields.keys import read_key
from receipt_lightning.receipt import MAX_COORD_PX, SROIE_FIELDS, Box, Receipt

log = logging.getLogger(__name__)

# Blank space around the outermost box when the page size is guessed (no images): pixels.
PAGE_MARGIN_PX = 10
# Rows whose vertical centres differ by less than this fraction of the median row height are
# on the same visual line.
SAME_LINE_TOLERANCE = 0.5
# Validation split: fixed salt so the split never changes with the machine, run or seed.
DEFAULT_SPLIT_SEED = "sroie-v1"
# Folds of the cross-validation over all receipts (``data.val_fraction=0 data.dev_fold=K``).
CV_FOLDS = 5

_WORD = re.compile(r"\S+")


def list_sroie_ids(root: str | Path) -> list[str]:
    """Sorted receipt ids (file stems) present in ``root/box``."""
    box_dir = Path(root) / "box"
    if not box_dir.is_dir():
        raise InputError("not a SROIE directory (no box/ folder inside)", source=str(root))
    return sorted(p.stem for p in box_dir.glob("*.csv"))


def sroie_split(
    ids: Sequence[str], val_fraction: float = 0.2, seed: str = DEFAULT_SPLIT_SEED
) -> tuple[list[str], list[str]]:
    """Deterministic train/validation split: ``(train_ids, val_ids)``, each sorted.

    Ids are ranked by ``sha256(seed + ":" + id)`` and the first ``round(val_fraction * n)`` of that
    ranking are validation: the same ids on every machine and run, whatever their input order.
    On the 501 shared SROIE receipts this gives 401 training and 100 validation receipts.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    unique = sorted(set(ids))
    ranked = _ranked(unique, seed)
    n_val = round(val_fraction * len(unique))
    val = set(ranked[:n_val])
    return [i for i in unique if i not in val], [i for i in unique if i in val]


def _ranked(ids: Sequence[str], seed: str) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def sroie_fold(
    ids: Sequence[str], dev_fold: bool | int = False, val_fraction: float = 0.2
) -> tuple[list[str], list[str]]:
    """``sroie_split``, or with ``dev_fold`` a development fold of the training receipts:
    ``(train_ids, dev_ids)`` where the validation ids are in neither part.

    The training ids are ranked as ``sroie_split`` ranks and cut into ``round(1 / val_fraction)``
    folds (5: 80, 80, 80, 80 and 81 of the 401 shared training receipts); ``dev_fold`` k picks
    fold k (``true`` is fold 1), so the folds together hold every training receipt once, for
    cross-validation that never reads a validation receipt. With ``val_fraction=0`` (no
    validation split: the final fit on every receipt) the folds are ``CV_FOLDS`` of all receipts
    (100, 100, 100, 100 and 101 of the 501 shared ones), the cross-validation that chooses what
    that final fit does.
    """
    train_ids, val_ids = sroie_split(ids, val_fraction=val_fraction)
    n_folds = max(round(1 / val_fraction), 2) if val_fraction > 0 else CV_FOLDS
    fold = int(dev_fold) if not isinstance(dev_fold, float) else -1  # 0.5 is no fold number
    if not fold:
        return train_ids, val_ids
    if not 1 <= fold <= n_folds:
        raise InputError(
            f"data.dev_fold must be false, true or a fold number 1..{n_folds}, got {dev_fold!r}",
            source="data.dev_fold",
        )
    ranked = _ranked(train_ids, DEFAULT_SPLIT_SEED)
    size = round((val_fraction or 1 / n_folds) * len(train_ids))
    dev = set(ranked[(fold - 1) * size : fold * size if fold < n_folds else None])
    return [i for i in train_ids if i not in dev], [i for i in train_ids if i in dev]


def parse_box_lines(text: str, source: str) -> list[tuple[Box, str]]:
    """(rectangle, transcript) per valid row of one box file, in file order."""
    rows: list[tuple[Box, str]] = []
    bad_lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",", 8)
        if len(parts) < 9:
            bad_lines.append(number)
            continue
        try:
            coords = [int(p) for p in parts[:8]]
        except ValueError:  # not an integer, or over Python's digit limit (4300 digits)
            bad_lines.append(number)
            continue
        if any(abs(c) > MAX_COORD_PX for c in coords):
            raise InputError(
                f"coordinate out of range (|x|, |y| <= {MAX_COORD_PX} px): {line[:120]!r}",
                source=source,
                line=number,
            )
        xs, ys = coords[0::2], coords[1::2]
        box = (max(0, min(xs)), max(0, min(ys)), max(0, max(xs)), max(0, max(ys)))
        rows.append((box, parts[8]))
    if bad_lines:
        shown = ", ".join(str(n) for n in bad_lines[:20]) + (" ..." if len(bad_lines) > 20 else "")
        log.warning("%s: skipped %d malformed row(s) (lines %s)", source, len(bad_lines), shown)
    return rows


def reading_order(rows: Sequence[tuple[Box, str]]) -> list[int]:
    """Indices of ``rows`` sorted top-to-bottom, then left-to-right within a visual line."""
    if not rows:
        return []
    heights = sorted(max(1, b[3] - b[1]) for b, _ in rows)
    tolerance = SAME_LINE_TOLERANCE * heights[len(heights) // 2]
    by_centre = sorted(range(len(rows)), key=lambda i: ((rows[i][0][1] + rows[i][0][3]) / 2, rows[i][0][0]))
    visual_lines: list[list[int]] = []
    anchor = None
    for i in by_centre:
        centre = (rows[i][0][1] + rows[i][0][3]) / 2
        if anchor is None or centre - anchor > tolerance:
            visual_lines.append([])
            anchor = centre
        visual_lines[-1].append(i)
    return [i for group in visual_lines for i in sorted(group, key=lambda j: rows[j][0][0])]


def split_words(box: Box, text: str) -> list[tuple[str, Box]]:
    """Words of one OCR line with boxes cut from the line box by character offsets."""
    x0, y0, x1, y1 = box
    n_chars = max(1, len(text))
    words = []
    for m in _WORD.finditer(text):
        wx0 = x0 + round((x1 - x0) * m.start() / n_chars)
        wx1 = max(wx0, x0 + round((x1 - x0) * m.end() / n_chars))
        words.append((m.group(0), (wx0, y0, wx1, y1)))
    return words


def read_receipt(
    box_path: Path, key_path: Path | None, fields: Sequence[str] = SROIE_FIELDS, label: bool = True
) -> Receipt | None:
    """One receipt from its box file (and key file); ``None`` if it holds no word."""
    raw = box_path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s: undecodable bytes replaced (file is not UTF-8)", box_path)
        text = raw.decode("utf-8", errors="replace")
    rows = parse_box_lines(text, str(box_path))
    words: list[str] = []
    boxes: list[Box] = []
    line_ids: list[int] = []
    for line_no, index in enumerate(reading_order(rows)):
        for word, box in split_words(*rows[index]):
            words.append(word)
            boxes.append(box)
            line_ids.append(line_no)
    if not words:
        log.warning("%s: no words, receipt skipped", box_path)
        return None
    key = read_key(key_path, fields) if key_path is not None else None
    receipt = Receipt(
        id=box_path.stem,
        words=words,
        boxes=boxes,
        width=max(b[2] for b in boxes) + PAGE_MARGIN_PX,
        height=max(b[3] for b in boxes) + PAGE_MARGIN_PX,
        line_ids=line_ids,
        fields=key,
        source=str(box_path),
    )
    if label and key is not None:
        from receipt_lightning.fields.weak_label import weak_label

        receipt.labels = weak_label(receipt, fields)
    return receipt


def load_sroie(
    root: str | Path,
    ids: Sequence[str] | None = None,
    fields: Sequence[str] = SROIE_FIELDS,
    label: bool = True,
) -> list[Receipt]:
    """Receipts of a SROIE directory (all, or ``ids`` in the given order), weakly labelled.

    With ``label=True`` every box file needs its key file (``InputError`` naming it otherwise);
    with ``label=False`` key values are read where present and no labels are made.
    """
    root = Path(root)
    wanted = list_sroie_ids(root) if ids is None else list(ids)
    receipts = []
    for rid in wanted:
        box_path = root / "box" / f"{rid}.csv"
        if not box_path.is_file():
            raise InputError(f"receipt {rid!r} has no box file", source=str(box_path))
        key_path = root / "key" / f"{rid}.json"
        if not key_path.is_file():
            if label:
                raise InputError("box file has no key file (needed for labels)", source=str(key_path))
            key_path = None
        receipt = read_receipt(box_path, key_path, fields, label)
        if receipt is not None:
            receipts.append(receipt)
    return receipts
