"""Receipts -> model windows: sub-token alignment of labels and boxes, and windowing.

Pure functions (given a tokenizer) so tests can reach them:
- boxes are normalised to LayoutLM's 0..1000 page grid and clamped;
- a word's label goes to its first sub-token, the others get -100 (ignored by the loss);
- special tokens get the box [0, 0, 0, 0];
- receipts longer than the model's maximum length become overlapping windows that start on
  word boundaries; ``merge_word_probs`` averages the windows back per word at prediction time,
  so no receipt is truncated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from receipt_lightning.receipt import Box, Receipt

IGNORE_INDEX = -100
GRID = 1000  # LayoutLM's 2-D position range


def normalize_box(box: Box, width: int, height: int) -> list[int]:
    """Page pixels -> 0..1000, clamped; x0 <= x1 and y0 <= y1 kept."""
    x0, y0, x1, y1 = box
    nx0, nx1 = sorted((int(GRID * x0 / width), int(GRID * x1 / width)))
    ny0, ny1 = sorted((int(GRID * y0 / height), int(GRID * y1 / height)))
    return [min(max(v, 0), GRID) for v in (nx0, ny0, nx1, ny1)]


@dataclass
class Window:
    """One model input: token ids, boxes, labels, and for each token the word it starts
    (word index, or -1 for special tokens and continuation sub-tokens)."""

    receipt_index: int
    input_ids: list[int]
    bbox: list[list[int]]
    labels: list[int]
    word_index: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def word_pieces(tokenizer, words: Sequence[str]) -> list[list[int]]:
    """Sub-token ids of each word; a word the tokenizer drops (e.g. only control characters)
    becomes [UNK] so every word keeps a first sub-token and so a prediction. No words (an image
    with no text): no pieces (the tokenizer itself fails on an empty batch)."""
    if not words:
        return []
    enc = tokenizer(list(words), add_special_tokens=False)["input_ids"]
    return [ids if ids else [tokenizer.unk_token_id] for ids in enc]


def window_spans(word_lengths: Sequence[int], max_tokens: int, stride_tokens: int) -> list[tuple[int, int]]:
    """Split words into [start, end) word spans of at most ``max_tokens`` sub-tokens each,
    consecutive spans overlapping by about ``stride_tokens`` sub-tokens. A single word longer
    than ``max_tokens`` is cut to ``max_tokens`` sub-tokens (its first sub-token still carries
    its label)."""
    n = len(word_lengths)
    spans: list[tuple[int, int]] = []
    start = 0
    while start < n:
        end, used = start, 0
        while end < n and (used + min(word_lengths[end], max_tokens) <= max_tokens):
            used += min(word_lengths[end], max_tokens)
            end += 1
        end = max(end, start + 1)
        spans.append((start, end))
        if end >= n:
            break
        # Next window starts so that about stride_tokens of this one are seen again.
        back, nxt = 0, end
        while nxt - 1 > start + 0 and back + word_lengths[nxt - 1] <= stride_tokens:
            nxt -= 1
            back += word_lengths[nxt]
        start = max(nxt, start + 1)
    return spans


def encode_receipt(
    receipt: Receipt,
    receipt_index: int,
    tokenizer,
    label2id: Mapping[str, int] | None,
    max_length: int = 512,
    stride: int = 128,
) -> list[Window]:
    """All windows of one receipt. ``label2id`` None (or receipt without labels) -> labels -100."""
    pieces = word_pieces(tokenizer, receipt.words)
    boxes = [normalize_box(b, receipt.width, receipt.height) for b in receipt.boxes]
    max_tokens = max_length - 2  # room for [CLS] and [SEP]
    windows = []
    for start, end in window_spans([len(p) for p in pieces], max_tokens, stride):
        ids, bb, labs, widx = [tokenizer.cls_token_id], [[0, 0, 0, 0]], [IGNORE_INDEX], [-1]
        for w in range(start, end):
            wp = pieces[w][:max_tokens]
            lab = IGNORE_INDEX
            if label2id is not None and receipt.labels is not None:
                lab = label2id[receipt.labels[w]]
            ids += wp
            bb += [boxes[w]] * len(wp)
            labs += [lab] + [IGNORE_INDEX] * (len(wp) - 1)
            widx += [w] + [-1] * (len(wp) - 1)
        ids.append(tokenizer.sep_token_id)
        bb.append([0, 0, 0, 0])
        labs.append(IGNORE_INDEX)
        widx.append(-1)
        windows.append(Window(receipt_index, ids, bb, labs, widx))
    return windows


def merge_word_probs(
    n_words: int, n_labels: int, window_probs: Sequence[tuple[Sequence[int], np.ndarray]]
) -> np.ndarray:
    """Average per-word label probabilities over the windows that saw each word.

    ``window_probs``: (word_index per token, probs [tokens, n_labels]) for each window of one
    receipt. Returns [n_words, n_labels]; every word is covered by at least one window.
    """
    total = np.zeros((n_words, n_labels), dtype=np.float64)
    count = np.zeros(n_words, dtype=np.int64)
    for word_index, probs in window_probs:
        wi = np.asarray(word_index)
        keep = wi >= 0
        np.add.at(total, wi[keep], probs[keep])
        np.add.at(count, wi[keep], 1)
    if (count == 0).any():
        missing = np.flatnonzero(count == 0)[:5].tolist()
        raise ValueError(f"words {missing} were in no window")
    return total / count[:, None]


def collate_windows(windows: Sequence[Window], pad_token_id: int) -> dict:
    """Pad a batch to its longest window (dynamic padding)."""
    import torch

    longest = max(len(w) for w in windows)
    n = len(windows)
    input_ids = torch.full((n, longest), pad_token_id, dtype=torch.long)
    bbox = torch.zeros((n, longest, 4), dtype=torch.long)
    attention = torch.zeros((n, longest), dtype=torch.long)
    labels = torch.full((n, longest), IGNORE_INDEX, dtype=torch.long)
    word_index = torch.full((n, longest), -1, dtype=torch.long)
    for i, w in enumerate(windows):
        k = len(w)
        input_ids[i, :k] = torch.tensor(w.input_ids)
        bbox[i, :k] = torch.tensor(w.bbox)
        attention[i, :k] = 1
        labels[i, :k] = torch.tensor(w.labels)
        word_index[i, :k] = torch.tensor(w.word_index)
    return {
        "input_ids": input_ids,
        "bbox": bbox,
        "attention_mask": attention,
        "labels": labels,
        "word_index": word_index,
        "receipt_index": torch.tensor([w.receipt_index for w in windows], dtype=torch.long),
    }
