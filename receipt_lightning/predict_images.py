"""``predict --input`` for images: paths (files, folders, ``-`` for stdin) -> OCR'd ``Receipt``s,
plus a record of the OCR each receipt came from.

Accepted: ``.jpg``/``.jpeg``/``.png``/``.pdf`` files (any image Pillow reads, in fact, when
named explicitly), folders of them (not recursive), any mix of those, and ``-`` for one image's
bytes on standard input. A receipt's id is its file name without the suffix (``stdin`` for
``-``); a PDF gives one receipt per page, ``<name>-p<N>`` when it has more than one. Two inputs
with the same id are an error naming both. A file that cannot be read as an image is reported
(``errors``) and the others are still predicted; an image with no text gives a receipt with no
words, whose prediction is empty.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from receipt_lightning.errors import InputError
from receipt_lightning.ocr.config import OcrConfig
from receipt_lightning.ocr.runner import OcrDocument
from receipt_lightning.receipt import Receipt

# Suffixes taken from a folder (and that make a file argument an image input).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".pdf", ".tif", ".tiff", ".bmp", ".webp")
STDIN = "-"


@dataclass
class ImageReceipts:
    receipts: list[Receipt] = field(default_factory=list)
    # id -> OCR record written beside the prediction (engine, settings, lines with boxes).
    ocr: dict[str, dict] = field(default_factory=dict)
    # One message per input that could not be read, naming it.
    errors: list[str] = field(default_factory=list)


def is_image_input(inputs: Sequence[str]) -> bool:
    """True when ``inputs`` are images (files, folders holding images, or ``-``) rather than a
    SROIE directory or JSONL receipts."""
    for spec in inputs:
        if spec == STDIN:
            return True
        path = Path(spec)
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir():  # missing: "no such file" below
            return True
        if path.is_dir() and not (path / "box").is_dir() and not any(path.glob("*.jsonl")):
            return (path / "img").is_dir() or any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
    return False


def page_id(stem: str, page: int, n_pages: int) -> str:
    """A receipt's id: its file's stem, ``<stem>-p<N>`` for page N (from 1) of a several-page PDF."""
    return stem if n_pages == 1 else f"{stem}-p{page + 1}"


def file_stem(receipt_id: str) -> str:
    """The file stem a receipt id came from (``page_id`` undone)."""
    return re.sub(r"-p\d+$", "", receipt_id)


def scan_folder(path: Path) -> Path:
    """A folder's images: its own, or its ``img/`` folder's when it is a scans dataset (``img/`` +
    ``key/``, as ``data=sroie_images`` trains on)."""
    return path / "img" if (path / "img").is_dir() and not (path / "box").is_dir() else path


def image_paths(inputs: Sequence[str]) -> list[str]:
    """Files to OCR, in the order given (a folder's images sorted by name)."""
    out: list[str] = []
    for spec in inputs:
        path = Path(spec)
        if spec == STDIN or path.is_file():
            out.append(spec)
        elif path.is_dir():
            folder = scan_folder(path)
            found = sorted(str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in the folder", source=spec)
            out += found
        else:
            raise InputError("no such file or folder", source=spec)
    if out.count(STDIN) > 1:
        raise InputError("'-' (standard input) can be given once")
    return out


def load_image_receipts(
    inputs: Sequence[str],
    config: OcrConfig,
    stdin: BinaryIO | None = None,
    ids: set[str] | None = None,
) -> ImageReceipts:
    """OCR'd receipts (cached, in parallel) of ``inputs``; see the module docstring. ``ids``: only
    the files of these stems are read (``predict --ids/--split``: the rest are never OCR'd)."""
    from receipt_lightning.data.images import page_receipt
    from receipt_lightning.ocr.runner import OcrInput, ocr_inputs, read_inputs

    paths = image_paths(inputs)
    if ids is not None:
        # "<pdf>-p2" keeps the PDF it is a page of; "scan-p2" is also a file's own stem.
        stems = set(ids) | {file_stem(i) for i in ids}
        paths = [p for p in paths if p == STDIN or Path(p).stem in stems]
    items: list[OcrInput] = []
    for p in paths:
        if p == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read(config.max_bytes + 1)
            if len(data) > config.max_bytes:
                items.append(OcrInput(STDIN, None, str(InputError(
                    f"more than {config.max_bytes} bytes (ocr.max_bytes)", source="standard input"))))  # fmt: skip
            else:
                items.append(OcrInput(STDIN, data))
        else:
            items += read_inputs([p], config)
    out = ImageReceipts()
    owner: dict[str, str] = {}
    for doc in ocr_inputs(items, config):
        if doc.error is not None:
            out.errors.append(doc.error)
            continue
        stem = "stdin" if doc.name == STDIN else Path(doc.name).stem
        for page in doc.pages:
            rid = page_id(stem, page.page, len(doc.pages))
            if rid in owner:
                out.errors.append(str(InputError(f"receipt id {rid!r} is also {owner[rid]}'s; rename one",
                                                 source=doc.name)))  # fmt: skip
                continue
            owner[rid] = doc.name
            receipt = page_receipt(page, rid, config, source=doc.name if doc.name != STDIN else "")
            out.receipts.append(receipt)
            out.ocr[rid] = ocr_record(doc, page.page, receipt, config)
    return out


def ocr_record(doc: OcrDocument, page_no: int, receipt: Receipt, config: OcrConfig) -> dict:
    """What ``predict`` writes to ``<output>/ocr/<id>.json``: the OCR behind a prediction."""
    page = doc.pages[page_no]
    return {
        "id": receipt.id,
        "image": doc.name,
        "sha256": doc.sha256,
        "page": page_no,
        "engine": doc.engine,
        "settings": {**config.engine_settings(), "boxes": config.boxes, "upper_case": config.upper_case,
                     "min_confidence": config.min_confidence},  # fmt: skip
        "cached": doc.cached,
        "ocr_seconds": round(doc.seconds, 3),
        **page.to_dict(),
    }


def write_ocr_records(records: dict[str, dict], out_dir: str | Path) -> Path:
    """``<out_dir>/ocr/<id>.json`` per receipt (a sub-folder, so ``evaluate`` reads predictions only)."""
    folder = Path(out_dir) / "ocr"
    folder.mkdir(parents=True, exist_ok=True)
    for rid, record in records.items():
        (folder / f"{rid}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return folder
