"""Pure arithmetic of the throughput benchmark: per-run figures from step timestamps, medians over
repeats, model FLOP utilisation. No torch here, so tests reach it cheaply."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

# Dense bf16 tensor-core peak per GPU, TFLOP/s (vendor data sheets, no sparsity). Matched by
# substring of torch.cuda.get_device_name(), first match wins, so specific names come first.
GPU_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H200", 989.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("L4", 121.0),
    ("V100", 125.0),  # fp16: V100 has no bf16
    ("T4", 65.0),  # fp16: T4 has no bf16
)


def gpu_peak_tflops(device_name: str) -> float | None:
    """Peak dense TFLOP/s of a GPU from its name, or None if it is not in the table."""
    for key, tflops in GPU_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return tflops
    return None


def model_flops_utilisation(n_params: int, tokens_per_s: float, peak_tflops: float) -> float:
    """Achieved / peak FLOP/s, training FLOPs estimated as 6 x parameters x tokens
    (2 forward + 4 backward multiply-adds per parameter per token). A fraction, 0..1."""
    if peak_tflops <= 0:
        raise ValueError(f"peak TFLOP/s must be > 0, got {peak_tflops}")
    return 6.0 * n_params * tokens_per_s / (peak_tflops * 1e12)


def run_figures(
    step_ends: Sequence[float],
    batches: Sequence[Mapping[str, int]],
    warmup: int,
    mean_window_tokens: float,
    cpu_ends: Sequence[float] | None = None,
) -> dict[str, float]:
    """Throughput of one run from the wall-clock time at the end of each step (seconds) and
    each step's batch (``samples``, ``tokens`` = non-padding, ``padded`` = batch x length).

    The first ``warmup`` (>= 1) steps are left out (allocator and thread-pool warm-up); the timed
    span runs from the end of the last untimed step to the end of the last step, so it includes data
    loading, the optimizer and everything else the loop does between steps.

    ``epoch_samples_per_s`` = non-padding tokens/s / mean tokens per window of the whole training
    set: the samples/s a full epoch would see. A few steps draw a few batches, and with length
    grouping a batch holds windows of one length (short or long), so raw samples/s over a few
    steps carries that draw's luck; tokens/s does not.

    ``cpu_ends`` (process CPU seconds at each step end, all threads) gives
    ``samples_per_cpu_s``: on a machine shared with other work, wall time stretches with
    everyone else's load, CPU time much less, so its ratio is the steadier estimate of the ratio
    on an idle machine.
    """
    if warmup < 1:
        raise ValueError("warmup must be >= 1: the end of the last untimed step starts the clock")
    if len(batches) < len(step_ends):
        raise ValueError(f"{len(step_ends)} steps but only {len(batches)} batches recorded")
    if len(step_ends) < warmup + 2:
        raise ValueError(f"need at least warmup + 2 = {warmup + 2} steps, got {len(step_ends)}")
    first = warmup - 1  # index of the last untimed step
    timed = batches[warmup : len(step_ends)]
    span = step_ends[-1] - step_ends[first]
    steps = [b - a for a, b in zip(step_ends[first:], step_ends[warmup:], strict=False)]
    samples = sum(b["samples"] for b in timed)
    tokens = sum(b["tokens"] for b in timed)
    padded = sum(b["padded"] for b in timed)
    figures = {
        "samples_per_s": samples / span,
        "tokens_per_s": tokens / span,
        "epoch_samples_per_s": tokens / span / mean_window_tokens,
        "median_step_s": statistics.median(steps),
        "padding_fraction": 1.0 - tokens / padded if padded else 0.0,
        "timed_steps": len(steps),
        "timed_s": span,
    }
    if cpu_ends is not None:
        cpu = cpu_ends[-1] - cpu_ends[first]
        # Same exchange rate as epoch_samples_per_s: tokens per CPU second / mean window length.
        figures["samples_per_cpu_s"] = tokens / cpu / mean_window_tokens if cpu > 0 else 0.0
    return figures


METRICS = (
    "samples_per_s",
    "epoch_samples_per_s",
    "samples_per_cpu_s",
    "tokens_per_s",
    "median_step_s",
    "peak_rss_mib",
    "padding_fraction",
)


def median_figures(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Median of each metric over the repeats of one side."""
    out = {k: statistics.median(float(r[k]) for r in runs) for k in METRICS if all(k in r for r in runs)}
    out["repeats"] = len(runs)
    mfus = [r["mfu"] for r in runs if r.get("mfu") is not None]
    if mfus:
        out["mfu"] = statistics.median(mfus)
    return out


def ratio(ours: float, theirs: float) -> float:
    """ours / theirs (> 1: ours is higher)."""
    return ours / theirs if theirs else float("inf")


def load_average() -> tuple[float, float, float] | None:
    """1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return os.getloadavg()
    except OSError:  # not available on this platform: the report just omits it
        return None
