"""Offline OCR front end: receipt images (and PDFs) -> lines and words with boxes.

- ``config.OcrConfig``: engine ("rapidocr" default, "tesseract"), image limits, normalisation, cache.
- ``images.load_pages``: a file's bytes -> vetted, upright, downscaled RGB pages (PDFs page by page).
- ``engine``: the ``OcrEngine`` interface (image -> ``OcrLine``s) and ``make_engine``.
- ``runner.ocr_files`` / ``ocr_inputs``: many files, cached by content hash, OCR'd in a process pool.
- ``result``: ``OcrPage`` (size, scale, lines), ``OcrLine`` (text, box, confidence, words), ``OcrWord``.

Turning pages into ``Receipt``s (reading order, case, line or word boxes) is
``receipt_lightning.data.images``. Engines are the optional extra ``receipt-lightning[ocr]``.
"""
