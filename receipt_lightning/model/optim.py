"""AdamW with decoupled weight decay off for biases and LayerNorm, and a linear schedule."""

from __future__ import annotations

import torch

NO_DECAY = ("bias", "LayerNorm.weight", "LayerNorm.bias")


def param_groups(model: torch.nn.Module, lr: float, weight_decay: float, head_lr_multiplier: float = 1.0):
    """Four groups: {decay, no decay} x {encoder, classifier head}; biases and LayerNorm get no
    decay (standard BERT fine-tuning practice)."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = not any(nd in name for nd in NO_DECAY)
        head = name.startswith("classifier")
        groups.setdefault((decay, head), []).append(param)
    return [
        {
            "params": params,
            "weight_decay": weight_decay if decay else 0.0,
            "lr": lr * (head_lr_multiplier if head else 1.0),
        }
        for (decay, head), params in sorted(groups.items())
    ]


def build_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    eps: float = 1e-8,
    head_lr_multiplier: float = 1.0,
    impl: str = "foreach",
) -> torch.optim.AdamW:
    """``impl``: "foreach" (multi-tensor, fastest on CPU), "fused" (one kernel; CUDA/CPU in
    recent torch), or "for" (per-parameter loop, the reference)."""
    kwargs = {"foreach": impl == "foreach", "fused": True if impl == "fused" else None}
    if impl not in ("foreach", "fused", "for"):
        raise ValueError(f"model.optimizer_impl must be foreach, fused or for, got {impl!r}")
    return torch.optim.AdamW(
        param_groups(model, lr, weight_decay, head_lr_multiplier), lr=lr, eps=eps, **kwargs
    )


def linear_warmup_decay(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int):
    """LR rises linearly for ``warmup_steps``, then falls linearly to 0 at ``total_steps``."""
    total_steps = max(total_steps, 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(warmup_steps, 1)
        return max(0.0, (total_steps - step) / max(total_steps - warmup_steps, 1))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
