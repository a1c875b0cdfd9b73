"""Prediction from a checkpoint: rebuild the model with no download, window receipts the way
training did, merge windows back per word, decode fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from receipt_lightning.data.encoding import collate_windows, encode_receipt, merge_word_probs
from receipt_lightning.errors import FatalError
from receipt_lightning.fields.lexicon import FieldLexicon
from receipt_lightning.receipt import Receipt


@dataclass
class Predictor:
    model: torch.nn.Module
    tokenizer: Any
    label_list: list[str]
    max_length: int = 512
    stride: int = 128
    # Training keys' company/address spellings, from the checkpoint (None: decode OCR text only).
    lexicon: FieldLexicon | None = None

    @torch.no_grad()
    def word_probs(self, receipts: Sequence[Receipt], batch_size: int = 16) -> list[np.ndarray]:
        """[n_words, n_labels] label probabilities for every receipt, windows merged."""
        self.model.eval()
        windows = []
        for i, r in enumerate(receipts):
            windows += encode_receipt(r, i, self.tokenizer, None, self.max_length, self.stride)
        per_receipt: dict[int, list] = {i: [] for i in range(len(receipts))}
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))  # less padding
        for start in range(0, len(order), batch_size):
            chunk = [windows[i] for i in order[start : start + batch_size]]
            batch = collate_windows(chunk, self.tokenizer.pad_token_id)
            logits = self.model(
                input_ids=batch["input_ids"], bbox=batch["bbox"], attention_mask=batch["attention_mask"]
            ).logits
            probs = logits.float().softmax(-1).numpy()
            for row, w in enumerate(chunk):
                per_receipt[w.receipt_index].append((np.asarray(w.word_index), probs[row, : len(w)]))
        n_labels = len(self.label_list)
        return [merge_word_probs(len(r.words), n_labels, per_receipt[i]) for i, r in enumerate(receipts)]

    def decode(self, receipts: Sequence[Receipt], probs: Sequence[np.ndarray]) -> dict[str, dict[str, str]]:
        """Receipt id -> fields, decoded as validation decodes (with the checkpoint's lexicon)."""
        from receipt_lightning.fields.decoding import decode_fields

        return {
            r.id: decode_fields(r, p, self.label_list, lexicon=self.lexicon)
            for r, p in zip(receipts, probs, strict=True)
        }

    def predict_fields(self, receipts: Sequence[Receipt], batch_size: int = 16) -> dict[str, dict[str, str]]:
        return self.decode(receipts, self.word_probs(receipts, batch_size))


def load_predictor(checkpoint: str | Path, use_lexicon: bool = True) -> Predictor:
    """A ``Predictor`` from a training checkpoint, loaded with ``weights_only=True`` and its
    checksum verified when it has one; ``use_lexicon=False`` ignores its training-key lexicon."""
    from receipt_lightning.model.backbone import load_tokenizer
    from receipt_lightning.model.ensemble import classifier_from_config
    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO

    path = Path(checkpoint)
    if not path.is_file():
        raise FatalError(f"checkpoint not found: {path}")
    ckpt = EFSCheckpointIO().load_checkpoint(str(path), map_location="cpu")
    hp = ckpt.get("hyper_parameters") or {}
    missing = [k for k in ("label_list", "hf_config", "tokenizer") if k not in hp]
    if missing:
        raise FatalError(f"{path}: not a receipt-lightning checkpoint (hyper_parameters lack {missing})")
    model = classifier_from_config(hp["hf_config"], int(hp.get("ensemble_size", 1)))
    state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    data_hp = ckpt.get("datamodule_hyper_parameters") or {}
    return Predictor(
        model=model,
        tokenizer=load_tokenizer(hp["tokenizer"]),
        label_list=list(hp["label_list"]),
        max_length=int(data_hp.get("max_length", 512)),
        stride=int(data_hp.get("stride", 128)),
        lexicon=FieldLexicon(ckpt["field_lexicon"]) if use_lexicon and ckpt.get("field_lexicon") else None,
    )


def load_receipts(path: str | Path, fields: Sequence[str]) -> list[Receipt]:
    """Receipts to predict on: a SROIE-format directory or a JSONL file (or a directory of them)."""
    from receipt_lightning.data.sources import detect_source

    path = Path(path)
    source = detect_source(path)
    if source == "sroie":
        from receipt_lightning.data.sroie import load_sroie

        return load_sroie(path, fields=fields, label=False)
    from receipt_lightning.data.jsonl import load_jsonl

    files = [path] if path.is_file() else sorted(path.glob("*.jsonl"))
    return [r for f in files for r in load_jsonl(f, fields=None)]
