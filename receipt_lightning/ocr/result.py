"""What an OCR engine returns for one page: lines (and their words) with boxes and confidences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the OCR'd image's pixels, x0 <= x1, y0 <= y1


def box_of_points(points: Any) -> Box:
    """The axis-aligned rectangle around a quadrilateral (or any list of (x, y) points)."""
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return (max(0, round(min(xs))), max(0, round(min(ys))), max(0, round(max(xs))), max(0, round(max(ys))))


@dataclass
class OcrWord:
    text: str
    box: Box
    confidence: float  # 0..1


@dataclass
class OcrLine:
    text: str
    box: Box
    confidence: float  # 0..1
    # The engine's word boxes, where it gives them (empty: cut words from the line box).
    words: list[OcrWord] = field(default_factory=list)


@dataclass
class OcrPage:
    """One page (an image, or a PDF page) as the engine read it.

    ``width``/``height`` are the size of the image the engine saw (after downscaling to
    ``OcrConfig.max_side``); ``scale`` is that size over the original's (1.0: not downscaled),
    so a box maps back to the original image as ``coordinate / scale``.
    """

    width: int
    height: int
    lines: list[OcrLine]
    scale: float = 1.0
    page: int = 0  # 0-based page number (PDFs), 0 for an image

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "scale": self.scale,
            "page": self.page,
            "lines": [
                {
                    "text": ln.text,
                    "box": list(ln.box),
                    "confidence": round(ln.confidence, 5),
                    "words": [{"text": w.text, "box": list(w.box), "confidence": round(w.confidence, 5)}
                              for w in ln.words],
                }
                for ln in self.lines
            ],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OcrPage:
        lines = [
            OcrLine(
                text=str(ln["text"]),
                box=tuple(int(v) for v in ln["box"]),  # type: ignore[arg-type]
                confidence=float(ln["confidence"]),
                words=[OcrWord(str(w["text"]), tuple(int(v) for v in w["box"]), float(w["confidence"]))  # type: ignore[arg-type]
                       for w in ln.get("words", [])],
            )
            for ln in d["lines"]
        ]  # fmt: skip
        return cls(int(d["width"]), int(d["height"]), lines, float(d.get("scale", 1.0)), int(d.get("page", 0)))
