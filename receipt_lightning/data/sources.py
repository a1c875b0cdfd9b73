"""Choosing and loading a data source's train/validation receipts (``data.source``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from receipt_lightning.errors import InputError
from receipt_lightning.receipt import Receipt

SOURCES = ("synthetic", "sroie", "jsonl", "images")


def detect_source(root: str | Path, splits: Sequence[str] = ()) -> str:
    """The data config (``conf/data/<name>.yaml``) that reads a dataset: "sroie" (a folder with
    ``box/``: OCR lines), "sroie_images" (a folder with ``img/`` and no ``box/``: scans, OCR'd
    here) or "jsonl" (a ``.jsonl`` file, or a folder with ``*.jsonl`` files). The one rule for
    every caller: ``predict`` (reads what is there) and the job worker's admission
    (``splits=("train", "val")``: training needs, for SROIE, ``key/`` beside ``box/`` or
    ``img/`` for labels, and for a JSONL folder each split's file, e.g. ``train.jsonl`` and
    ``val.jsonl``). ``InputError`` naming the path says what is missing."""
    root = Path(root)
    for folder, name in (("box", "sroie"), ("img", "sroie_images")):
        if (root / folder).is_dir():
            if splits and not (root / "key").is_dir():
                raise InputError(f"SROIE dataset has {folder}/ but no key/ (labels, needed to train)", source=str(root))
            return name
    if root.is_file() and root.suffix == ".jsonl":
        return "jsonl"
    if root.is_dir() and any(root.glob("*.jsonl")):
        for split in splits:
            _jsonl_split_file(root, split)  # raises naming the file it looked for
        return "jsonl"
    raise InputError(
        "not a dataset: expected a folder with box/ + key/ (SROIE), img/ + key/ (scans), a .jsonl "
        "file or a folder of *.jsonl files",
        source=str(root),
    )


def _jsonl_split_file(root: Path, split: str) -> Path:
    names = [f"{split}.jsonl"] + (["validation.jsonl"] if split == "val" else [])
    for name in names:
        if (root / name).is_file():
            return root / name
    raise InputError(f"no {' or '.join(names)} in the dataset folder", source=str(root))


def load_split(
    source: str,
    split: str,
    fields: Sequence[str],
    *,
    root: str | None = None,
    n: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    dev_fold: bool | int = False,
    ocr: Mapping[str, Any] | None = None,
) -> list[Receipt]:
    """The receipts of ``split`` ("train" or "val") from ``source``. With ``dev_fold`` (SROIE),
    the training receipts are split again the same way and "val" is that development fold (fold
    1, or fold k of 5 for ``dev_fold=k``): the validation receipts are not read at all (for choosing decoding rules and settings on training
    receipts only). ``ocr``: the ``OcrConfig`` settings of the ``images`` source
    (``receipt_lightning.data.images``)."""
    if dev_fold and source not in ("sroie", "images"):
        raise InputError("data.dev_fold is only defined for the sroie source", source="data.dev_fold")
    if source == "synthetic":
        from receipt_lightning.data.synthetic.generator import generate_receipts

        # Distinct seeds per split so validation receipts are never training receipts.
        return generate_receipts(n or 0, seed=seed * 2 + (0 if split == "train" else 1), fields=fields)
    if not root:
        raise InputError(f"data.root is required for data source {source!r}", source="data.root")
    path = Path(root).expanduser()
    if not path.exists():
        raise InputError("dataset path does not exist", source=str(path))
    if source == "sroie":
        from receipt_lightning.data.sroie import list_sroie_ids, load_sroie, sroie_fold

        train_ids, val_ids = sroie_fold(list_sroie_ids(path), dev_fold, val_fraction)
        ids = train_ids if split == "train" else val_ids
        return load_sroie(path, ids=ids[:n] if n else ids, fields=fields)
    if source == "images":
        from receipt_lightning.data.images import load_image_split
        from receipt_lightning.ocr.config import OcrConfig

        return load_image_split(
            path, split, fields, OcrConfig.from_mapping(ocr), n=n, val_fraction=val_fraction, dev_fold=dev_fold
        )
    if source == "jsonl":
        from receipt_lightning.data.jsonl import load_jsonl

        file = path if path.is_file() else _jsonl_split_file(path, split)
        return load_jsonl(file, fields=fields)
    raise InputError(
        f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}", source="data.source"
    )
