"""Tesseract (the ``tesseract`` program, e.g. Debian's ``tesseract-ocr`` + ``tesseract-ocr-eng``)
through ``pytesseract``: native word boxes, grouped into lines by Tesseract's block/paragraph/line."""

from __future__ import annotations

import os

from receipt_lightning.ocr.engine import MissingOcrEngine, missing_extra
from receipt_lightning.ocr.result import OcrLine, OcrWord

APT_HINT = "apt-get install tesseract-ocr tesseract-ocr-eng"


def _pytesseract():
    try:
        import pytesseract
    except ImportError as exc:
        raise missing_extra("pytesseract", "OCR engine 'tesseract'") from exc
    return pytesseract


def tesseract_version() -> str:
    pytesseract = _pytesseract()
    try:
        return f"tesseract {pytesseract.get_tesseract_version()}"
    except pytesseract.TesseractNotFoundError as exc:
        raise MissingOcrEngine(f"the tesseract program is not installed (OCR engine 'tesseract'): {APT_HINT}") from exc


class TesseractEngine:
    name = "tesseract"

    def __init__(self, psm: int = 4, lang: str = "eng", threads: int = 1) -> None:
        self._tess = _pytesseract()
        self._version = tesseract_version()
        missing = set(lang.split("+")) - set(self._tess.get_languages(config=""))
        if missing:
            raise MissingOcrEngine(f"tesseract has no language data for {sorted(missing)}: {APT_HINT}")
        self.psm = int(psm)
        self.lang = lang
        # Tesseract's own OpenMP threads per image (the process pool already spreads images over cores).
        os.environ["OMP_THREAD_LIMIT"] = str(max(1, int(threads)))

    def version(self) -> str:
        return self._version

    def read(self, image) -> list[OcrLine]:
        data = self._tess.image_to_data(
            image.convert("RGB"), lang=self.lang, config=f"--psm {self.psm}", output_type=self._tess.Output.DICT
        )
        grouped: dict[tuple[int, int, int], list[OcrWord]] = {}
        for i, text in enumerate(data["text"]):
            text = (text or "").strip()
            conf = float(data["conf"][i])
            if not text or conf < 0:  # conf -1: a block/line row, not a word
                continue
            x, y, w, h = (int(data[k][i]) for k in ("left", "top", "width", "height"))
            key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
            grouped.setdefault(key, []).append(OcrWord(text, (x, y, x + w, y + h), conf / 100.0))
        lines = []
        for words in grouped.values():
            box = (
                min(w.box[0] for w in words),
                min(w.box[1] for w in words),
                max(w.box[2] for w in words),
                max(w.box[3] for w in words),
            )
            conf = sum(w.confidence for w in words) / len(words)
            lines.append(OcrLine(" ".join(w.text for w in words), box, conf, words))
        return lines
