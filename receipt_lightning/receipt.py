"""The receipt record every data source produces and every model consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from receipt_lightning.errors import InputError

# SROIE task-3 key fields, in the order the keys list them.
SROIE_FIELDS: tuple[str, ...] = ("company", "date", "address", "total")

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in page pixels, x0 <= x1, y0 <= y1
# Largest page coordinate (and page side) a reader accepts, in pixels: a 600 dpi scan of a 4 m
# receipt roll. Beyond it a number is malformed input, not a page (one 1e12 coordinate would
# otherwise squash every other box of its receipt to 0 when boxes are normalised).
MAX_COORD_PX = 100_000


@dataclass
class Receipt:
    """One receipt: OCR words with boxes, the page size, optional labels and key values.

    ``labels`` are BIO tags over field names, one per word ("B-total", "I-address", "O").
    ``line_ids`` give each word's OCR line (reading order), used to join multi-line fields.
    ``fields`` are the key values as a human typed them (SROIE ``key/*.json``), if known.
    """

    id: str
    words: list[str]
    boxes: list[Box]
    width: int
    height: int
    labels: list[str] | None = None
    line_ids: list[int] | None = None
    fields: dict[str, str] | None = None
    source: str = ""  # file the receipt came from, for error messages
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.source or self.id
        if len(self.words) != len(self.boxes):
            raise InputError(
                f"receipt {self.id!r} has {len(self.words)} words but {len(self.boxes)} boxes",
                source=where,
            )
        if self.labels is not None and len(self.labels) != len(self.words):
            raise InputError(
                f"receipt {self.id!r} has {len(self.words)} words but {len(self.labels)} labels",
                source=where,
            )
        if self.line_ids is not None and len(self.line_ids) != len(self.words):
            raise InputError(f"receipt {self.id!r}: line_ids length differs from words", source=where)
        if self.width <= 0 or self.height <= 0:
            raise InputError(
                f"receipt {self.id!r} has a non-positive page size {self.width}x{self.height}",
                source=where,
            )


def bio_label_list(fields: Sequence[str]) -> list[str]:
    """The label set for a field list: "O", then B-/I- per field, in field order."""
    labels = ["O"]
    for name in fields:
        labels += [f"B-{name}", f"I-{name}"]
    return labels


def check_labels(receipt: Receipt, label_set: Sequence[str]) -> None:
    """Raise an ``InputError`` naming the receipt and word if a label is outside the set."""
    if receipt.labels is None:
        return
    allowed = set(label_set)
    for i, tag in enumerate(receipt.labels):
        if tag not in allowed:
            raise InputError(
                f"receipt {receipt.id!r} word {i} ({receipt.words[i]!r}) has label {tag!r}, "
                f"not in the label set {sorted(allowed)}",
                source=receipt.source or receipt.id,
            )
