"""``TokenEnsemble``: token classifiers of one architecture trained side by side on the same
batches, each from its own head initialisation and dropout masks, with their label probabilities
averaged at prediction. One module, one optimizer and one checkpoint, so an ensemble resumes
after a Spot interruption exactly as a single model does."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from receipt_lightning.errors import FatalError


def average_log_probs(member_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Log of the members' mean label probabilities (``[..., n_labels]``): its softmax is the
    averaged distribution and its argmax the averaged vote, so it stands in for logits."""
    stacked = torch.stack([logits.float().log_softmax(-1) for logits in member_logits])
    return torch.logsumexp(stacked, dim=0) - math.log(len(member_logits))


class TokenEnsemble(torch.nn.Module):
    """Called like a Hugging Face token classifier (keyword inputs, an output with ``.logits``);
    ``member_logits`` gives each member's logits for training, where every member has its own
    loss (the members learn independently, as separately trained models would)."""

    def __init__(self, members: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise FatalError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = torch.nn.ModuleList(members)

    @property
    def config(self) -> Any:
        """The members' (shared) Hugging Face config."""
        return self.members[0].config

    def member_logits(self, **inputs: torch.Tensor) -> list[torch.Tensor]:
        return [member(**inputs).logits for member in self.members]

    def forward(self, **inputs: torch.Tensor) -> Any:
        from transformers.modeling_outputs import TokenClassifierOutput

        return TokenClassifierOutput(logits=average_log_probs(self.member_logits(**inputs)))


def build_classifier(label_list: Sequence[str], size: int, backbone: Mapping[str, Any]) -> torch.nn.Module:
    """One fresh model (``size`` 1) or a ``TokenEnsemble`` of ``size``; members are built one after
    another, so each draws its own classifier head from the seeded random stream."""
    from receipt_lightning.model.backbone import build_model

    return _one_or_ensemble(lambda: build_model(list(label_list), **backbone), size)


def classifier_from_config(hf_config: Mapping[str, Any], size: int = 1) -> torch.nn.Module:
    """The architecture a checkpoint saved (weights follow from its state dict), no download."""
    from receipt_lightning.model.backbone import model_from_config

    return _one_or_ensemble(lambda: model_from_config(hf_config), size)


def _one_or_ensemble(make: Callable[[], torch.nn.Module], size: int) -> torch.nn.Module:
    if not isinstance(size, int) or size < 1:
        raise FatalError(f"model.ensemble_size must be a positive integer, got {size!r}")
    models = [make() for _ in range(size)]
    return models[0] if size == 1 else TokenEnsemble(models)
