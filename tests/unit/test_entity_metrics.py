"""Entity-level BIO metrics follow seqeval's default semantics."""

from __future__ import annotations

import random

import pytest
import torch

from receipt_lightning.model.metrics import EntityF1, entity_counts, extract_entities


def test_extract_entities_basic():
    tags = ["B-company", "I-company", "O", "I-total", "I-total", "B-date", "B-date", "I-address"]
    assert extract_entities(tags) == {
        ("company", 0, 2), ("total", 3, 5), ("date", 5, 6), ("date", 6, 7), ("address", 7, 8)
    }  # fmt: skip


def test_matches_seqeval_on_random_sequences():
    seqeval = pytest.importorskip("seqeval.metrics")
    rng = random.Random(0)
    tags = ["O", "B-a", "I-a", "B-b", "I-b"]
    true = [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(300)]
    pred = [[t if rng.random() < 0.7 else rng.choice(tags) for t in seq] for seq in true]
    tp = n_p = n_t = 0
    for p, t in zip(pred, true, strict=True):
        a, b, c = entity_counts(p, t)
        tp, n_p, n_t = tp + a, n_p + b, n_t + c
    ours_p, ours_r = tp / n_p, tp / n_t
    assert ours_p == pytest.approx(seqeval.precision_score(true, pred))
    assert ours_r == pytest.approx(seqeval.recall_score(true, pred))


def test_torchmetric_skips_ignored_positions():
    labels = ["O", "B-a", "I-a"]
    metric = EntityF1(labels)
    true = torch.tensor([[-100, 1, -100, 2, 0, -100]])
    pred = torch.tensor([[0, 1, 0, 2, 0, 0]])
    metric.update(pred, true)
    assert metric.compute()["f1"] == pytest.approx(1.0)
    metric.update(torch.tensor([[0, 1, 0, 0, 0, 0]]), true)
    out = metric.compute()
    assert out["precision"] == pytest.approx(0.5) and out["recall"] == pytest.approx(0.5)
