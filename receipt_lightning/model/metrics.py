"""Entity-level precision/recall/F1 over BIO tags, with seqeval's default (IOB2, non-strict)
semantics: an entity starts at B-X, or at I-X after O or after another type; it ends where
the next tag is not I-X."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric


def extract_entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """(type, start, end_exclusive) of every entity in a BIO tag sequence."""
    entities = set()
    kind, start = None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, name = tag.partition("-")
        continues = prefix == "I" and name == kind
        if kind is not None and not continues:
            entities.add((kind, start, i))
            kind = None
        if prefix in ("B", "I") and not continues:
            kind, start = name, i
    return entities


def entity_counts(pred: Sequence[str], true: Sequence[str]) -> tuple[int, int, int]:
    """(true positives, predicted entities, true entities) for one sequence."""
    p, t = extract_entities(pred), extract_entities(true)
    return len(p & t), len(p), len(t)


class EntityF1(Metric):
    """Micro entity P/R/F1 accumulated over sequences of label ids (-100 positions skipped)."""

    full_state_update = False

    def __init__(self, label_list: Sequence[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.label_list = list(label_list)
        self.add_state("tp", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_pred", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_true", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred_ids: torch.Tensor, true_ids: torch.Tensor) -> None:
        """``pred_ids``, ``true_ids``: [batch, seq]; positions where ``true_ids`` is -100 are
        not words (padding, special tokens, continuation sub-tokens) and are dropped."""
        for pred_row, true_row in zip(pred_ids.tolist(), true_ids.tolist(), strict=True):
            keep = [(p, t) for p, t in zip(pred_row, true_row, strict=True) if t != -100]
            pred = [self.label_list[p] for p, _ in keep]
            true = [self.label_list[t] for _, t in keep]
            tp, n_pred, n_true = entity_counts(pred, true)
            self.tp += tp
            self.n_pred += n_pred
            self.n_true += n_true

    def compute(self) -> dict[str, torch.Tensor]:
        tp = self.tp.float()
        precision = tp / self.n_pred.clamp(min=1)
        recall = tp / self.n_true.clamp(min=1)
        f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
        return {"precision": precision, "recall": recall, "f1": f1}
