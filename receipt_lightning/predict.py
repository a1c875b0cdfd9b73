"""Prediction from a checkpoint, a run directory or an exported model directory: rebuild the
model with no download, window receipts the way training did, merge windows back per word,
decode fields."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from receipt_lightning.data.encoding import collate_windows, encode_receipt, merge_word_probs
from receipt_lightning.errors import InputError
from receipt_lightning.fields.lexicon import FieldLexicon
from receipt_lightning.receipt import Receipt

# A progress bar (stderr) is shown from this many batches on ("auto"): shorter runs end before
# a bar would tell anyone anything.
PROGRESS_MIN_BATCHES = 4
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class Predictor:
    model: Any  # a Hugging Face token classifier, a TokenEnsemble or an OnnxTokenClassifier
    tokenizer: Any
    label_list: list[str]
    max_length: int = 512
    stride: int = 128
    # Training keys' company/address spellings, from the checkpoint (None: decode OCR text only).
    lexicon: FieldLexicon | None = None
    device: str = "cpu"  # where the model runs ("cpu" or "cuda[:N]"); ONNX models: cpu only

    @torch.no_grad()
    def word_probs(
        self, receipts: Sequence[Receipt], batch_size: int = 16, progress: bool | None = False
    ) -> list[np.ndarray]:
        """[n_words, n_labels] label probabilities for every receipt, windows merged.
        ``progress``: True always shows a bar on stderr, None from ``PROGRESS_MIN_BATCHES`` on."""
        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        self.model.eval()
        windows = []
        for i, r in enumerate(receipts):
            windows += encode_receipt(r, i, self.tokenizer, None, self.max_length, self.stride)
        per_receipt: dict[int, list] = {i: [] for i in range(len(receipts))}
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))  # less padding
        starts = range(0, len(order), batch_size)
        bar = _progress_bar(len(receipts), len(starts), progress)
        done: set[int] = set()
        for start in starts:
            chunk = [windows[i] for i in order[start : start + batch_size]]
            batch = collate_windows(chunk, self.tokenizer.pad_token_id)
            inputs = {k: batch[k].to(self.device) for k in ("input_ids", "bbox", "attention_mask")}
            logits = self.model(**inputs).logits
            probs = logits.float().softmax(-1).cpu().numpy()
            for row, w in enumerate(chunk):
                per_receipt[w.receipt_index].append((np.asarray(w.word_index), probs[row, : len(w)]))
            if bar is not None:
                bar.update(len({w.receipt_index for w in chunk} - done))
                done |= {w.receipt_index for w in chunk}
        if bar is not None:
            bar.close()
        n_labels = len(self.label_list)
        return [merge_word_probs(len(r.words), n_labels, per_receipt[i]) for i, r in enumerate(receipts)]

    def decode(self, receipts: Sequence[Receipt], probs: Sequence[np.ndarray]) -> dict[str, dict[str, str]]:
        """Receipt id -> fields, decoded as validation decodes (with the checkpoint's lexicon)."""
        from receipt_lightning.fields.decoding import decode_fields

        return {
            r.id: decode_fields(r, p, self.label_list, lexicon=self.lexicon)
            for r, p in zip(receipts, probs, strict=True)
        }

    def decode_records(
        self, receipts: Sequence[Receipt], probs: Sequence[np.ndarray]
    ) -> list[dict[str, Any]]:
        """One record per receipt (``prediction_record``): the fields as ``decode`` gives them,
        plus each field's confidence, words and boxes."""
        from receipt_lightning.fields.decoding import decode_field_spans

        return [
            prediction_record(r, decode_field_spans(r, p, self.label_list, lexicon=self.lexicon))
            for r, p in zip(receipts, probs, strict=True)
        ]

    def predict_fields(self, receipts: Sequence[Receipt], batch_size: int = 16) -> dict[str, dict[str, str]]:
        return self.decode(receipts, self.word_probs(receipts, batch_size))

    def predict_records(
        self, receipts: Sequence[Receipt], batch_size: int = 16, progress: bool | None = False
    ) -> list[dict[str, Any]]:
        return self.decode_records(receipts, self.word_probs(receipts, batch_size, progress))


RESERVED_KEYS = ("id", "details")  # record keys that are not field names


def prediction_record(receipt: Receipt, spans: dict[str, Any]) -> dict[str, Any]:
    """``{"id", <field>: value, ..., "details": {<field>: {value, confidence, words, boxes}}}``:
    the field -> string keys a SROIE key (and ``evaluate``) reads, at the top level as in the
    per-receipt files, with where each value came from under ``details``."""
    clash = [f for f in spans if f in RESERVED_KEYS]
    if clash:
        raise InputError(f"field names {clash} clash with the record keys {RESERVED_KEYS}")
    record: dict[str, Any] = {"id": receipt.id}
    details = {}
    for field, span in spans.items():
        record[field] = span.value
        details[field] = {
            "value": span.value,
            "confidence": span.confidence,
            "words": receipt.words[span.start : span.end],
            "boxes": [list(b) for b in receipt.boxes[span.start : span.end]],
        }
    record["details"] = details
    return record


def _progress_bar(n_receipts: int, n_batches: int, progress: bool | None):
    if progress is False or (progress is None and n_batches < PROGRESS_MIN_BATCHES):
        return None
    from tqdm import tqdm

    return tqdm(total=n_receipts, unit="receipt", file=sys.stderr, mininterval=0.5, desc="predict")


def resolve_device(device: str) -> str:
    """``auto``: CUDA when torch sees a GPU, else the CPU; ``cuda`` without a GPU is an error."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise InputError(f"--device must be one of {', '.join(DEVICES)} (or cuda:N), got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: torch sees no CUDA device here")
    return device


def load_predictor(
    source: str | Path,
    use_lexicon: bool = True,
    device: str = "cpu",
    backend: str = "auto",
    threads: int | None = None,
) -> Predictor:
    """A ``Predictor`` from a training checkpoint or run directory (its best, else last
    checkpoint; loaded with ``weights_only=True``, its checksum verified when it has one) or from
    an exported directory (``backend`` "torch", "onnx", or "auto": ONNX when the export has it
    and the device is the CPU). ``use_lexicon=False`` ignores the training-key lexicon;
    ``threads``: ONNX Runtime intra-op threads (torch's are set by the caller)."""
    from receipt_lightning.export.layout import is_export_dir
    from receipt_lightning.model.backbone import load_tokenizer

    if backend not in ("auto", "torch", "onnx"):
        raise InputError(f"backend must be auto, torch or onnx, got {backend!r}")
    device = resolve_device(device)
    if is_export_dir(source):
        return _load_exported(Path(source), use_lexicon, device, backend, threads)
    if backend == "onnx":
        raise InputError(
            "ONNX needs an exported directory (receipt-lightning export --onnx)", source=str(source)
        )
    from receipt_lightning.export.checkpoint import build_classifier, read_checkpoint

    contents = read_checkpoint(source)
    return Predictor(
        model=build_classifier(contents).to(device),
        tokenizer=load_tokenizer(contents.tokenizer),
        label_list=contents.label_list,
        max_length=contents.max_length,
        stride=contents.stride,
        lexicon=FieldLexicon(contents.lexicon) if use_lexicon and contents.lexicon else None,
        device=device,
    )


def _load_exported(
    root: Path, use_lexicon: bool, device: str, backend: str, threads: int | None
) -> Predictor:
    from receipt_lightning.export.layout import load_torch_members, read_export
    from receipt_lightning.model.backbone import load_tokenizer

    export = read_export(root)
    onnx = backend == "onnx" or (backend == "auto" and export.onnx is not None and device == "cpu")
    if onnx:
        if export.onnx is None:
            raise InputError("this export has no ONNX files (export it with --onnx)", source=str(root))
        from receipt_lightning.export.onnx_runtime import OnnxTokenClassifier

        model: Any = OnnxTokenClassifier(export.onnx, threads=threads).to(device)
    else:
        model = load_torch_members(export).to(device)
    return Predictor(
        model=model,
        tokenizer=load_tokenizer(str(export.members[0])),
        label_list=export.label_list,
        max_length=export.max_length,
        stride=export.stride,
        lexicon=FieldLexicon(export.lexicon) if use_lexicon and export.lexicon else None,
        device=device,
    )


def load_receipts(path: str | Path, fields: Sequence[str]) -> list[Receipt]:
    """Receipts to predict on: a SROIE-format directory or a JSONL file (or a directory of them)."""
    from receipt_lightning.data.sources import detect_source

    path = Path(path)
    source = detect_source(path)
    if source == "sroie_images":  # scans need OCR first: predict_images.load_image_receipts
        raise InputError("a folder of scans (img/): read it with predict_images.load_image_receipts", source=str(path))
    if source == "sroie":
        from receipt_lightning.data.sroie import load_sroie

        return load_sroie(path, fields=fields, label=False)
    from receipt_lightning.data.jsonl import load_jsonl

    files = [path] if path.is_file() else sorted(path.glob("*.jsonl"))
    return [r for f in files for r in load_jsonl(f, fields=None)]
