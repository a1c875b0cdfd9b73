"""The weak labelling's upper bound: decode each receipt's own weak labels and score the result.

A model trained on these labels can at best reproduce them, so this F1 caps what it can reach
(up to the model getting lucky where the labels are wrong). With a lexicon (learned from the
training keys), a training receipt's own key is left out of it while that receipt is decoded
(``lexicon_ids``: the receipts whose keys built it); any other receipt sees the whole lexicon, as
a trained model's decoder does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from receipt_lightning.fields.decoding import decode_fields, gold_word_probs
from receipt_lightning.fields.lexicon import FieldLexicon
from receipt_lightning.fields.sroie_metrics import score
from receipt_lightning.receipt import SROIE_FIELDS, Receipt, bio_label_list


def bound_predictions(
    receipts: Sequence[Receipt],
    fields: Sequence[str] = SROIE_FIELDS,
    lexicon: FieldLexicon | None = None,
    lexicon_ids: Collection[str] = (),
) -> dict[str, dict[str, str]]:
    """``{id: decoded fields}`` from each receipt's gold (weak) labels; unlabelled ones predict nothing."""
    label_list = bio_label_list(fields)
    out = {}
    for receipt in receipts:
        if receipt.labels is None:
            out[receipt.id] = {}
            continue
        own = receipt.fields if receipt.id in lexicon_ids else None
        probs = gold_word_probs(receipt.labels, label_list)
        out[receipt.id] = decode_fields(receipt, probs, label_list, lexicon=lexicon, exclude=own)
    return out


def label_bound(
    receipts: Sequence[Receipt],
    fields: Sequence[str] = SROIE_FIELDS,
    lexicon: FieldLexicon | None = None,
    lexicon_ids: Collection[str] = (),
) -> dict:
    """``score`` of the decoded weak labels against the receipts' key values, plus the predictions."""
    predictions = bound_predictions(receipts, fields, lexicon, lexicon_ids)
    truth = {r.id: dict(r.fields or {}) for r in receipts}
    result = score(predictions, truth, fields)
    result["predictions"] = predictions
    result["truth"] = truth
    return result
