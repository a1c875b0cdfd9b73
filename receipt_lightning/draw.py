"""Error analysis you can look at: each receipt's OCR boxes as a PNG, predicted field words
filled in the field's colour, true field words (weak labels from the keys) outlined in it."""

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


def draw_receipt(
    receipt: Receipt, pred_tags: Sequence[str], fields: Mapping[str, str], path: str | Path
) -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (receipt.width, receipt.height + 20 * (len(fields) + 1)), "white")
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
