"""OCR over many files: each file's bytes hashed, cached results reused, the rest read by a
bounded pool of processes (one engine per process, ``OcrConfig.workers``, by default one per
core, the cores shared out as engine threads). A file that is not a readable image gives an
``OcrDocument`` whose ``error`` says why (naming the file); the other files are still read.

The pool starts its processes with ``spawn`` (never ``fork``: the caller may hold torch's and
onnxruntime's threads), which imports the caller's main module again: a script calling this
with more than one worker must do so under ``if __name__ == "__main__":`` (the command line
and the training entry point do).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from receipt_lightning.errors import InputError
from receipt_lightning.ocr.cache import OcrCache, cache_key
from receipt_lightning.ocr.config import OcrConfig, usable_cores
from receipt_lightning.ocr.result import OcrPage

log = logging.getLogger(__name__)


@dataclass
class OcrDocument:
    """One input file as OCR'd: its pages, or why it could not be read."""

    name: str  # the path (or "-" for stdin), as given
    pages: list[OcrPage] = field(default_factory=list)
    engine: str = ""  # e.g. "rapidocr 3.10.0"
    error: str | None = None  # None: read (an image with no text has pages with no lines)
    cached: bool = False  # True: taken from the cache, the engine did not run
    seconds: float = 0.0  # engine time for this file (0 when cached)
    sha256: str = ""  # of the file's bytes


@dataclass
class OcrInput:
    name: str
    data: bytes | None  # None: could not be read (error says why)
    error: str | None = None


def read_inputs(paths: Sequence[str | Path], config: OcrConfig) -> list[OcrInput]:
    """Each file's bytes (up to ``max_bytes``); an unreadable file becomes an input with an error."""
    out = []
    for p in paths:
        name = str(p)
        try:
            size = os.path.getsize(p)
            if size > config.max_bytes:
                raise InputError(f"file is {size} bytes, over the limit of {config.max_bytes} (ocr.max_bytes)",
                                 source=name)  # fmt: skip
            out.append(OcrInput(name, Path(p).read_bytes()))
        except OSError as exc:
            out.append(OcrInput(name, None, str(InputError(f"cannot read file: {exc.strerror or exc}", source=name))))
        except InputError as exc:
            out.append(OcrInput(name, None, str(exc)))
    return out


# One engine per worker process, made on its first image.
_ENGINE = None
_ENGINE_KEY: tuple | None = None


def _engine(config: OcrConfig, threads: int):
    global _ENGINE, _ENGINE_KEY
    key = (config.engine, tuple(sorted(config.engine_settings().items())), threads)
    if _ENGINE is None or _ENGINE_KEY != key:
        from receipt_lightning.ocr.engine import make_engine

        _ENGINE, _ENGINE_KEY = make_engine(config, threads), key
    return _ENGINE


def ocr_one(data: bytes, name: str, config: OcrConfig, threads: int = 1) -> tuple[list[OcrPage], float]:
    """Pages of one file's bytes and the engine seconds; ``InputError`` if it is no readable image."""
    from receipt_lightning.ocr.images import load_pages

    pages = load_pages(data, name, config)
    engine = _engine(config, threads)
    start = time.perf_counter()
    out = []
    for p in pages:
        lines = engine.read(p.image)
        out.append(OcrPage(width=p.image.width, height=p.image.height, lines=lines, scale=p.scale, page=p.page))
    return out, time.perf_counter() - start


def _job(data: bytes, name: str, config_values: dict, threads: int) -> tuple[list[dict] | None, str | None, float]:
    """Worker side: plain values in and out (picklable, no engine objects cross processes)."""
    try:
        pages, seconds = ocr_one(data, name, OcrConfig(**config_values), threads)
    except InputError as exc:  # a bad file is a result for that file, not a crash of the pool
        return None, str(exc), 0.0
    return [p.to_dict() for p in pages], None, seconds


def ocr_inputs(inputs: Sequence[OcrInput], config: OcrConfig) -> list[OcrDocument]:
    """``OcrDocument`` per input, in order: cached where possible, otherwise OCR'd in parallel."""
    import hashlib

    from receipt_lightning.ocr.engine import engine_version

    version = engine_version(config)  # fails fast, naming the extra, when the engine is missing
    settings = config.engine_settings()
    cache_dir = config.resolved_cache_dir()
    cache = OcrCache(cache_dir) if cache_dir is not None else None
    docs: list[OcrDocument] = []
    todo: list[tuple[int, str]] = []  # (index in docs, cache key)
    for item in inputs:
        doc = OcrDocument(name=item.name, engine=version, error=item.error)
        docs.append(doc)
        if item.data is None:
            continue
        doc.sha256 = hashlib.sha256(item.data).hexdigest()
        key = cache_key(item.data, version, settings)
        pages = cache.get(key) if cache is not None else None
        if pages is not None:
            doc.pages, doc.cached = pages, True
        else:
            todo.append((len(docs) - 1, key))
    if todo:
        workers = config.worker_count(len(todo))
        threads = max(1, usable_cores() // workers)  # engine threads per process
        log.info("OCR (%s): %d file(s) to read, %d cached; %d process(es) x %d thread(s)",
                 version, len(todo), len(docs) - len(todo) - sum(d.error is not None for d in docs), workers, threads)  # fmt: skip
        values = asdict(config)
        args = [(inputs[i].data, inputs[i].name, values, threads) for i, _ in todo]
        # Results arrive in order and are cached one by one: an interrupted run keeps what it read.
        start = time.perf_counter()
        for n, ((i, key), (pages_d, error, seconds)) in enumerate(zip(todo, _run(args, workers), strict=True), 1):
            if n % 50 == 0:
                log.info("OCR: %d/%d file(s) read, %.0f s", n, len(todo), time.perf_counter() - start)
            doc = docs[i]
            doc.seconds = seconds
            if error is not None:
                doc.error = error
                continue
            doc.pages = [OcrPage.from_dict(p) for p in pages_d or []]
            if cache is not None:
                cache.put(key, doc.pages, {"engine": version, "settings": settings, "sha256": doc.sha256})
    return docs


def _run(args: list[tuple], workers: int) -> Iterator[tuple]:
    """``_job`` results in the order of ``args``, as they come."""
    if workers <= 1:
        yield from (_job(*a) for a in args)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the parent may hold torch's and onnxruntime's threads, which fork would copy half-locked.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        yield from pool.map(_job, *zip(*args, strict=True))


def ocr_files(paths: Sequence[str | Path], config: OcrConfig) -> list[OcrDocument]:
    """``ocr_inputs`` over files read from disk."""
    return ocr_inputs(read_inputs(paths, config), config)
