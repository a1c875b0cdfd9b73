"""Sub-token alignment of labels and boxes, box normalisation, windowing and merging."""

from __future__ import annotations

import numpy as np
import pytest

from receipt_lightning.data.encoding import (
    IGNORE_INDEX,
    collate_windows,
    encode_receipt,
    merge_word_probs,
    normalize_box,
    window_spans,
)
from receipt_lightning.errors import InputError
from receipt_lightning.model.backbone import MINILM, load_tokenizer
from receipt_lightning.receipt import Receipt, bio_label_list


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(MINILM)


def test_tokenizer_has_full_vocabulary(tokenizer):
    # transformers 5 trap: LayoutLMTokenizerFast(vocab_file=...) gives a 5-token vocabulary.
    assert len(tokenizer) == 30522
    assert tokenizer.tokenize("receipt total") == ["receipt", "total"]


def test_normalize_box_scales_and_clamps():
    assert normalize_box((50, 100, 150, 200), 500, 1000) == [100, 100, 300, 200]
    assert normalize_box((-10, 0, 700, 2000), 500, 1000) == [0, 0, 1000, 1000]
    assert normalize_box((150, 200, 50, 100), 500, 1000) == [100, 100, 300, 200]


def _receipt(words, labels=None):
    boxes = [(10 * i, 5, 10 * i + 8, 15) for i in range(len(words))]
    return Receipt("r1", list(words), boxes, width=1000, height=100, labels=labels)


def test_first_subtoken_labelled_rest_ignored_special_tokens_zero_box(tokenizer):
    labels = ["B-total", "O", "B-company"]
    label2id = {lab: i for i, lab in enumerate(bio_label_list(["company", "total"]))}
    receipt = _receipt(["RM9.00", "the", "SUPERMARKETS"], labels)
    (w,) = encode_receipt(receipt, 0, tokenizer, label2id, max_length=64)
    assert w.input_ids[0] == tokenizer.cls_token_id and w.input_ids[-1] == tokenizer.sep_token_id
    assert w.bbox[0] == [0, 0, 0, 0] and w.bbox[-1] == [0, 0, 0, 0]
    n_rm = len(tokenizer(["RM9.00"], add_special_tokens=False)["input_ids"][0])
    assert n_rm > 1
    assert w.labels[1] == label2id["B-total"]
    assert w.labels[2 : 1 + n_rm] == [IGNORE_INDEX] * (n_rm - 1)
    # every sub-token of a word carries that word's box
    assert all(b == w.bbox[1] for b in w.bbox[1 : 1 + n_rm])
    assert w.word_index[1] == 0 and w.word_index[1 + n_rm] == 1
    assert [w.labels[i] for i in range(len(w)) if w.word_index[i] >= 0] == [label2id[x] for x in labels]


def test_window_spans_cover_every_word_with_overlap():
    lengths = [3, 1, 2, 5, 1, 1, 4, 2, 2, 3] * 5
    spans = window_spans(lengths, max_tokens=12, stride_tokens=4)
    covered = set()
    for s, e in spans:
        assert sum(lengths[s:e]) <= 12
        covered.update(range(s, e))
    assert covered == set(range(len(lengths)))
    assert all(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1)), "windows overlap"
    assert all(spans[i + 1][0] > spans[i][0] for i in range(len(spans) - 1)), "windows advance"


def test_long_receipt_split_not_truncated_and_merged_back(tokenizer):
    words = [f"item{i}" for i in range(300)]
    receipt = _receipt(words)
    windows = encode_receipt(receipt, 0, tokenizer, None, max_length=64, stride=16)
    assert len(windows) > 1
    assert all(len(w) <= 64 for w in windows)
    seen = {i for w in windows for i in w.word_index if i >= 0}
    assert seen == set(range(300))
    n_labels = 3
    window_probs = []
    for w in windows:
        probs = np.zeros((len(w), n_labels))
        for t, wi in enumerate(w.word_index):
            if wi >= 0:
                probs[t, wi % n_labels] = 1.0
        window_probs.append((w.word_index, probs))
    merged = merge_word_probs(300, n_labels, window_probs)
    assert merged.shape == (300, n_labels)
    assert (merged.argmax(1) == np.arange(300) % n_labels).all()


def test_collate_pads_dynamically(tokenizer):
    a = encode_receipt(_receipt(["a"]), 0, tokenizer, None)[0]
    b = encode_receipt(_receipt(["a", "b", "c"]), 1, tokenizer, None)[0]
    batch = collate_windows([a, b], tokenizer.pad_token_id)
    assert batch["input_ids"].shape == (2, len(b))
    assert batch["attention_mask"][0].sum() == len(a)
    assert batch["labels"][0, len(a) :].eq(IGNORE_INDEX).all()


def test_mismatched_words_and_boxes_name_the_receipt():
    with pytest.raises(InputError, match="r9"):
        Receipt("r9", ["a", "b"], [(0, 0, 1, 1)], width=10, height=10)
