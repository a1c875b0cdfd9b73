"""Error analysis you can look at: each receipt's OCR boxes as a PNG, predicted field words
filled in the field's colour, true field words (weak labels from the keys) outlined in it.

A receipt read from an image (``predict --input scan.jpg``; ``Receipt.extra["image"]``) is drawn
over that image (the PDF page for a PDF), at the size the OCR saw it; other receipts (SROIE box
files, JSONL, standard input) on a white page of the receipt's size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from receipt_lightning.receipt import Receipt

COLOURS = {
    "company": (31, 119, 180),
    "date": (44, 160, 44),
    "address": (255, 127, 14),
    "total": (214, 39, 40),
}
OTHER = (148, 103, 189)


def _colour(field: str) -> tuple[int, int, int]:
    return COLOURS.get(field, OTHER)


def true_tags(receipt: Receipt) -> list[str] | None:
    """Word labels for the outline: the receipt's own, else weak labels from its key values."""
    if receipt.labels is not None:
        return receipt.labels
    if not receipt.fields:
        return None
    from receipt_lightning.fields.weak_label import weak_label

    return weak_label(receipt, list(receipt.fields))


def source_image(receipt: Receipt):
    """The image (or PDF page) a receipt was OCR'd from, at the receipt's page size; None if it
    has none or it can no longer be read (the drawing then has a white background)."""
    from pathlib import Path

    name = receipt.extra.get("image")
    if not name or not Path(name).is_file():
        return None
    from receipt_lightning.errors import InputError
    from receipt_lightning.ocr.config import OcrConfig
    from receipt_lightning.ocr.images import load_pages

    try:
        pages = load_pages(Path(name).read_bytes(), name, OcrConfig(max_side=max(receipt.width, receipt.height)))
    except (OSError, InputError):  # changed or removed since it was OCR'd: draw the boxes alone
        return None
    page = int(receipt.extra.get("page", 0))
    if page >= len(pages):
        return None
    return pages[page].image.resize((receipt.width, receipt.height))


def draw_receipt(
    receipt: Receipt, pred_tags: Sequence[str], fields: Mapping[str, str], path: str | Path
) -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (receipt.width, receipt.height + 20 * (len(fields) + 1)), "white")
    background = source_image(receipt)
    if background is not None:
        img.paste(background, (0, 0))
    d = ImageDraw.Draw(img, "RGBA")
    gold = true_tags(receipt)
    for i, (word, box) in enumerate(zip(receipt.words, receipt.boxes, strict=True)):
        tag = pred_tags[i]
        if tag != "O":
            d.rectangle(box, fill=(*_colour(tag.split("-", 1)[1]), 90))
        if gold is not None and gold[i] != "O":
            d.rectangle(box, outline=_colour(gold[i].split("-", 1)[1]), width=2)
        else:
            d.rectangle(box, outline=(200, 200, 200), width=1)
        d.text((box[0] + 1, box[1]), word, fill="black")
    y = receipt.height + 4
    for name, value in fields.items():
        d.text((4, y), f"{name}: {value}", fill=_colour(name))
        y += 20
    img.save(path)


def draw_receipts(
    receipts: Sequence[Receipt],
    pred_tags: Sequence[Sequence[str]],
    predictions: Mapping[str, Mapping[str, str]],
    out_dir: str | Path,
) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for receipt, tags in zip(receipts, pred_tags, strict=True):
        draw_receipt(receipt, tags, predictions.get(receipt.id, {}), out / f"{receipt.id}.png")
    return len(receipts)
