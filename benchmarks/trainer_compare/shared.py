"""What both sides share: the composed config, the tokenised windows, the seeded model init and
the entity F1 evaluation, so the only difference between the sides is the training loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Benchmark runs build their own Trainer without checkpointing, so the checkpoint group is
# dropped (it configures callbacks the benchmark does not create).
BASE_OVERRIDES = ("run_id=bench", "~checkpoint")


def compose(overrides: Sequence[str]):
    """The training config with the benchmark's overrides (Hydra syntax)."""
    from receipt_lightning.configs import compose as compose_config

    return compose_config([*BASE_OVERRIDES, *overrides])


def build_datamodule(cfg):
    """The project's datamodule, set up: receipts loaded and tokenised once into windows."""
    from hydra.utils import instantiate

    from receipt_lightning.model.backbone import load_tokenizer

    tokenizer = load_tokenizer(cfg.model.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")
    return datamodule


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch right before the model is built, so both sides start from
    the same weights (the classifier head is random)."""
    import lightning as L

    L.seed_everything(seed, workers=True, verbose=False)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def weights_digest(model) -> str:
    from receipt_lightning.runs import weights_sha256

    return weights_sha256(model.state_dict())


def entity_f1(model, datamodule, label_list: Sequence[str], device: str = "cpu") -> dict[str, float]:
    """Entity P/R/F1 of a ``LayoutLMForTokenClassification`` on the validation windows, with the
    project's ``EntityF1`` (same code for both sides)."""
    import torch

    from receipt_lightning.model.metrics import EntityF1

    metric = EntityF1(list(label_list))
    model.eval()
    model.to(device)
    with torch.inference_mode():
        for batch in datamodule.val_dataloader():
            out = model(
                input_ids=batch["input_ids"].to(device),
                bbox=batch["bbox"].to(device),
                attention_mask=batch["attention_mask"].to(device),
            )
            metric.update(out.logits.argmax(-1).cpu(), batch["labels"])
    return {k: float(v) for k, v in metric.compute().items()}


def mean_window_tokens(windows: Sequence[Any]) -> float:
    """Mean tokens per training window: the exchange rate from tokens/s to samples/s over a
    whole epoch."""
    return sum(len(w) for w in windows) / max(len(windows), 1)


def batch_record(batch: Mapping[str, Any]) -> dict[str, int]:
    """Samples, non-padding tokens and padded tokens (batch x length) of one collated batch."""
    mask = batch["attention_mask"]
    return {"samples": int(mask.size(0)), "tokens": int(mask.sum()), "padded": int(mask.numel())}
