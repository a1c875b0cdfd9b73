"""Field-level (SROIE task-3) scores from per-window token probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from receipt_lightning.data.encoding import merge_word_probs
from receipt_lightning.fields.lexicon import FieldLexicon
from receipt_lightning.receipt import Receipt


def receipt_word_probs(
    receipts: Sequence[Receipt],
    collected: Mapping[int, list[tuple[np.ndarray, np.ndarray]]],
    n_labels: int,
) -> dict[int, np.ndarray]:
    """Merge every receipt's windows into [n_words, n_labels] word probabilities."""
    return {
        idx: merge_word_probs(len(receipts[idx].words), n_labels, windows)
        for idx, windows in collected.items()
    }


def decode_all(
    receipts: Sequence[Receipt],
    word_probs: Mapping[int, np.ndarray],
    label_list: Sequence[str],
    lexicon: FieldLexicon | None = None,
) -> dict[str, dict[str, str]]:
    """Receipt id -> extracted fields."""
    from receipt_lightning.fields.decoding import decode_fields

    return {
        receipts[i].id: decode_fields(receipts[i], probs, label_list, lexicon=lexicon)
        for i, probs in word_probs.items()
    }


def field_scores(
    receipts: Sequence[Receipt],
    collected: Mapping[int, list[tuple[np.ndarray, np.ndarray]]],
    label_list: Sequence[str],
    lexicon: FieldLexicon | None = None,
) -> dict[str, float]:
    """``field_f1``, ``field_precision``, ``field_recall`` and ``field_acc/<name>`` over the
    receipts that carry key values; empty when none do."""
    from receipt_lightning.fields.sroie_metrics import score

    probs = receipt_word_probs(receipts, collected, len(label_list))
    keyed = {i: p for i, p in probs.items() if receipts[i].fields}
    if not keyed:
        return {}
    predictions = decode_all(receipts, keyed, label_list, lexicon)
    truth = {receipts[i].id: dict(receipts[i].fields or {}) for i in keyed}
    fields = sorted({lab.split("-", 1)[1] for lab in label_list if lab != "O"})
    exact = score(predictions, truth, fields=fields)["exact"]
    out = {
        "field_f1": exact["f1"],
        "field_precision": exact["precision"],
        "field_recall": exact["recall"],
    }
    for name, block in exact["per_field"].items():
        out[f"field_acc/{name}"] = block["accuracy"]
    return out
