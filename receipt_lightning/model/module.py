"""``ReceiptTokenClassifier``: LayoutLM token classification as a LightningModule."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from typing_extensions import override

from receipt_lightning.fields.lexicon import FieldLexicon
from receipt_lightning.model.ensemble import TokenEnsemble, build_classifier, classifier_from_config
from receipt_lightning.model.metrics import EntityF1
from receipt_lightning.model.optim import build_optimizer, linear_warmup_decay


def model_inputs(batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch tensors the backbone takes (labels and window bookkeeping left out)."""
    return {key: batch[key] for key in ("input_ids", "bbox", "attention_mask")}


class ReceiptTokenClassifier(L.LightningModule):
    """Word-level BIO tagging of receipt fields.

    Hyperparameters are saved as plain containers (checkpoints load with ``weights_only=True``)
    and include the backbone's full config (``hf_config``), the label list and the tokenizer
    spec, so a checkpoint rebuilds its model with no download.
    """

    def __init__(
        self,
        label_list: Sequence[str],
        backbone: Mapping[str, Any],
        tokenizer: str,
        learning_rate: float = 5e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        adam_eps: float = 1e-8,
        label_smoothing: float = 0.0,
        head_lr_multiplier: float = 1.0,
        layout_lr_multiplier: float = 1.0,
        optimizer_impl: str = "foreach",
        class_weight_power: float = 0.0,
        hf_config: Mapping[str, Any] | None = None,
        field_lexicon: bool = True,
        frozen: Sequence[str] = (),
        ensemble_size: int = 1,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        backbone = dict(backbone)
        if hf_config is not None:  # rebuilt from a checkpoint: architecture only, weights follow
            self.model = classifier_from_config(hf_config, ensemble_size)
        else:
            self.model = build_classifier(label_list, ensemble_size, backbone)
            hf_config = json.loads(self.model.config.to_json_string())
        # Parameters kept at their initial values (name substrings, e.g. "word_embeddings").
        for name, param in self.model.named_parameters():
            if any(part in name for part in frozen):
                param.requires_grad_(False)
        self.save_hyperparameters(
            {
                "label_list": list(label_list),
                "backbone": backbone,
                "tokenizer": tokenizer,
                "learning_rate": float(learning_rate),
                "weight_decay": float(weight_decay),
                "warmup_ratio": float(warmup_ratio),
                "adam_eps": float(adam_eps),
                "label_smoothing": float(label_smoothing),
                "head_lr_multiplier": float(head_lr_multiplier),
                "layout_lr_multiplier": float(layout_lr_multiplier),
                "optimizer_impl": optimizer_impl,
                "class_weight_power": float(class_weight_power),
                "hf_config": hf_config,
                "field_lexicon": bool(field_lexicon),
                "frozen": [str(part) for part in frozen],
                "ensemble_size": int(ensemble_size),
                # Where the weights started (warm_start.py; train.py loads them when the run
                # starts): kept for the record, never reloaded from a checkpoint.
                "pretrained": str(pretrained) if pretrained else None,
            }
        )
        self.label_list = list(label_list)
        self.val_entity = EntityF1(self.label_list)
        self._val_word_probs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.class_weights: torch.Tensor | None = None
        # Known company/address spellings of the training keys (model/lexicon.py); saved in
        # checkpoints so prediction decodes exactly as validation did.
        self.lexicon: FieldLexicon | None = None
        # Whether the receipts are this package's OCR of scans (``data.source=images``): the
        # lexicon then snaps more loosely and corrects misread legal forms (``FieldLexicon.for_ocr``).
        self.ocr_text = False

    @override
    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if stage != "fit" or dm is None:
            return
        self.ocr_text = getattr(dm, "source", None) == "images"
        if self.hparams.field_lexicon:
            keys = [r.fields for r in getattr(dm, "train_receipts", []) if r.fields]
            self.lexicon = FieldLexicon.from_keys(keys) if keys else None
            if self.lexicon is not None and self.ocr_text:
                self.lexicon.for_ocr()
        power = self.hparams.class_weight_power
        if not power:
            return
        # Rare labels (a receipt has one total among ~100 words) weigh more in the loss:
        # weight = (count / largest count) ** -power, so power 0.5 is inverse square root.
        counts = torch.zeros(len(self.label_list))
        for w in dm.train_windows:
            labels = torch.tensor([x for x in w.labels if x >= 0], dtype=torch.long)
            counts += torch.bincount(labels, minlength=len(self.label_list)).float()
        self.class_weights = (counts.clamp(min=1) / counts.max()).pow(-power)

    @override
    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**model_inputs(batch)).logits

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        return torch.nn.functional.cross_entropy(
            logits.view(-1, logits.size(-1)),
            labels.view(-1),
            weight=weight,
            ignore_index=-100,
            label_smoothing=self.hparams.label_smoothing,
        )

    @override
    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if isinstance(self.model, TokenEnsemble):
            # Each member's own loss, summed: every member gets the gradient it would get alone
            # (only gradient clipping sees all members' parameters together).
            member_logits = self.model.member_logits(**model_inputs(batch))
            loss = torch.stack([self._loss(logits, batch["labels"]) for logits in member_logits]).sum()
            shown = loss.detach() / len(member_logits)  # per member, comparable with one model
        else:
            loss = self._loss(self(batch), batch["labels"])
            shown = loss.detach()
        self.log("train/loss", shown, prog_bar=True, batch_size=batch["input_ids"].size(0))
        return loss

    @override
    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        # Full precision even under bf16 training: `predict` runs in fp32, so summary.json's
        # figures and predict + evaluate agree to the last receipt-field.
        with torch.autocast(device_type=self.device.type, enabled=False):
            logits = self(batch)
        loss = self._loss(logits, batch["labels"])
        self.log("val/loss", loss, prog_bar=True, batch_size=batch["input_ids"].size(0))
        self.val_entity.update(logits.argmax(-1), batch["labels"])
        # Keep per-word probabilities so the epoch end can merge windows and decode fields.
        probs = logits.float().softmax(-1).cpu().numpy()
        for row, r_idx in enumerate(batch["receipt_index"].tolist()):
            self._val_word_probs.setdefault(r_idx, []).append(
                (batch["word_index"][row].cpu().numpy(), probs[row])
            )

    @override
    def on_validation_epoch_end(self) -> None:
        scores = self.val_entity.compute()
        self.val_entity.reset()
        for name, value in scores.items():
            self.log(f"val/{name}", value, prog_bar=name == "f1")
        collected, self._val_word_probs = self._val_word_probs, {}
        dm = getattr(self.trainer, "datamodule", None)
        receipts = getattr(dm, "val_receipts", None)
        if self.trainer.sanity_checking or not receipts or not collected:
            return
        from receipt_lightning.model.field_scores import field_scores

        fields = field_scores(receipts, collected, self.label_list, lexicon=self.lexicon)
        for name, value in fields.items():
            self.log(f"val/{name}", float(value))

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.lexicon is not None:
            checkpoint["field_lexicon"] = self.lexicon.to_plain()

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("field_lexicon"):
            self.lexicon = FieldLexicon(checkpoint["field_lexicon"])
            if self.ocr_text:
                self.lexicon.for_ocr()

    @override
    def configure_optimizers(self) -> OptimizerLRScheduler:
        hp = self.hparams
        optimizer = build_optimizer(
            self.model,
            lr=hp.learning_rate,
            weight_decay=hp.weight_decay,
            eps=hp.adam_eps,
            head_lr_multiplier=hp.head_lr_multiplier,
            layout_lr_multiplier=hp.layout_lr_multiplier,
            impl=hp.optimizer_impl,
        )
        # train.py sets max_steps; estimated_stepping_batches would build the train loader
        # before Lightning restores its saved position (see plugins/resume_fixes.py).
        max_steps = self.trainer.max_steps
        total = (
            int(max_steps) if max_steps and max_steps > 0 else int(self.trainer.estimated_stepping_batches)
        )
        scheduler = linear_warmup_decay(optimizer, int(hp.warmup_ratio * total), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
