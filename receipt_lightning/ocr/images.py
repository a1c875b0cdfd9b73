"""Bytes of a user's file -> vetted page images for an OCR engine.

Accepted: anything Pillow decodes (JPEG, PNG, TIFF, BMP, WebP, ...; the first frame of a
multi-frame file) and PDFs (rendered page by page with ``pypdfium2``). Refused with an
``InputError`` naming the file: an empty file, a file over ``max_bytes``, bytes that are no image,
a truncated or corrupt image, an image of more than ``max_pixels`` pixels (checked from the header,
before decoding: a decompression bomb never reaches memory), a PDF that cannot be parsed, has no
page or more than ``max_pdf_pages``. Every page is rotated upright by its EXIF orientation,
converted to RGB (transparency on white) and downscaled so its longest side is at most ``max_side`` (JPEGs are decoded
at reduced size directly, so a 50 MP photo costs little memory).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from receipt_lightning.errors import InputError
from receipt_lightning.ocr.config import OcrConfig

PDF_MAGIC = b"%PDF-"
POINTS_PER_INCH = 72  # PDF page sizes are in points


@dataclass
class PageImage:
    image: object  # PIL.Image.Image, RGB, longest side <= max_side
    scale: float  # image size / original size (1.0: not downscaled)
    page: int  # 0-based page number


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(PDF_MAGIC)


def load_pages(data: bytes, name: str, config: OcrConfig) -> list[PageImage]:
    """The pages of one file's bytes, vetted (see the module docstring); ``name`` is for errors."""
    if not data:
        raise InputError("empty file (0 bytes), not an image", source=name)
    if len(data) > config.max_bytes:
        raise InputError(f"file is {len(data)} bytes, over the limit of {config.max_bytes} (ocr.max_bytes)", source=name)
    if is_pdf(data):
        return _pdf_pages(data, name, config)
    return [_image_page(data, name, config)]


def _image_page(data: bytes, name: str, config: OcrConfig) -> PageImage:
    from PIL import Image, ImageOps, UnidentifiedImageError

    with warnings.catch_warnings():
        # Our own pixel limit is checked below, before decoding; Pillow's warning adds nothing.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise InputError("not an image Pillow can read (expected JPEG, PNG, TIFF, BMP, WebP or PDF)",
                             source=name) from exc  # fmt: skip
        except Image.DecompressionBombError as exc:
            raise InputError(f"image refused as a decompression bomb: {exc}", source=name) from exc
        except (OSError, SyntaxError, ValueError) as exc:  # Pillow's ways of saying "corrupt header"
            raise InputError(f"corrupt image header: {exc}", source=name) from exc
        width, height = img.size
        if width <= 0 or height <= 0:
            raise InputError(f"image has no pixels ({width}x{height})", source=name)
        if width * height > config.max_pixels:
            raise InputError(
                f"image is {width}x{height} ({width * height / 1e6:.0f} MP), over the limit of "
                f"{config.max_pixels / 1e6:.0f} MP (ocr.max_pixels); downscale it first",
                source=name,
            )
        if img.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale where that still leaves >= max_side pixels.
            img.draft("RGB", (config.max_side, config.max_side))
        try:
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _on_white(img)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise InputError(f"corrupt or truncated image: {exc}", source=name) from exc
    return _downscaled(img, width, height, config.max_side, 0)


def _on_white(img):
    """RGB; transparent pixels become white paper (plain ``convert`` would make them black)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        page = Image.new("RGB", rgba.size, "white")
        page.paste(rgba, mask=rgba.getchannel("A"))
        return page
    return img.convert("RGB")


def _downscaled(img, orig_width: int, orig_height: int, max_side: int, page: int) -> PageImage:
    from PIL import Image

    # EXIF rotation may swap the sides: compare like with like.
    orig_long = max(orig_width, orig_height)
    if max(img.size) > max_side:
        factor = max_side / max(img.size)
        size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
        img = img.resize(size, Image.Resampling.LANCZOS)
    return PageImage(image=img, scale=max(img.size) / orig_long, page=page)


def _pdf_pages(data: bytes, name: str, config: OcrConfig) -> list[PageImage]:
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:
        from receipt_lightning.ocr.engine import missing_extra

        raise missing_extra("pypdfium2", "reading PDFs") from exc
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise InputError(f"not a readable PDF: {exc}", source=name) from exc
    try:
        n = len(pdf)
        if n == 0:
            raise InputError("PDF has no pages", source=name)
        if n > config.max_pdf_pages:
            raise InputError(
                f"PDF has {n} pages, over the limit of {config.max_pdf_pages} (ocr.max_pdf_pages)", source=name
            )
        pages = []
        for i in range(n):
            page = pdf[i]
            w_pt, h_pt = page.get_size()
            if w_pt <= 0 or h_pt <= 0:
                raise InputError(f"PDF page {i + 1} has no area ({w_pt}x{h_pt} points)", source=name)
            full = config.pdf_dpi / POINTS_PER_INCH
            scale = min(full, config.max_side / max(w_pt, h_pt))
            if w_pt * h_pt * scale * scale > config.max_pixels:
                raise InputError(f"PDF page {i + 1} renders over ocr.max_pixels", source=name)
            try:
                image = page.render(scale=scale).to_pil().convert("RGB")
            except pdfium.PdfiumError as exc:
                raise InputError(f"PDF page {i + 1} cannot be rendered: {exc}", source=name) from exc
            # scale relative to the page rendered at pdf_dpi (the "original" of a PDF page)
            pages.append(PageImage(image=image, scale=scale / full, page=i))
        return pages
    finally:
        pdf.close()
