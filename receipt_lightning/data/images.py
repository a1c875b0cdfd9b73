"""Receipts from images: OCR pages -> ``Receipt``s, and the ``images`` data source (images + keys,
OCR'd and weak-labelled, so a model trains on the text its users' OCR produces).

OCR page -> receipt: lines are put in reading order as SROIE's box files are
(``data.sroie.reading_order``); with ``boxes="line"`` each line is split into words on whitespace
and the words get boxes cut from the line box by character offsets (as ``data.sroie`` does, so a
model trained on SROIE's lines sees the same geometry); with ``boxes="word"`` the engine's own
word boxes are used where it gives them. ``upper_case`` upper-cases every word (SROIE keys are
upper case); ``space_after_comma`` writes "A,B" as "A, B" (not "1,000"); ``split_glued`` writes
"DATE:02/01/2018" as "DATE: 02/01/2018" and "19-03-201818:08:38" as "19-03-2018 18:08:38". A page with no text gives a receipt with no words (predicting nothing).

Data source ``images`` (``data.root``):

- a SROIE-style directory with ``img/`` (``<id>.jpg``/``.jpeg``/``.png``/``.pdf``) and ``key/<id>.json``:
  the same fixed train/validation split as the ``sroie`` source (by id hash), so validation
  receipts are the same receipts in both sources;
- or a JSONL file (or a directory with ``train.jsonl``/``val.jsonl``) of
  ``{"id": ..., "image": "path/to/scan.jpg", "fields": {...}}``, image paths relative to the file
  and inside its folder (``../`` or an absolute path elsewhere is an error).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from receipt_lightning.errors import InputError
from receipt_lightning.ocr.config import OcrConfig
from receipt_lightning.ocr.result import OcrPage
from receipt_lightning.receipt import Box, Receipt

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".pdf")


def page_receipt(page: OcrPage, rid: str, config: OcrConfig, source: str = "") -> Receipt:
    """One OCR page as a ``Receipt`` (page pixels = the OCR'd image's; see the module docstring)."""
    from receipt_lightning.data.sroie import reading_order, split_words

    lines = [ln for ln in page.lines if ln.confidence >= config.min_confidence and ln.text.strip()]
    order = reading_order([(ln.box, ln.text) for ln in lines])
    words: list[str] = []
    boxes: list[Box] = []
    line_ids: list[int] = []
    for line_no, i in enumerate(order):
        line = lines[i]
        if config.boxes == "word" and line.words:
            pairs = [p for w in line.words for p in split_words(w.box, _normalise(w.text, config))]
        else:
            pairs = split_words(line.box, _normalise(line.text, config))
        for text, box in pairs:
            words.append(text.upper() if config.upper_case else text)
            boxes.append(_clamp(box, page.width, page.height))
            line_ids.append(line_no)
    return Receipt(
        id=rid,
        words=words,
        boxes=boxes,
        width=page.width,
        height=page.height,
        line_ids=line_ids,
        source=source,
        extra={"image": source, "page": page.page, "scale": page.scale},
    )


# A comma glued to the next letter or digit ("JAYA,SELANGOR", "SS21/39,47400"), but not a
# thousands separator ("1,000.00": digit, comma, exactly three digits).
_GLUED_COMMA = re.compile(r",(?=[0-9A-Za-z])")
_THOUSANDS = re.compile(r"\d,\d{3}(?!\d)")


# A colon before a digit, not inside a time ("DATE:02/01/2018", ":19-03-2018"; not "18:08").
_GLUED_COLON = re.compile(r"(?<!\d):(?=\d)")
# A day-month-year date (4-digit year) with a time glued on ("19-03-201818:08:38").
_GLUED_TIME = re.compile(r"(?<!\d)(\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)\d{2})(?=\d{1,2}:\d{2})")


def _normalise(text: str, config: OcrConfig) -> str:
    if config.split_glued:
        text = _GLUED_TIME.sub(r"\1 ", _GLUED_COLON.sub(": ", text))
    if not config.space_after_comma or "," not in text:
        return text
    keep = {m.start() + 1 for m in _THOUSANDS.finditer(text)}
    return _GLUED_COMMA.sub(lambda m: "," if m.start() in keep else ", ", text)


def _clamp(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    x0, x1 = min(max(0, x0), width), min(max(0, x1), width)
    y0, y1 = min(max(0, y0), height), min(max(0, y1), height)
    return (x0, y0, max(x0, x1), max(y0, y1))


def find_image(directory: Path, rid: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        for candidate in (directory / f"{rid}{suffix}", directory / f"{rid}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def list_image_ids(root: str | Path) -> list[str]:
    """Sorted ids (file stems) of the images in ``root/img``."""
    img_dir = Path(root) / "img"
    if not img_dir.is_dir():
        raise InputError("not an image dataset directory (no img/ folder inside)", source=str(root))
    return sorted({p.stem for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES})


def ocr_receipts(
    items: Sequence[tuple[str, Path, dict[str, str] | None]],
    config: OcrConfig,
    fields: Sequence[str],
    label: bool = True,
) -> list[Receipt]:
    """``(id, image path, key fields)`` -> OCR'd (cached), weak-labelled receipts, in order.

    An image that cannot be read raises ``InputError`` naming it (training data must be sound);
    a PDF gives its first page only (a training receipt is one page; more raise).
    """
    from receipt_lightning.ocr.runner import ocr_files

    docs = ocr_files([path for _, path, _ in items], config)
    bad = [d.error for d in docs if d.error]
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise InputError(f"{len(bad)} training image(s) could not be read: {shown}")
    receipts = []
    for (rid, path, key), doc in zip(items, docs, strict=True):
        if len(doc.pages) != 1:
            raise InputError(f"a training image must be one page, this has {len(doc.pages)}", source=str(path))
        receipt = page_receipt(doc.pages[0], rid, config, source=str(path))
        receipt.fields = key
        receipt.extra["ocr"] = doc.engine
        if not receipt.words:
            log.warning("%s: OCR found no text, receipt skipped", path)
            continue
        if label and key is not None:
            from receipt_lightning.fields.weak_label import weak_label

            receipt.labels = weak_label(receipt, fields)
        receipts.append(receipt)
    return receipts


def _jsonl_items(file: Path, fields: Sequence[str]) -> list[tuple[str, Path, dict[str, str] | None]]:
    items = []
    seen: dict[str, int] = {}
    text = file.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(f"invalid JSON: {exc}", source=str(file), line=number) from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("image"), str):
            raise InputError('each line must be an object with an "image" path', source=str(file), line=number)
        image = (file.parent / obj["image"]).resolve()
        if not image.is_relative_to(file.parent.resolve()):  # a dataset names its own files only
            raise InputError(f"image {obj['image']!r} is outside the dataset folder", source=str(file), line=number)
        if not image.is_file():
            raise InputError(f"image {obj['image']!r} not found", source=str(file), line=number)
        rid = str(obj.get("id") or image.stem)
        if rid in seen:
            raise InputError(f"id {rid!r} repeats line {seen[rid]}", source=str(file), line=number)
        seen[rid] = number
        raw = obj.get("fields")
        if raw is not None and not (isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values())):
            raise InputError('"fields" must map field names to strings', source=str(file), line=number)
        key = {k: v for k, v in raw.items() if k in fields} if raw is not None else None
        items.append((rid, image, key))
    return items


def load_image_split(
    root: str | Path,
    split: str,
    fields: Sequence[str],
    ocr: OcrConfig,
    n: int | None = None,
    val_fraction: float = 0.2,
    dev_fold: bool | int = False,
) -> list[Receipt]:
    """The ``images`` source's receipts of ``split`` ("train"/"val"); see the module docstring."""
    from receipt_lightning.data.sroie import sroie_fold

    path = Path(root)
    if path.is_dir() and (path / "img").is_dir():
        from receipt_lightning.fields.keys import read_key

        ids = list_image_ids(path)
        train_ids, val_ids = sroie_fold(ids, dev_fold, val_fraction)
        chosen = train_ids if split == "train" else val_ids
        chosen = chosen[:n] if n else chosen
        items = []
        for rid in chosen:
            key_path = path / "key" / f"{rid}.json"
            if not key_path.is_file():
                raise InputError("image has no key file (needed for labels)", source=str(key_path))
            items.append((rid, find_image(path / "img", rid), read_key(key_path, fields)))
        return ocr_receipts(items, ocr, fields)
    if path.is_file():
        items = _jsonl_items(path, fields)
        train_ids, val_ids = sroie_fold([i for i, _, _ in items], dev_fold, val_fraction)
        wanted = set(train_ids if split == "train" else val_ids)
        items = [it for it in items if it[0] in wanted]
    elif path.is_dir():
        name = "train.jsonl" if split == "train" else "val.jsonl"
        if not (path / name).is_file():
            raise InputError(f"expected img/ + key/ or {name} naming image files", source=str(path))
        items = _jsonl_items(path / name, fields)
    else:
        raise InputError("dataset path does not exist", source=str(path))
    return ocr_receipts(items[:n] if n else items, ocr, fields)
