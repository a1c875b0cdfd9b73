"""Per-word label probabilities -> the field strings a SROIE key holds.

A word belongs to field F when its most probable label is ``B-F`` or ``I-F``. Consecutive such
words (reading order) form a span, and a ``B-`` starts a new one.

Date and total: a span without a digit is joined to a span right after it ("RM" tagged
``B-total`` before "68.10" tagged ``B-total`` is "RM 68.10") or else dropped. The span with the
highest mean probability of F (``B-F`` + ``I-F``) wins, ties to the first one. When no word has a
date or total as its
most probable label, the single word most probable for it is taken if it gives the field at
least ``FALLBACK_MIN_PROB``.

Company and address run over several OCR lines: a run cut by at most ``MAX_GAP_WORDS`` words that
still give the field ``GAP_MIN_PROB`` or more is joined (a model is least sure of a lone "," or "&"
inside an address), unless the part after the gap starts with ``B-F``; of the spans left, the one
with the most probability mass of F (sum over its words) wins, so a shop name that the model
starts as an address ("IKEA CHERAS" | "NO 2A JALAN ... KUALA LUMPUR") loses to the address after
it. The winning span is then widened to whole OCR lines where the words it leaves out of its
first or last line still give the field ``LINE_MIN_PROB`` on average: keys hold whole lines,
while a model often drops the "NO" of "NO 16A, JALAN ..." or a shop unit before the street.
Company and address never fall back to a guess. The words are turned into the key's form by
``postprocess.field_text``; fields with no span are omitted.

Rules were chosen on a development fold of the *training* receipts (a model trained on the other
321, scored on 80; docs/sroie.md), never on the validation split: splitting at ``B-`` with the
mass rule +1 receipt-field there (company +2, address -1) over the previous decoder (spans of
company/address ignored ``B-``; highest mean won). Rejected there: the mean instead of the mass
after splitting (-2), cutting a partial first OCR line off a multi-line span (-1; 399 of 401
training spans do start a line, but the model's spurious starts cost more than it fixed).
Completing partial lines: +24 receipt-fields over five development-fold models (each +3 to +7;
address +17, company +7: 15 receipt-fields gained, 2 lost), flat for ``LINE_MIN_PROB`` 0.05 to
0.3, -16 of that gain at 0 (a line always completed); extending to whole neighbouring lines (-8)
and cutting a weak first or last line (+2) were not kept. Totals, over the same five models:
joining a lone "RM" to its amount +3 (2 receipts, none lost); a fallback at 0.01 instead of 0.1
+8 right (7 receipts) for 13 more predicted (0.0: +12 for 24, a coin toss; 0.1 had been chosen
on a 3-epoch model). Not kept: the largest of the amounts the model is sure of (+15 over 9
receipts, -8 over 7: too few receipts to tell, and it lost 2 totals on the validation split).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from receipt_lightning.data.receipt import Receipt
from receipt_lightning.errors import InputError
from receipt_lightning.model.lexicon import FieldLexicon
from receipt_lightning.model.postprocess import MULTI_LINE_FIELDS, NUMERIC_FIELDS, field_text
from receipt_lightning.model.spans import (
    bridge_gaps,
    complete_lines,
    field_spans,
    join_digitless,
)

# Date/total fallback (see the module docstring); a wrong guess costs precision, a missing field
# recall, so a guess pays when it is right about half the time or more (micro F1 ~0.86).
FALLBACK_MIN_PROB = 0.01


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


def decode_fields(
    receipt: Receipt,
    word_probs: np.ndarray,
    id2label: Mapping[int, str] | Sequence[str],
    lexicon: FieldLexicon | None = None,
    exclude: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Field -> string for one receipt from ``word_probs`` ``[n_words, n_labels]`` (rows sum to 1).

    With a ``lexicon`` (learned from training keys), company/address values are rewritten to the
    known spelling they match; ``exclude``: this receipt's own key, left out of the lexicon (a
    training receipt's labelling bound).
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
            spans = join_digitless(spans, receipt.words)
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
        if field in MULTI_LINE_FIELDS:
            best = complete_lines(best, field_prob, receipt.line_ids)
        text = field_text(field, receipt.words[best[0] : best[1]])
        if lexicon is not None:
            text = lexicon.snap(field, text, exclude=exclude)
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
