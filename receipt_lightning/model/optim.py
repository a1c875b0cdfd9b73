"""AdamW with decoupled weight decay off for biases and LayerNorm, and a linear schedule."""

from __future__ import annotations

import torch

NO_DECAY = ("bias", "LayerNorm.weight", "LayerNorm.bias")
# LayoutLM's 2-D box embeddings (x, y, width, height): fresh when the text encoder comes from BERT.
LAYOUT_EMBEDDINGS = (
    "x_position_embeddings",
    "y_position_embeddings",
    "h_position_embeddings",
    "w_position_embeddings",
)


def param_groups(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    head_lr_multiplier: float = 1.0,
    layout_lr_multiplier: float = 1.0,
):
    """{decay, no decay} x {encoder, classifier head} (x {2-D box embeddings} when
    ``layout_lr_multiplier`` is not 1); biases and LayerNorm get no decay (standard BERT
    fine-tuning practice). Group order is fixed, so a checkpoint's optimizer state lines up."""
    groups: dict[tuple[bool, int], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = not any(nd in name for nd in NO_DECAY)
        # "classifier.weight", or "members.1.classifier.weight" in an ensemble
        kind = 1 if name.split(".")[-2:-1] == ["classifier"] else 0
        if layout_lr_multiplier != 1.0 and any(e in name for e in LAYOUT_EMBEDDINGS):
            kind = 2
        groups.setdefault((decay, kind), []).append(param)
    multiplier = {0: 1.0, 1: head_lr_multiplier, 2: layout_lr_multiplier}
    return [
        {"params": params, "weight_decay": weight_decay if decay else 0.0, "lr": lr * multiplier[kind]}
        for (decay, kind), params in sorted(groups.items())
    ]


def build_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    eps: float = 1e-8,
    head_lr_multiplier: float = 1.0,
    impl: str = "foreach",
    layout_lr_multiplier: float = 1.0,
) -> torch.optim.AdamW:
    """``impl``: "foreach" (multi-tensor, fastest on CPU), "fused" (one kernel; CUDA/CPU in
    recent torch), or "for" (per-parameter loop, the reference)."""
    kwargs = {"foreach": impl == "foreach", "fused": True if impl == "fused" else None}
    if impl not in ("foreach", "fused", "for"):
        raise ValueError(f"model.optimizer_impl must be foreach, fused or for, got {impl!r}")
    return torch.optim.AdamW(
        param_groups(model, lr, weight_decay, head_lr_multiplier, layout_lr_multiplier),
        lr=lr,
        eps=eps,
        **kwargs,
    )


class WarmupDecay:
    """LR factor per step: up linearly for ``warmup`` steps, then down linearly to 0 at ``total``.

    ``retarget`` ends the run earlier (a time budget, ``training/callbacks/time_budget.py``):
    from that step the factor falls linearly from where it is to 0 at the new total, so the
    learning rate never jumps. A callable object rather than a closure, so ``LambdaLR`` saves its
    fields in the checkpoint and a resumed run keeps a retargeted schedule.
    """

    def __init__(self, warmup: int, total: int):
        self.warmup = warmup
        self.planned = max(total, 1)  # the total the run was planned with
        self.total = self.planned  # where the factor reaches 0 (earlier once retargeted)
        self.knee: int | None = None  # step from which the retargeted decay runs
        self.knee_factor = 1.0  # the factor at ``knee``

    def base(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / max(self.warmup, 1)
        return max(0.0, (self.planned - step) / max(self.planned - self.warmup, 1))

    def __call__(self, step: int) -> float:
        if self.knee is None or step < self.knee:
            return self.base(step)
        return self.knee_factor * max(0.0, (self.total - step) / max(self.total - self.knee, 1))

    def retarget(self, step: int, total: int) -> None:
        """Reach 0 at ``total`` (> ``step``) instead, falling linearly from ``step``'s factor."""
        self.knee_factor = self(step)
        self.knee = step
        self.total = max(total, step + 1)


def linear_warmup_decay(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int):
    """LR rises linearly for ``warmup_steps``, then falls linearly to 0 at ``total_steps``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupDecay(warmup_steps, total_steps))
