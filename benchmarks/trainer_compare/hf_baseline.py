"""The baseline side: a plain ``transformers.Trainer`` with its defaults (random sampler, no
length grouping, no workers, its default AdamW) and the standard token-classification collator,
on the same windows, initial weights, batch size, schedule and thread count as ours."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any


def window_features(windows: Sequence[Any]) -> list[dict[str, list]]:
    """The datamodule's tokenised windows as the feature dicts an HF collator takes."""
    return [{"input_ids": w.input_ids, "bbox": w.bbox, "labels": w.labels} for w in windows]


def training_arguments(cfg, spec: Mapping[str, Any], root: str, steps_per_epoch: int):
    """Trainer arguments matching ours where the two share a knob (batch size, learning rate,
    weight decay, warmup, Adam eps, gradient clipping, schedule length, seed); HF defaults
    everywhere else. Precision follows the device: fp32 on CPU, bf16 on GPU (as ``trainer=gpu``)."""
    from transformers import TrainingArguments

    on_gpu = spec.get("device") == "gpu"
    length: dict[str, Any] = (
        {"max_steps": int(spec["steps"] or steps_per_epoch)}  # 0: exactly one epoch
        if spec["mode"] == "throughput"
        else {"num_train_epochs": float(spec["epochs"])}
    )
    return TrainingArguments(
        output_dir=root,
        per_device_train_batch_size=int(cfg.data.batch_size),
        learning_rate=float(cfg.model.learning_rate),
        weight_decay=float(cfg.model.weight_decay),
        warmup_steps=float(cfg.model.warmup_ratio),  # a float < 1 is a ratio of total steps
        adam_epsilon=float(cfg.model.adam_eps),
        max_grad_norm=float(cfg.trainer.gradient_clip_val or 0.0),
        lr_scheduler_type="linear",
        seed=int(cfg.seed),
        use_cpu=not on_gpu,
        bf16=on_gpu,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        **length,
    )


def run_hf(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Train with ``transformers.Trainer``; returns the same fields as ``run_ours``."""
    from transformers import Trainer
    from transformers.utils import logging as hf_logging

    from benchmarks.trainer_compare import shared
    from benchmarks.trainer_compare.hf_clock import HFStepClock
    from benchmarks.trainer_compare.hf_collator import LayoutTokenCollator
    from receipt_lightning.model.backbone import build_model

    hf_logging.set_verbosity_error()
    cfg = shared.compose(spec["overrides"])
    datamodule = shared.build_datamodule(cfg)
    features = window_features(datamodule.train_windows)
    shared.seed_all(int(cfg.seed))
    model = build_model(datamodule.label_list, **dict(cfg.model.backbone))
    init_digest = shared.weights_digest(model)
    collator = LayoutTokenCollator(datamodule.tokenizer)
    clock = HFStepClock()
    with tempfile.TemporaryDirectory(prefix="bench-hf-") as root:
        args = training_arguments(cfg, spec, root, datamodule.steps_per_epoch())
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=features,
            data_collator=collator,
            callbacks=[clock],
        )
        t0 = time.perf_counter()
        trainer.train()
        fit_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "step_ends": clock.step_ends,
        "cpu_ends": clock.cpu_ends,
        "batches": collator.records,
        "threads": clock.threads,
        "fit_s": fit_s,
        "n_params": shared.count_params(model),
        "init_weights": init_digest,
        "train_windows": len(features),
        "mean_window_tokens": shared.mean_window_tokens(datamodule.train_windows),
        "steps_per_epoch": datamodule.steps_per_epoch(),
        "precision": "bf16-mixed" if args.bf16 else "32-true",
        "optimizer_impl": str(args.optim.value if hasattr(args.optim, "value") else args.optim),
        "group_by_length": False,
        "num_workers": int(args.dataloader_num_workers),
        "deterministic": False,
    }
    if spec["mode"] == "f1":
        result["val"] = shared.entity_f1(model, datamodule, datamodule.label_list, "cuda" if args.bf16 else "cpu")
    return result
