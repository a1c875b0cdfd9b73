"""Reading a training checkpoint (or a run directory's best/last one) into plain parts: the
backbone's config, the label list, the weights per ensemble member, the windowing settings and
the training-key lexicon. Loaded with ``weights_only=True``, its checksum verified when it has one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from receipt_lightning.errors import FatalError
from receipt_lightning.run_checkpoint import resolve_checkpoint


@dataclass
class CheckpointContents:
    path: Path  # the checkpoint file read (a run directory resolved to its best, else last)
    hf_config: dict[str, Any]  # the backbone's full Hugging Face config (id2label included)
    label_list: list[str]  # BIO labels in logit-column order
    tokenizer: str  # tokenizer spec training used (a directory, or the MiniLM package name)
    ensemble_size: int  # members; 1 is a single model
    state_dict: dict[str, torch.Tensor]  # the classifier's weights (``model.`` prefix removed)
    max_length: int  # tokens per window, as training windowed receipts
    stride: int  # tokens two windows overlap
    lexicon: dict[str, Any] | None  # FieldLexicon.to_plain() of the training keys, if saved
    global_step: int | None  # optimizer steps the weights had when saved
    hyper_parameters: dict[str, Any] = field(default_factory=dict)  # everything the module saved

    def member_state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """One Hugging Face ``LayoutLMForTokenClassification`` state dict per member."""
        if self.ensemble_size == 1:
            return [dict(self.state_dict)]
        members: list[dict[str, torch.Tensor]] = [{} for _ in range(self.ensemble_size)]
        for key, value in self.state_dict.items():
            head, _, rest = key.partition(".")
            index, _, name = rest.partition(".")
            if head != "members" or not index.isdigit() or int(index) >= self.ensemble_size:
                raise FatalError(f"{self.path}: unexpected ensemble weight {key!r}")
            members[int(index)][name] = value
        return members


def read_checkpoint(path: str | Path) -> CheckpointContents:
    """``path``: a ``.ckpt`` written by training or a run directory (see ``run_checkpoint``)."""
    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO

    file = resolve_checkpoint(path)
    ckpt = EFSCheckpointIO().load_checkpoint(str(file), map_location="cpu")
    hp = ckpt.get("hyper_parameters") or {}
    missing = [k for k in ("label_list", "hf_config", "tokenizer") if k not in hp]
    if missing:
        raise FatalError(f"{file}: not a receipt-lightning checkpoint (hyper_parameters lack {missing})")
    data_hp = ckpt.get("datamodule_hyper_parameters") or {}
    state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    return CheckpointContents(
        path=file,
        hf_config=dict(hp["hf_config"]),
        label_list=list(hp["label_list"]),
        tokenizer=str(hp["tokenizer"]),
        ensemble_size=int(hp.get("ensemble_size", 1)),
        state_dict=state,
        max_length=int(data_hp.get("max_length", 512)),
        stride=int(data_hp.get("stride", 128)),
        lexicon=ckpt.get("field_lexicon") or None,
        global_step=ckpt.get("global_step"),
        hyper_parameters=dict(hp),
    )


def build_classifier(contents: CheckpointContents) -> torch.nn.Module:
    """The checkpoint's classifier (a model or a ``TokenEnsemble``) with its weights, in eval mode."""
    from receipt_lightning.model.ensemble import classifier_from_config

    model = classifier_from_config(contents.hf_config, contents.ensemble_size)
    model.load_state_dict(contents.state_dict)
    return model.eval()
