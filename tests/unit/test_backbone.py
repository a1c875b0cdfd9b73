"""Backbones load offline: MiniLM text weights into LayoutLM, and `layoutlm_base`'s
from_pretrained path from a local directory."""

from __future__ import annotations

import pytest
import torch

from receipt_lightning.errors import FatalError
from receipt_lightning.model.backbone import MINILM, build_model, load_tokenizer, minilm_dir

LABELS = ["O", "B-total", "I-total"]
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def test_minilm_text_encoder_starts_from_pretrained_weights():
    from safetensors.torch import load_file

    model = build_model(LABELS, "minilm")
    bert = load_file(str(minilm_dir() / "model.safetensors"))
    ours = model.state_dict()
    for key in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.weight"):
        assert torch.equal(ours[f"layoutlm.{key}"], bert[key])
    assert model.config.hidden_size == 384 and model.num_labels == 3


def test_layoutlm_base_path_loads_from_a_local_directory(tmp_path):
    src = build_model(["O", "B-x", "I-x", "B-y", "I-y"], "random", **TINY)
    src.save_pretrained(tmp_path)
    load_tokenizer(MINILM).save_pretrained(tmp_path)

    model = build_model(LABELS, "pretrained", name_or_path=str(tmp_path))
    assert model.num_labels == 3  # the head is resized to this data's labels
    a, b = src.state_dict(), model.state_dict()
    assert torch.equal(
        a["layoutlm.encoder.layer.1.output.dense.weight"], b["layoutlm.encoder.layer.1.output.dense.weight"]
    )
    assert len(load_tokenizer(str(tmp_path))) == 30522


def test_layoutlm_base_config_composes_to_a_local_directory(tmp_path):
    from hydra.utils import instantiate

    from receipt_lightning.configs import compose as compose_config

    build_model(LABELS, "random", **TINY).save_pretrained(tmp_path)
    load_tokenizer(MINILM).save_pretrained(tmp_path)
    cfg = compose_config(["run_id=t", "model=layoutlm_base", f"model.backbone.name_or_path={tmp_path}"])
    assert cfg.model.tokenizer == str(tmp_path)
    module = instantiate(cfg.model, label_list=LABELS, _convert_="all")
    assert module.hparams.hf_config["hidden_size"] == 32


def test_missing_local_weights_and_unknown_kind_are_clear_errors(tmp_path):
    with pytest.raises(FatalError, match="cannot load LayoutLM weights"):
        build_model(LABELS, "pretrained", name_or_path=str(tmp_path / "nowhere"))
    with pytest.raises(FatalError, match="unknown model.backbone.kind"):
        build_model(LABELS, "bogus")


def test_training_key_lexicon_travels_in_the_checkpoint_to_prediction(tmp_path):
    """The company/address spellings learned from the training keys are saved with the weights
    (plain containers, loadable with weights_only=True) and used by `predict`'s decoder."""
    from receipt_lightning.fields.lexicon import FieldLexicon
    from receipt_lightning.model.module import ReceiptTokenClassifier
    from receipt_lightning.predict import load_predictor
    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO

    labels = ["O", "B-address", "I-address"]
    module = ReceiptTokenClassifier(labels, {"kind": "random", **TINY}, MINILM)
    module.lexicon = FieldLexicon.from_keys([{"address": "NO 290, JALAN AIR PANAS."}] * 2)
    ckpt = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}
    module.on_save_checkpoint(ckpt)
    EFSCheckpointIO().save_checkpoint(ckpt, str(tmp_path / "a.ckpt"))

    restored = ReceiptTokenClassifier(labels, {"kind": "random", **TINY}, MINILM)
    restored.on_load_checkpoint(EFSCheckpointIO().load_checkpoint(str(tmp_path / "a.ckpt")))
    assert restored.lexicon.snap("address", "NO 290, JALAN AIR PANAS") == "NO 290, JALAN AIR PANAS."
    predictor = load_predictor(tmp_path / "a.ckpt")
    assert predictor.lexicon.snap("address", "NO 290, JALAN AIR PANAS") == "NO 290, JALAN AIR PANAS."
    assert load_predictor(tmp_path / "a.ckpt", use_lexicon=False).lexicon is None
    # `predict` decodes through Predictor.decode: the lexicon applies to what it writes.
    from receipt_lightning.fields.decoding import gold_word_probs
    from receipt_lightning.receipt import Receipt

    r = Receipt(
        id="r",
        words=["NO", "290,", "JALAN", "AIR", "PANAS"],
        boxes=[(0, 0, 10, 10)] * 5,
        width=100,
        height=100,
    )
    probs = gold_word_probs(["B-address"] + ["I-address"] * 4, labels)
    assert predictor.decode([r], [probs]) == {"r": {"address": "NO 290, JALAN AIR PANAS."}}


def test_sinusoidal_xy_box_init_tells_x_from_y():
    """LayoutLM sums its x, y, width and height embeddings: with one shared sinusoidal table a box
    at (x=a, y=b) starts identical to one at (x=b, y=a); ``sinusoidal_xy`` keeps them apart."""

    def box_sum(model, x0, y0, x1, y1):
        e = model.layoutlm.embeddings
        t = torch.tensor
        return (
            e.x_position_embeddings(t(x0)) + e.y_position_embeddings(t(y0)) + e.x_position_embeddings(t(x1))
            + e.y_position_embeddings(t(y1)) + e.h_position_embeddings(t(y1 - y0))
            + e.w_position_embeddings(t(x1 - x0))
        )  # fmt: skip

    shared = build_model(LABELS, "random", box_init="sinusoidal", **TINY)
    split = build_model(LABELS, "random", box_init="sinusoidal_xy", **TINY)
    a, b = (100, 500, 200, 520), (500, 100, 520, 200)
    assert torch.allclose(box_sum(shared, *a), box_sum(shared, *b))
    assert not torch.allclose(box_sum(split, *a), box_sum(split, *b), atol=1e-3)
    x = split.layoutlm.embeddings.x_position_embeddings.weight
    assert float(x[:, 16:].abs().max()) == 0.0 and abs(float(x.std()) - 0.02) < 0.002


def test_frozen_parameters_get_no_optimizer_updates():
    from receipt_lightning.model.module import ReceiptTokenClassifier
    from receipt_lightning.model.optim import param_groups

    module = ReceiptTokenClassifier(LABELS, {"kind": "random", **TINY}, MINILM, frozen=["word_embeddings"])
    word = module.model.layoutlm.embeddings.word_embeddings.weight
    assert not word.requires_grad and module.hparams.frozen == ["word_embeddings"]
    optimized = {id(p) for g in param_groups(module.model, 1e-3, 0.01) for p in g["params"]}
    assert id(word) not in optimized
    assert id(module.model.layoutlm.embeddings.x_position_embeddings.weight) in optimized
