"""Training throughput of this project's training against a plain ``transformers.Trainer`` on the
same tokenised windows, model, initial weights, batch size and thread count: samples/s,
non-padding tokens/s, median step time, peak memory and the ratios (medians over alternating
repeats, each run in its own process). --variants measures each speed lever of our side;
--f1 trains both for --epochs and compares validation entity F1. See docs/throughput.md."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from receipt_lightning.bench.options import add_arguments as bench_arguments

    bench_arguments(p)


def run(args: argparse.Namespace) -> int:
    from receipt_lightning.bench.runner import run as run_bench

    return run_bench(args)
