"""Ensembles (``model.ensemble_size``): members learn independently, predict together, and
survive a checkpoint round trip through ``predict``'s loader."""

from __future__ import annotations

import pytest
import torch

from receipt_lightning.errors import FatalError
from receipt_lightning.model.backbone import MINILM
from receipt_lightning.model.ensemble import TokenEnsemble, average_log_probs

LABELS = ["O", "B-total", "I-total"]
TINY = {"kind": "random", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
TINY["intermediate_size"] = 64


def batch_of(n: int = 2, length: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 500, (n, length), generator=g)
    y0 = torch.randint(0, 500, (n, length), generator=g)
    return {
        "input_ids": torch.randint(5, 1000, (n, length), generator=g),
        "bbox": torch.stack([x0, y0, x0 + 100, y0 + 20], dim=-1),
        "attention_mask": torch.ones(n, length, dtype=torch.long),
        "labels": torch.randint(0, len(LABELS), (n, length), generator=g),
    }


def ensemble_module(size: int = 2):
    from receipt_lightning.model.module import ReceiptTokenClassifier

    torch.manual_seed(0)
    return ReceiptTokenClassifier(LABELS, TINY, MINILM, ensemble_size=size)


def test_average_log_probs_is_the_log_of_the_mean_distribution():
    a, b = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[-3.0, 1.0, 0.5]])
    mean = (a.softmax(-1) + b.softmax(-1)) / 2
    assert torch.allclose(average_log_probs([a, b]).exp(), mean, atol=1e-6)
    assert torch.allclose(average_log_probs([a, b]).softmax(-1), mean, atol=1e-6)


def test_members_start_apart_and_each_trains_on_its_own_loss():
    module = ensemble_module()
    first, second = module.model.members
    assert not torch.equal(first.classifier.weight, second.classifier.weight)
    module.eval()  # no dropout: the loss below is exactly reproducible
    batch = batch_of()
    member_losses = [
        module._loss(logits, batch["labels"])
        for logits in module.model.member_logits(
            **{k: batch[k] for k in ("input_ids", "bbox", "attention_mask")}
        )
    ]
    loss = module.training_step(batch, 0)
    assert torch.allclose(loss, member_losses[0] + member_losses[1])
    loss.backward()
    assert first.classifier.weight.grad is not None and second.classifier.weight.grad is not None
    # The averaged prediction is what validation and predict decode.
    logits = module(batch)
    expected = average_log_probs(
        module.model.member_logits(**{k: batch[k] for k in ("input_ids", "bbox", "attention_mask")})
    )
    assert torch.allclose(logits, expected, atol=1e-6)


def test_both_heads_learn_at_the_head_rate():
    from receipt_lightning.model.optim import param_groups

    module = ensemble_module()
    groups = param_groups(module.model, 1e-3, 0.01, head_lr_multiplier=10.0)
    head_params = {id(p) for g in groups if g["lr"] == pytest.approx(1e-2) for p in g["params"]}
    for member in module.model.members:
        assert id(member.classifier.weight) in head_params
        assert id(member.layoutlm.encoder.layer[0].output.dense.weight) not in head_params


def test_an_ensemble_checkpoint_predicts_what_the_module_computed(tmp_path):
    from receipt_lightning.predict import load_predictor
    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO

    module = ensemble_module().eval()
    checkpoint = {"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}
    path = tmp_path / "ens.ckpt"
    EFSCheckpointIO().save_checkpoint(checkpoint, str(path))
    predictor = load_predictor(path)
    assert isinstance(predictor.model, TokenEnsemble) and len(predictor.model.members) == 2
    batch = batch_of()
    inputs = {k: batch[k] for k in ("input_ids", "bbox", "attention_mask")}
    with torch.no_grad():
        assert torch.allclose(predictor.model.eval()(**inputs).logits, module(batch), atol=1e-6)


@pytest.mark.parametrize("size", [0, -1, 1.5])
def test_a_bad_ensemble_size_is_a_clear_error(size):
    from receipt_lightning.model.module import ReceiptTokenClassifier

    with pytest.raises(FatalError, match="ensemble_size"):
        ReceiptTokenClassifier(LABELS, TINY, MINILM, ensemble_size=size)
