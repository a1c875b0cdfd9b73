"""OCR-like noisy copies of training receipts (data/augment.py, data.noisy_copies)."""

from __future__ import annotations

import pytest

from receipt_lightning.data.augment import NoiseConfig, noisy_copy
from receipt_lightning.data.synthetic.generator import generate_receipts
from receipt_lightning.receipt import SROIE_FIELDS, bio_label_list, check_labels

LABELS = bio_label_list(list(SROIE_FIELDS))


def field_letters(receipt, field):
    """The letters of every word tagged ``field``, in order (what the noise must keep together)."""
    return "".join(w for w, t in zip(receipt.words, receipt.labels, strict=True) if t[2:] == field)


@pytest.fixture(scope="module")
def receipts():
    return generate_receipts(40, seed=5)


def test_a_copy_is_the_same_on_every_run_and_differs_per_copy_number(receipts):
    r = receipts[0]
    assert noisy_copy(r, 1, seed=0) == noisy_copy(r, 1, seed=0)
    assert noisy_copy(r, 1, seed=0).words != noisy_copy(r, 2, seed=0).words
    assert noisy_copy(r, 1, seed=0).id == f"{r.id}@noise1"


def test_the_original_is_left_alone(receipts):
    r = receipts[1]
    words, boxes, labels = list(r.words), list(r.boxes), list(r.labels)
    noisy_copy(r, 1, cfg=NoiseConfig(confuse_prob=0.5, glue_prob=0.5, split_prob=0.5))
    assert (r.words, r.boxes, r.labels) == (words, boxes, labels)


def test_labels_follow_glued_and_broken_words(receipts):
    """Heavy glueing and breaking, no character noise: every field keeps exactly its letters,
    starts with its B- word and is continued by I- words; a glued pair never spans two fields."""
    cfg = NoiseConfig(confuse_prob=0, drop_char_prob=0, drop_punct_prob=0, glue_prob=0.5, split_prob=0.5)
    changed = 0
    for r in receipts:
        n = noisy_copy(r, 1, cfg=cfg)
        check_labels(n, LABELS)
        assert len(n.words) == len(n.boxes) == len(n.labels) == len(n.line_ids)
        changed += n.words != r.words
        for field in SROIE_FIELDS:
            assert field_letters(n, field) == field_letters(r, field).replace(" ", "")
            assert [t for t in n.labels if t == f"B-{field}"] == [t for t in r.labels if t == f"B-{field}"]
        for prev, tag in zip(n.labels, n.labels[1:], strict=False):
            if tag.startswith("I-"):
                assert prev[2:] == tag[2:]
    assert changed >= len(receipts) // 2


def test_characters_are_confused_and_punctuation_lost_at_about_the_set_rates(receipts):
    cfg = NoiseConfig(confuse_prob=0.1, drop_char_prob=0, drop_punct_prob=1.0, glue_prob=0, split_prob=0)
    before = after = 0
    for r in receipts:
        n = noisy_copy(r, 1, cfg=cfg)
        assert len(n.words) == len(r.words)
        before += sum(len(w) for w in r.words)
        after += sum(
            a != b for w, v in zip(r.words, n.words, strict=True) for a, b in zip(w, v, strict=False)
        )
        assert not any(len(w) > 1 and w[-1] in ",.:;" for w in n.words)
    assert 0.02 < after / before < 0.12  # confusable characters only, at 10 %


def test_boxes_shift_per_line_and_stay_on_the_page(receipts):
    cfg = NoiseConfig(
        confuse_prob=0, drop_char_prob=0, drop_punct_prob=0, glue_prob=0, split_prob=0, shift_frac=0.05
    )
    for r in receipts:
        n = noisy_copy(r, 1, cfg=cfg)
        assert all(0 <= x0 <= x1 <= r.width and 0 <= y0 <= y1 <= r.height for x0, y0, x1, y1 in n.boxes)
        moved = {}
        for line, a, b in zip(r.line_ids, r.boxes, n.boxes, strict=True):
            if 0 < a[0] and a[2] < r.width and 0 < a[1] and a[3] < r.height:
                moved.setdefault(line, set()).add((b[0] - a[0], b[1] - a[1]))
        assert any(s != {(0, 0)} for s in moved.values())


def test_the_datamodule_adds_noisy_copies_to_training_only():
    from receipt_lightning.data.datamodule import ReceiptDataModule
    from receipt_lightning.model.backbone import MINILM, load_tokenizer

    tokenizer = load_tokenizer(MINILM)
    plain = ReceiptDataModule(tokenizer, source="synthetic", fields=SROIE_FIELDS, n_train=12, n_val=4)
    noisy = ReceiptDataModule(
        tokenizer, source="synthetic", fields=SROIE_FIELDS, n_train=12, n_val=4, noisy_copies=2
    )
    plain.setup("fit")
    noisy.setup("fit")
    ids = [r.id for r in plain.train_receipts]
    assert [r.id for r in noisy.train_receipts] == ids + [f"{i}@noise{k}" for k in (1, 2) for i in ids]
    assert [r.id for r in noisy.val_receipts] == [r.id for r in plain.val_receipts]
    assert noisy.steps_per_epoch() >= 3 * plain.steps_per_epoch() - 2
    with pytest.raises(ValueError, match="noisy_copies"):
        ReceiptDataModule(tokenizer, source="synthetic", fields=SROIE_FIELDS, noisy_copies=-1)


def test_the_sroie_recipe_reads_each_receipt_twice_in_the_same_steps():
    """+experiment=sroie: one noisy copy per receipt and half the epochs (the steps of 12 epochs
    over the receipts alone); sroie_images, whose second reading is the scans, has none."""
    from receipt_lightning.configs import compose

    cfg = compose(["+experiment=sroie", "data.root=/data"], hydra_config=False)
    assert cfg.data.noisy_copies == 1 and cfg.trainer.max_epochs == 6
    assert cfg.trainer.check_val_every_n_epoch == 6
    images = compose(["+experiment=sroie_images", "data.root=/data"], hydra_config=False)
    assert images.data.noisy_copies == 0 and images.trainer.max_epochs == 6
