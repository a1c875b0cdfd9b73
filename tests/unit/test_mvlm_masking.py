"""The masking of the MVLM pretraining benchmark (benchmarks/mvlm_pretrain.py): only real,
non-special word pieces are chosen, in about BERT's shares, and the targets are the originals."""

from __future__ import annotations

import torch

from benchmarks.mvlm_pretrain import MASK_SHARE, mask_tokens

CLS, SEP, PAD, MASK = 101, 102, 0, 103


def test_masks_only_real_pieces_in_bert_shares():
    torch.manual_seed(0)
    n_rows, n_cols = 64, 128
    ids = torch.randint(1000, 2000, (n_rows, n_cols))
    ids[:, 0], ids[:, 100] = CLS, SEP
    ids[:, 101:] = PAD
    attention = (ids != PAD).long()
    vocab = torch.arange(1000, 2000)
    masked, chosen, targets = mask_tokens(ids, attention, MASK, torch.tensor([CLS, SEP, PAD, MASK]), vocab)

    assert not chosen[:, 0].any() and not chosen[:, 100:].any()  # [CLS], [SEP], padding never
    assert torch.equal(targets, ids[chosen])
    assert torch.equal(masked[~chosen], ids[~chosen])  # nothing else is touched
    real = n_rows * 99
    assert abs(int(chosen.sum()) / real - MASK_SHARE) < 0.02
    to_mask = (masked[chosen] == MASK).float().mean().item()
    kept = (masked[chosen] == ids[chosen]).float().mean().item()
    assert 0.75 < to_mask < 0.85 and 0.06 < kept < 0.16  # 80 % [MASK], ~10 % (+ random hits) kept
    assert ((masked[chosen] >= 1000) | (masked[chosen] == MASK)).all()  # random pieces from vocab
