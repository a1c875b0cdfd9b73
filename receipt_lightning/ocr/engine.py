"""The engine interface (an RGB image -> ``OcrLine``s) and the factory that picks one by name.

Engines are optional: ``pip install 'receipt-lightning[ocr]'`` installs both Python sides
(RapidOCR + onnxruntime, pytesseract, pypdfium2); Tesseract also needs its program
(Debian: ``apt-get install tesseract-ocr tesseract-ocr-eng``). A missing piece raises
``MissingOcrEngine`` naming the extra or the package, never an ``ImportError`` traceback.
"""

from __future__ import annotations

from typing import Protocol

from receipt_lightning.errors import FatalError
from receipt_lightning.ocr.config import OcrConfig
from receipt_lightning.ocr.result import OcrLine

EXTRA_HINT = "pip install 'receipt-lightning[ocr]'"


class MissingOcrEngine(FatalError):
    """An OCR engine (or PDF renderer) is not installed; the message says how to install it."""


def missing_extra(package: str, purpose: str) -> MissingOcrEngine:
    return MissingOcrEngine(f"{package} is not installed ({purpose} needs it): {EXTRA_HINT}")


class OcrEngine(Protocol):
    name: str

    def version(self) -> str:
        """Engine and model version, part of the cache key."""
        ...

    def read(self, image) -> list[OcrLine]:
        """Lines (with word boxes where the engine gives them) of one RGB ``PIL.Image``."""
        ...


def make_engine(config: OcrConfig, threads: int = 1) -> OcrEngine:
    """The configured engine, using ``threads`` CPU threads for one image."""
    if config.engine == "rapidocr":
        from receipt_lightning.ocr.rapidocr_engine import RapidOcrEngine

        return RapidOcrEngine(threads=threads)
    from receipt_lightning.ocr.tesseract_engine import TesseractEngine

    return TesseractEngine(psm=config.tesseract_psm, lang=config.tesseract_lang, threads=threads)


def engine_version(config: OcrConfig) -> str:
    """The installed version of the configured engine (cheap: no model is loaded)."""
    from importlib.metadata import PackageNotFoundError, version

    if config.engine == "rapidocr":
        try:
            return f"rapidocr {version('rapidocr')}"
        except PackageNotFoundError as exc:
            raise missing_extra("rapidocr", "OCR engine 'rapidocr'") from exc
    from receipt_lightning.ocr.tesseract_engine import tesseract_version

    return tesseract_version()
