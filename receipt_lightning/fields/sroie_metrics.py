"""SROIE task-3 scoring: (receipt, field, value) triples, exact after whitespace normalisation.

- A predicted triple is correct when its value equals the true value after runs of whitespace
  are collapsed and the ends stripped. Micro precision = correct / predicted triples, recall =
  correct / true triples, F1 their harmonic mean.
- An omitted field (or an empty predicted string) is a miss: it lowers recall, not precision.
  An empty true value (e.g. a key with ``"total": ""``) is not a true triple; predicting a
  value there is a false positive.
- ``relaxed``: the same counts with case, whitespace and punctuation ignored (letters and digits
  only), to show how much of the gap is the keys' typing rather than the model.
- Per-field accuracy = correct / true triples of that field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from receipt_lightning.errors import InputError
from receipt_lightning.fields.keys import read_json_object
from receipt_lightning.fields.text_match import collapse_ws, relaxed
from receipt_lightning.receipt import SROIE_FIELDS

Fields = Mapping[str, str]


def _counts(
    predictions: Mapping[str, Fields],
    truth: Mapping[str, Fields],
    fields: Sequence[str],
    norm: Callable[[str], str],
) -> dict:
    correct = {f: 0 for f in fields}
    n_true = {f: 0 for f in fields}
    n_pred = {f: 0 for f in fields}
    for rid in set(truth) | set(predictions):
        true, pred = truth.get(rid, {}), predictions.get(rid, {})
        for f in fields:
            t, p = norm(true.get(f) or ""), norm(pred.get(f) or "")
            n_true[f] += bool(t)
            n_pred[f] += bool(p)
            correct[f] += bool(t) and p == t
    return {"correct": correct, "true": n_true, "predicted": n_pred}


def _prf(correct: int, n_pred: int, n_true: int) -> dict[str, float]:
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def score(
    predictions: Mapping[str, Fields], truth: Mapping[str, Fields], fields: Sequence[str] = SROIE_FIELDS
) -> dict:
    """Task-3 micro P/R/F1 (exact and relaxed), per-field accuracy and counts.

    Receipts in ``truth`` without a prediction count as all-missed; predictions for receipts not
    in ``truth`` count as false positives.
    """
    out: dict = {"n_receipts": len(set(truth) | set(predictions))}
    for name, norm in (("exact", collapse_ws), ("relaxed", relaxed)):
        c = _counts(predictions, truth, fields, norm)
        total = [sum(c[k].values()) for k in ("correct", "predicted", "true")]
        block = _prf(*total)
        block.update({"correct": total[0], "predicted": total[1], "true": total[2]})
        block["per_field"] = {
            f: {
                "accuracy": c["correct"][f] / c["true"][f] if c["true"][f] else 0.0,
                **_prf(c["correct"][f], c["predicted"][f], c["true"][f]),
                "correct": c["correct"][f],
                "true": c["true"][f],
                "predicted": c["predicted"][f],
            }
            for f in fields
        }
        out[name] = block
    return out


def worst_receipts(
    predictions: Mapping[str, Fields],
    truth: Mapping[str, Fields],
    n: int = 10,
    fields: Sequence[str] = SROIE_FIELDS,
) -> list[dict]:
    """The ``n`` receipts with the most wrong or missing fields (ties: receipt id order).

    Each entry: ``{"id", "errors", "fields": {field: {"predicted", "true", "correct"}}}`` listing
    only the fields that are wrong.
    """
    rows = []
    for rid in sorted(set(truth) | set(predictions)):
        true, pred = truth.get(rid, {}), predictions.get(rid, {})
        wrong = {}
        for f in fields:
            t, p = collapse_ws(true.get(f) or ""), collapse_ws(pred.get(f) or "")
            if (t or p) and p != t:
                wrong[f] = {"predicted": pred.get(f), "true": true.get(f)}
        if wrong:
            rows.append({"id": rid, "errors": len(wrong), "fields": wrong})
    rows.sort(key=lambda r: -r["errors"])
    return rows[:n]


def load_json_dir(directory: str | Path) -> dict[str, dict[str, str]]:
    """``{id: fields}`` from every ``<id>.json`` in ``directory`` (or its ``key/`` sub-folder).

    A SROIE root (with ``key/``: its ``key/`` is read) is accepted as well as a plain folder of JSON files.
    """
    directory = Path(directory)
    # A SROIE root's own top-level JSON (img_original_sizes.json) is not a key file.
    if (directory / "key").is_dir():
        directory = directory / "key"
    if not directory.is_dir():
        raise InputError("not a directory", source=str(directory))
    out: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.json")):
        data = read_json_object(path)
        fields = {}
        for key, value in data.items():
            if value is None:
                continue
            if not isinstance(value, str | int | float):
                raise InputError(f"field {key!r} must be a string", source=str(path))
            fields[str(key)] = str(value)
        out[path.stem] = fields
    return out
