"""Per-word label probabilities -> the field strings a SROIE key holds.

A word belongs to field F when its most probable label is ``B-F`` or ``I-F``. Consecutive such
words (reading order) form a span, and a ``B-F`` starts a new one. A date or total is the span
with the highest mean probability of F (``B-F`` + ``I-F``), ties to the first one. Company and
address run over several OCR lines: a run cut by at most ``MAX_GAP_WORDS`` words that still give
the field ``GAP_MIN_PROB`` or more is joined (a model is least sure of a lone "," or "&" inside
an address), unless the part after the gap starts with ``B-F``; of the spans left, the one with
the most probability mass of F (sum over its words) wins, so a shop name that the model starts as
an address ("IKEA CHERAS" | "NO 2A JALAN ... KUALA LUMPUR") loses to the address after it.
Its words are then turned into the key's form by ``postprocess.field_text``. Date and total spans
without a digit are dropped (a lone "RM" tagged ``B-total`` before its amount). A date or total that
no word has as its most probable label falls back to the single word most probable for it, if
that word gives the field at least ``FALLBACK_MIN_PROB``. Fields with no span are omitted.

Rules were chosen on a development fold of the *training* receipts (a model trained on the other
321, scored on 80; docs/sroie.md), never on the validation split: splitting at ``B-`` with the
mass rule +1 receipt-field there (company +2, address -1) over the previous decoder (spans of
company/address ignored ``B-``; highest mean won). Rejected there: the mean instead of the mass
after splitting (-2), cutting a partial first OCR line off a multi-line span (-1; 399 of 401
training spans do start a line, but the model's spurious starts cost more than it fixed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from receipt_lightning.data.receipt import Receipt
from receipt_lightning.errors import InputError
from receipt_lightning.model.lexicon import FieldLexicon
from receipt_lightning.model.postprocess import MULTI_LINE_FIELDS, NUMERIC_FIELDS, field_text

# Bridging a gap in a company/address: at most this many words, each with at least this much
# probability on the field (B- + I-).
MAX_GAP_WORDS = 1
GAP_MIN_PROB = 0.2
# Date/total fallback (see the module docstring). Chosen on the training split with a model
# trained 3 epochs (field F1 0.8475 -> 0.8561, total 0.741 -> 0.840; 0.05: 0.8562, 0.2: 0.8554,
# 0.3: 0.8537); a wrong guess costs precision, so the fallback is not applied to company/address.
FALLBACK_MIN_PROB = 0.1


def bridge_gaps(
    spans: list[tuple[int, int]], field_prob: np.ndarray, starts: Sequence[bool] | None = None
) -> list[tuple[int, int]]:
    """Join consecutive spans separated by a short gap of words still leaning to the field;
    ``starts[i]``: word i is tagged ``B-`` (a span starting there is never joined to the last)."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and not (starts is not None and starts[start]):
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
    """``[start, end)`` runs of words tagged ``B-field``/``I-field``; a ``B-`` starts a new run."""
    spans: list[tuple[int, int]] = []
    start = None
    for i, tag in enumerate([*tags, "O"]):
        inside = tag in (f"B-{field}", f"I-{field}")
        if start is not None and (not inside or tag == f"B-{field}"):
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
            spans = bridge_gaps(spans, field_prob, [t == f"B-{field}" for t in tags])
        elif field in NUMERIC_FIELDS:  # a lone "RM" or "DATE:" tagged B- is no date or total
            spans = [(a, b) for a, b in spans if any(c.isdigit() for w in receipt.words[a:b] for c in w)]
        if (
            field not in MULTI_LINE_FIELDS
            and not spans
            and len(field_prob)
            and field_prob.max() >= FALLBACK_MIN_PROB
        ):
            top = int(field_prob.argmax())
            spans = [(top, top + 1)]
        for start, end in spans:
            if field in MULTI_LINE_FIELDS:  # probability mass: a long address beats a short name
                key = (round(float(field_prob[start:end].sum()), 9), end - start, -start)
            else:
                key = (round(float(field_prob[start:end].mean()), 9), 0, -start)
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
