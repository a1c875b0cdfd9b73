"""The original receipt-trainer job API (``TrainingConfig``, ``DataConfig``) mapped onto Hydra.

A job is a model name plus these two dataclasses; ``job_overrides`` turns them into the Hydra
override strings the trainer (``python -m receipt_lightning.train``) understands. Only fields that
differ from their defaults become overrides, so the experiment's own YAML decides the rest.

Import-light on purpose (reachable from ``receipt-lightning --help``): standard library only.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.messages import DATA_FORMATS
from receipt_lightning.jobs.messages import DATASET_NAME as _DATASET_NAME

# model_name -> Hydra `model=` group option. Short names and the original Hugging Face ids both work.
MODEL_CHOICES: dict[str, str] = {
    "layoutlm_tiny": "layoutlm_tiny",
    "layoutlm_minilm": "layoutlm_minilm",
    "layoutlm_base": "layoutlm_base",
    "microsoft/layoutlm-base-uncased": "layoutlm_base",
}
# The model of a job that names none (receipt-trainer's API and job files): a pretrained text
# encoder, offline; layoutlm_tiny is for tests and the smoke run only.
DEFAULT_MODEL = "layoutlm_minilm"
# conf/trainer/ options a job may name (auto: the worker's machine decides; the default).
TRAINERS: tuple[str, ...] = ("auto", "cpu", "cpu_bf16", "gpu", "ddp")
# DATA_FORMATS and the dataset-name rule live in jobs.messages: the worker vets a message's
# fields by the very rules submit uses.


@dataclass
class TrainingConfig:
    """How to train. ``None`` means "keep the experiment's value"."""

    num_epochs: int | None = None  # passes over the training split -> trainer.max_epochs
    batch_size: int | None = None  # receipts per optimiser step per device -> data.batch_size
    learning_rate: float | None = None  # peak AdamW learning rate -> model.learning_rate
    weight_decay: float | None = None  # AdamW decoupled weight decay -> model.weight_decay
    warmup_ratio: float | None = None  # fraction of total steps spent in linear warm-up -> model.warmup_ratio
    max_length: int | None = None  # sub-tokens per window incl. [CLS]/[SEP] -> data.max_length
    seed: int | None = None  # global seed (data order, init, dropout) -> seed
    max_steps: int | None = None  # hard stop in optimiser steps (-1 = none) -> trainer.max_steps
    trainer: str | None = None  # Hydra trainer group: auto | cpu | cpu_bf16 | gpu | ddp -> trainer=<name>; None = auto on the worker
    experiment: str | None = None  # Hydra experiment preset applied first -> experiment=<name>

    def validate(self) -> None:
        for name in ("num_epochs", "batch_size", "max_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"training.{name} must be a positive integer, got {value!r}")
        for name in ("learning_rate", "weight_decay", "warmup_ratio"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise InputError(f"training.{name} must be a non-negative number, got {value!r}")
        if self.warmup_ratio is not None and self.warmup_ratio > 1:
            raise InputError(f"training.warmup_ratio must be in [0, 1], got {self.warmup_ratio!r}")
        if self.trainer is not None and self.trainer not in TRAINERS:
            raise InputError(f"training.trainer must be one of {', '.join(TRAINERS)}, got {self.trainer!r}")


@dataclass
class DataConfig:
    """What to train on. The dataset is a directory ``<shared root>/datasets/<dataset_name>/``."""

    dataset_name: str | None = None  # directory under <shared root>/datasets/; None = synthetic receipts
    data_format: str | None = None  # synthetic | sroie | jsonl -> data=<format>; None = detect on the worker
    # Split names are fixed by the formats (jsonl: train.jsonl / val.jsonl; sroie: a hash split
    # of one directory, sized by val_fraction), so these only accept those names and map to nothing.
    train_split: str | None = None  # "train" (the only training split a dataset directory has)
    eval_split: str | None = None  # "val" / "validation" / "eval" (the held-out split)
    val_fraction: float | None = (
        None  # held-out share when the format splits one directory -> data.val_fraction
    )
    max_samples: int | None = None  # cap on training receipts; None = all -> data.max_samples
    num_workers: int | None = None  # DataLoader worker processes -> data.num_workers

    def validate(self) -> None:
        if self.dataset_name is not None and not _DATASET_NAME.match(self.dataset_name):
            raise InputError(
                f"data.dataset_name {self.dataset_name!r} must be one directory name "
                "(letters, digits, . _ -; no '/' or '..')"
            )
        if self.data_format is not None and self.data_format not in DATA_FORMATS:
            raise InputError(
                f"data.data_format must be one of {', '.join(DATA_FORMATS)}, got {self.data_format!r}"
            )
        if self.train_split not in (None, "train"):
            raise InputError(
                f"data.train_split {self.train_split!r}: datasets have one training split, 'train'"
            )
        if self.eval_split not in (None, "val", "validation", "eval"):
            raise InputError(f"data.eval_split {self.eval_split!r}: datasets have one held-out split, 'val'")
        if self.val_fraction is not None and not 0 <= self.val_fraction < 1:
            raise InputError(f"data.val_fraction must be in [0, 1), got {self.val_fraction!r}")
        for name in ("max_samples", "num_workers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise InputError(f"data.{name} must be a non-negative integer, got {value!r}")


# dataclass field -> Hydra key (plain "key=value" overrides).
TRAINING_KEYS: dict[str, str] = {
    "num_epochs": "trainer.max_epochs",
    "batch_size": "data.batch_size",
    "learning_rate": "model.learning_rate",
    "weight_decay": "model.weight_decay",
    "warmup_ratio": "model.warmup_ratio",
    "max_length": "data.max_length",
    "seed": "seed",
    "max_steps": "trainer.max_steps",
}
DATA_KEYS: dict[str, str] = {
    "val_fraction": "data.val_fraction",
    "max_samples": "data.max_samples",
    "num_workers": "data.num_workers",
}


def _literal(value: Any) -> str:
    """A value as Hydra's override grammar reads it back unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_./:-]+", text) and not text[0].isdigit():
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def experiment_override(name: str, conf_dir: Path | None = None) -> str:
    """``experiment=NAME`` when the primary config lists ``experiment: null`` in its defaults
    (the group exists, so the option is changed), else ``+experiment=NAME`` (added)."""
    from receipt_lightning.configs import PRIMARY_CONFIG
    from receipt_lightning.configs import conf_dir as default_conf_dir

    primary = (conf_dir or default_conf_dir()) / f"{PRIMARY_CONFIG}.yaml"
    try:
        listed = re.search(r"^\s*-\s*experiment\s*:", primary.read_text(), re.MULTILINE) is not None
    except OSError:
        listed = False  # no conf next to the package (an installed wheel): Hydra's usual form
    return f"experiment={name}" if listed else f"+experiment={name}"


def model_override(model_name: str) -> str:
    """``model_name`` -> ``model=<group option>``."""
    choice = MODEL_CHOICES.get(model_name)
    if choice is None:
        raise InputError(f"unknown model {model_name!r}; choose one of {', '.join(sorted(MODEL_CHOICES))}")
    return f"model={choice}"


def training_overrides(cfg: TrainingConfig) -> list[str]:
    cfg.validate()
    out = [experiment_override(cfg.experiment)] if cfg.experiment else []
    if cfg.trainer:
        out.append(f"trainer={cfg.trainer}")
    out += [
        f"{key}={_literal(getattr(cfg, f))}"
        for f, key in TRAINING_KEYS.items()
        if getattr(cfg, f) is not None
    ]
    return out


def data_overrides(cfg: DataConfig, shared_root: str | None = None) -> list[str]:
    """Overrides for ``cfg``. ``data.root`` is added only when ``shared_root`` is known (local
    runs); a queued job carries the dataset name instead and the worker resolves it on its EFS."""
    cfg.validate()
    out = []
    if cfg.data_format:
        out.append(f"data={cfg.data_format}")
    if cfg.dataset_name and shared_root:
        root = shared_root.rstrip("/")
        out.append("data.root=" + _literal(f"{root}/datasets/{cfg.dataset_name}"))
    out += [
        f"{key}={_literal(getattr(cfg, f))}" for f, key in DATA_KEYS.items() if getattr(cfg, f) is not None
    ]
    return out


def job_overrides(
    model_name: str, training: TrainingConfig, data: DataConfig, shared_root: str | None = None
) -> list[str]:
    """All overrides of a job, experiment first so later keys win over the preset."""
    train = training_overrides(training)
    head = [o for o in train if o.lstrip("+").startswith("experiment=")]
    rest = [o for o in train if not o.lstrip("+").startswith("experiment=")]
    return head + [model_override(model_name)] + data_overrides(data, shared_root) + rest


def from_dict(cls: type, values: dict[str, Any] | None, section: str, source: str | None = None):
    """Build ``cls`` from a YAML section, naming the unknown key if there is one."""
    values = values or {}
    if not isinstance(values, dict):
        raise InputError(f"section {section!r} must be a mapping", source=source)
    known = {f.name for f in fields(cls)}
    for key in values:
        if key not in known:
            raise InputError(
                f"unknown key {section}.{key} (known: {', '.join(sorted(known))})", source=source
            )
    return cls(**values)


def to_dict(cfg: TrainingConfig | DataConfig) -> dict[str, Any]:
    """Non-default fields only (what the job record stores)."""
    return {k: v for k, v in asdict(cfg).items() if v is not None}
