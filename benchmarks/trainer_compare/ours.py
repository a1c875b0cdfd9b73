"""This project's side of the benchmark: the project's datamodule, LightningModule and Trainer
config (``trainer=cpu`` / ``gpu``), trained for N steps (or E epochs in F1 mode)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from typing import Any


def build_trainer(cfg, clock, max_steps: int, root: str):
    """The Trainer of ``cfg.trainer`` with the benchmark's own callback and no logging,
    checkpointing, progress bar or validation (validation is timed apart from training)."""
    from hydra.utils import instantiate

    return instantiate(
        cfg.trainer,
        max_steps=max_steps,
        max_epochs=-1,
        callbacks=[clock],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=root,
    )


def run_ours(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Train the project's way; returns step timestamps, batch sizes and facts about the run."""
    import logging

    import torch
    from hydra.utils import instantiate

    from benchmarks.trainer_compare import shared
    from benchmarks.trainer_compare.lightning_clock import StepClock

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cfg = shared.compose(spec["overrides"])
    datamodule = shared.build_datamodule(cfg)
    t0 = time.perf_counter()
    datamodule.encode(datamodule.train_receipts)  # what re-tokenising every epoch would cost
    tokenise_s = time.perf_counter() - t0
    shared.seed_all(int(cfg.seed))
    module = instantiate(cfg.model, label_list=datamodule.label_list, _convert_="all")
    init_digest = shared.weights_digest(module.model)
    if spec.get("compile"):
        # Shapes change with every batch (dynamic padding): compile for dynamic shapes at once
        # rather than recompiling per new length.
        module.model = torch.compile(module.model, dynamic=True)
    steps_per_epoch = datamodule.steps_per_epoch()
    # --steps 0: exactly one epoch, every window once (no sampling error in samples/s).
    max_steps = (
        (spec["steps"] or steps_per_epoch)
        if spec["mode"] == "throughput"
        else spec["epochs"] * steps_per_epoch
    )
    clock = StepClock()
    with tempfile.TemporaryDirectory(prefix="bench-ours-") as root:
        trainer = build_trainer(cfg, clock, max_steps, root)
        t0 = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        fit_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "step_ends": clock.step_ends,
        "cpu_ends": clock.cpu_ends,
        "batches": clock.batches,
        "threads": clock.threads,
        "fit_s": fit_s,
        "n_params": shared.count_params(module.model),
        "init_weights": init_digest,
        "train_windows": len(datamodule.train_windows),
        "mean_window_tokens": shared.mean_window_tokens(datamodule.train_windows),
        "steps_per_epoch": steps_per_epoch,
        "tokenise_s": tokenise_s,
        "precision": str(cfg.trainer.precision),
        "optimizer_impl": str(cfg.model.optimizer_impl),
        "group_by_length": bool(cfg.data.group_by_length),
        "num_workers": int(cfg.data.num_workers),
        "deterministic": bool(cfg.deterministic),
    }
    if spec["mode"] == "f1":
        device = "cuda" if str(cfg.trainer.accelerator) == "gpu" else "cpu"
        result["val"] = shared.entity_f1(module.model, datamodule, datamodule.label_list, device)
    return result
