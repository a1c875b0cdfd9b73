"""``OcrConfig``: which engine reads receipt images, how images are vetted, where results are cached."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from receipt_lightning.errors import InputError

ENGINES = ("rapidocr", "tesseract")
BOX_MODES = ("line", "word")
# Where OCR results are cached when ``cache_dir`` is not set (override with this variable).
CACHE_ENV = "RECEIPT_LIGHTNING_OCR_CACHE"


def default_cache_dir() -> str:
    """``$RECEIPT_LIGHTNING_OCR_CACHE``, else ``$XDG_CACHE_HOME/receipt-lightning/ocr`` (~/.cache)."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "receipt-lightning" / "ocr")


@dataclass
class OcrConfig:
    # "rapidocr" (default: PP-OCR models shipped in the wheel) or "tesseract" (Debian tesseract-ocr).
    engine: str = "rapidocr"
    # "line": one box per OCR line, words cut from it by character offsets (as SROIE's box/ files,
    # which the SROIE experiment trains on); "word": the engine's own word boxes.
    boxes: str = "line"
    # Upper-case every recognised character: SROIE keys are upper case and RapidOCR lower-cases
    # some lines ("tan woon yann"). A normalisation after the cache, so changing it re-OCRs nothing.
    upper_case: bool = True
    # Write a comma glued to the next letter or digit as ", " ("JAYA,SELANGOR" -> "JAYA, SELANGOR";
    # "1,000" stays): SROIE keys put a space after 10 times as many commas as not; +1.3 points of
    # weak-label ceiling on 100 training receipts (docs/ocr.md). After the cache.
    space_after_comma: bool = True
    # Split a value glued to its label or to the next value, as SROIE's lines print them:
    # "DATE:02/01/2018" -> "DATE: 02/01/2018" (a colon not between digits, before a digit) and
    # "19-03-201818:08:38" -> "19-03-2018 18:08:38" (a 4-digit-year date, then a time). A model
    # labels whole words, so a glued date is one it can only take with its label. After the cache.
    split_glued: bool = True
    # Lines the engine is less sure of than this (0..1) are dropped; 0 keeps every line.
    min_confidence: float = 0.0
    # Longest image side in pixels that the engine sees; larger images are downscaled first
    # (SROIE's scans are at most 2000; RapidOCR itself works at <= 2000).
    max_side: int = 2000
    # Images of more pixels than this are refused before decoding (decompression-bomb guard):
    # 100 MP is above any phone camera's photo (a 12 MP photo is 4000x3000).
    max_pixels: int = 100_000_000
    # Files larger than this (bytes) are refused unread.
    max_bytes: int = 50 * 1024 * 1024
    # PDF pages are rendered at this resolution (dots per inch), capped by max_side.
    pdf_dpi: int = 200
    # A PDF with more pages than this is refused (a receipt has one or two).
    max_pdf_pages: int = 20
    # Tesseract's page segmentation mode (4: one column of text of variable sizes, like a receipt).
    tesseract_psm: int = 4
    # Tesseract's language pack(s), e.g. "eng" or "eng+msa".
    tesseract_lang: str = "eng"
    # Processes OCRing images in parallel; 0: one per CPU core this process may use.
    workers: int = 0
    # Directory of cached results (keyed by the image bytes' sha256 + engine + settings);
    # None: default_cache_dir(); "" disables the cache.
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"unknown OCR engine {self.engine!r}; choose one of {', '.join(ENGINES)}",
                             source="ocr.engine")  # fmt: skip
        if self.boxes not in BOX_MODES:
            raise InputError(f"ocr.boxes must be one of {', '.join(BOX_MODES)}, got {self.boxes!r}",
                             source="ocr.boxes")  # fmt: skip
        for name in ("max_side", "max_pixels", "max_bytes", "pdf_dpi", "max_pdf_pages"):
            if int(getattr(self, name)) <= 0:
                raise InputError(f"ocr.{name} must be positive, got {getattr(self, name)!r}", source=f"ocr.{name}")
        if self.workers < 0:
            raise InputError(f"ocr.workers must be >= 0, got {self.workers}", source="ocr.workers")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InputError(f"ocr.min_confidence must be in [0, 1], got {self.min_confidence}",
                             source="ocr.min_confidence")  # fmt: skip

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> OcrConfig:
        """From a config mapping (Hydra ``data.ocr``, CLI flags); unknown keys are an error."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown OCR setting(s) {unknown}; known: {sorted(known)}", source="ocr")
        return cls(**values)

    def resolved_cache_dir(self) -> Path | None:
        if self.cache_dir == "":
            return None
        return Path(self.cache_dir or default_cache_dir()).expanduser()

    def engine_settings(self) -> dict[str, Any]:
        """The settings that change what the engine reads (part of the cache key); normalisations
        applied afterwards (case, box mode, confidence cut, worker count) are not."""
        keep = {"engine", "max_side", "max_pixels", "pdf_dpi", "max_pdf_pages"}
        if self.engine == "tesseract":
            keep |= {"tesseract_psm", "tesseract_lang"}
        return {k: v for k, v in asdict(self).items() if k in keep}

    def worker_count(self, n_jobs: int) -> int:
        return max(1, min(self.workers or usable_cores(), n_jobs))


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's cpuset)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
