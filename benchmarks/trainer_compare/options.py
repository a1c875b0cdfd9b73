"""Command-line options of the throughput benchmark (standard library only: ``receipt-lightning
--help`` builds this parser without importing torch) and the named levers of our side."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_SROIE = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "sroie"

# Levers of our side, each a set of Hydra overrides (or a benchmark switch); join with "+" to
# combine ("bf16+nondet"). "ours" is the project's config as shipped.
VARIANTS: dict[str, tuple[str, ...]] = {
    "ours": (),
    "no-group": ("data.group_by_length=false",),  # random batches, as HF's default sampler
    "workers1": ("data.num_workers=1",),
    "workers2": ("data.num_workers=2",),
    "opt-for": ("model.optimizer_impl=for",),
    "opt-fused": ("model.optimizer_impl=fused",),
    "bf16": ("trainer.precision=bf16-mixed",),
    "nondet": ("deterministic=false",),
}
SWITCHES = ("compile", "threads1")  # not config: torch.compile of the backbone; 1 torch thread


def parse_variant(name: str) -> tuple[list[str], dict]:
    """``"bf16+nondet"`` -> (Hydra overrides, benchmark switches). ``ValueError`` names an unknown
    lever."""
    overrides: list[str] = []
    switches: dict = {}
    for part in name.split("+"):
        if part in VARIANTS:
            overrides += VARIANTS[part]
        elif part == "compile":
            switches["compile"] = True
        elif part == "threads1":
            switches["threads"] = 1
        else:
            known = ", ".join([*VARIANTS, *SWITCHES])
            raise ValueError(f"unknown lever {part!r} in --variants {name!r}; known: {known}")
    return overrides, switches


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        choices=("sroie", "synthetic"),
        default="sroie",
        help="training windows: SROIE train split (default) or generated receipts",
    )
    p.add_argument("--root", default=str(DEFAULT_SROIE), help="SROIE root (box/ + key/)")
    p.add_argument(
        "--model", default="layoutlm_minilm", help="model config (conf/model): layoutlm_minilm, layoutlm_tiny"
    )
    p.add_argument("--batch-size", type=int, default=8, help="windows per step, both sides")
    p.add_argument(
        "--steps", type=int, default=12, help="training steps per run, both sides (0: one full epoch)"
    )
    p.add_argument("--seed", type=int, default=1234, help="seed of repeat 0; repeat r uses seed + r")
    p.add_argument(
        "--warmup", type=int, default=3, help="first steps of each run left out of the timing (>= 1)"
    )
    p.add_argument("--repeats", type=int, default=2, help="runs per side, alternating ours/HF")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads, both sides")
    p.add_argument(
        "--variants",
        default="ours",
        help="comma-separated levers of our side, each measured against the same HF runs: "
        + ", ".join([*VARIANTS, *SWITCHES])
        + " (combine with +, e.g. bf16+nondet)",
    )
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="gpu: trainer=gpu, HF bf16")
    p.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (default: GPU table)")
    p.add_argument("--n-train", type=int, default=None, help="synthetic: training receipts (default 64)")
    p.add_argument("--n-val", type=int, default=None, help="synthetic: validation receipts (default 16)")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Hydra override, both sides",
    )
    p.add_argument(
        "--f1", action="store_true", help="train both for --epochs and compare validation entity F1"
    )
    p.add_argument("--epochs", type=int, default=3, help="--f1: training epochs per side")
    p.add_argument("--json", default=None, metavar="PATH", help="also write every run and the summary here")
    p.add_argument("--timeout-s", type=int, default=1800, help="per-run limit, seconds")
