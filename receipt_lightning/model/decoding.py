"""Per-word label probabilities -> the field strings a SROIE key holds.

A word belongs to field F when its most probable label is ``B-F`` or ``I-F``. Consecutive such
words (reading order) form a span; company and address may run over several OCR lines, so their
spans ignore ``B-`` boundaries, while a ``B-`` starts a new date or total span. Per field, the span
with the highest mean probability of F (``B-F`` + ``I-F``) wins: the single most confident span.
For company/address ties between equally confident spans go to the longer, then the first one;
for date/total to the first one. Company/address runs cut by at most ``MAX_GAP_WORDS`` words
that still give the field ``GAP_MIN_PROB`` or more are joined: a model is least sure of a lone
"," or "&" inside an address, and cutting the address there loses the whole field. Its words are then turned into the key's form by
``postprocess.field_text``. A date or total that no word has as its most probable label falls back
to the single word most probable for it, if that word gives the field at least
``FALLBACK_MIN_PROB`` (a short-trained model often leaves the total just under "O"). Fields with
no span are omitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from receipt_lightning.data.receipt import Receipt
from receipt_lightning.errors import InputError
from receipt_lightning.model.lexicon import FieldLexicon
from receipt_lightning.model.postprocess import MULTI_LINE_FIELDS, field_text

# Bridging a gap in a company/address: at most this many words, each with at least this much
# probability on the field (B- + I-).
MAX_GAP_WORDS = 1
GAP_MIN_PROB = 0.2
# Date/total fallback (see the module docstring). Chosen on the training split with a model
# trained 3 epochs (field F1 0.8475 -> 0.8561, total 0.741 -> 0.840; 0.05: 0.8562, 0.2: 0.8554,
# 0.3: 0.8537); a wrong guess costs precision, so the fallback is not applied to company/address.
FALLBACK_MIN_PROB = 0.1


def bridge_gaps(spans: list[tuple[int, int]], field_prob: np.ndarray) -> list[tuple[int, int]]:
    """Join consecutive spans separated by a short gap of words still leaning to the field."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged:
            prev_start, prev_end = merged[-1]
            gap = field_prob[prev_end:start]
            if len(gap) <= MAX_GAP_WORDS and bool((gap >= GAP_MIN_PROB).all()):
                merged[-1] = (prev_start, end)
                continue
        merged.append((start, end))
    return merged


def _label_names(id2label: Mapping[int, str] | Sequence[str], n_labels: int) -> list[str]:
    """Label name per probability column; ``id2label`` keys may be ints or their strings (JSON)."""
    if isinstance(id2label, Mapping):
        by_index = {int(k): str(v) for k, v in id2label.items()}
        names = [by_index[i] for i in range(len(by_index)) if i in by_index]
        if len(names) != len(by_index):
            raise InputError(f"label map ids must be 0..{len(by_index) - 1}, got {sorted(by_index)}")
    else:
        names = [str(n) for n in id2label]
    if len(names) != n_labels:
        raise InputError(f"label map has {len(names)} labels but the probabilities have {n_labels} columns")
    return names


def field_spans(tags: Sequence[str], field: str) -> list[tuple[int, int]]:
    """``[start, end)`` runs of words tagged ``B-field``/``I-field``."""
    spans: list[tuple[int, int]] = []
    start = None
    split_on_b = field not in MULTI_LINE_FIELDS
    for i, tag in enumerate([*tags, "O"]):
        inside = tag in (f"B-{field}", f"I-{field}")
        if start is not None and (not inside or (split_on_b and tag == f"B-{field}")):
            spans.append((start, i))
            start = None
        if inside and start is None:
            start = i
    return spans


def decode_fields(
    receipt: Receipt,
    word_probs: np.ndarray,
    id2label: Mapping[int, str] | Sequence[str],
    lexicon: FieldLexicon | None = None,
) -> dict[str, str]:
    """Field -> string for one receipt from ``word_probs`` ``[n_words, n_labels]`` (rows sum to 1).

    With a ``lexicon`` (learned from training keys), company/address values are rewritten to the
    known spelling they match.
    """
    probs = np.asarray(word_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != len(receipt.words):
        raise InputError(
            f"receipt {receipt.id!r}: probabilities of shape {probs.shape} for {len(receipt.words)} words",
            source=receipt.source or receipt.id,
        )
    names = _label_names(id2label, probs.shape[1])
    tags = [names[i] for i in probs.argmax(axis=1)] if len(names) else []
    fields = list(dict.fromkeys(n[2:] for n in names if n[:2] in ("B-", "I-")))
    out: dict[str, str] = {}
    for field in fields:
        columns = [i for i, n in enumerate(names) if n in (f"B-{field}", f"I-{field}")]
        field_prob = probs[:, columns].sum(axis=1)
        best, best_key = None, None
        spans = field_spans(tags, field)
        if field in MULTI_LINE_FIELDS:
            spans = bridge_gaps(spans, field_prob)
        elif not spans and len(field_prob) and field_prob.max() >= FALLBACK_MIN_PROB:
            top = int(field_prob.argmax())
            spans = [(top, top + 1)]
        for start, end in spans:
            confidence = float(field_prob[start:end].mean())
            length = (end - start) if field in MULTI_LINE_FIELDS else 0
            key = (round(confidence, 9), length, -start)
            if best_key is None or key > best_key:
                best, best_key = (start, end), key
        if best is None:
            continue
        text = field_text(field, receipt.words[best[0] : best[1]])
        if lexicon is not None:
            text = lexicon.snap(field, text)
        if text:
            out[field] = text
    return out


def gold_word_probs(labels: Sequence[str], label_list: Sequence[str]) -> np.ndarray:
    """One-hot ``[n_words, n_labels]`` probabilities of gold labels (for the labelling's bound)."""
    index = {name: i for i, name in enumerate(label_list)}
    probs = np.zeros((len(labels), len(label_list)), dtype=np.float32)
    for row, tag in enumerate(labels):
        if tag not in index:
            raise InputError(f"label {tag!r} of word {row} is not in the label set {list(label_list)}")
        probs[row, index[tag]] = 1.0
    return probs
