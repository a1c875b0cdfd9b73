"""One side of the benchmark in a fresh process, so its peak memory is its own:

    python -m benchmarks.trainer_compare.worker '<spec as JSON>'

Prints one line ``BENCH_RESULT <json>`` on stdout. The parent sets ``OMP_WAIT_POLICY=PASSIVE``
and ``OMP_NUM_THREADS`` in this process's environment before Python starts, so they hold
before torch is imported."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep, not spin
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from typing import Any  # noqa: E402

RESULT_PREFIX = "BENCH_RESULT "


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark, MiB (Linux reports ru_maxrss in KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20  # macOS: bytes


def gpu_facts(peak_tflops: float | None) -> dict[str, Any]:
    """Device name, peak TFLOP/s (flag, else the table) and peak GPU memory, where CUDA is up."""
    import torch

    if not torch.cuda.is_available():
        return {"gpu": None, "peak_tflops": peak_tflops}
    from benchmarks.trainer_compare.stats import gpu_peak_tflops

    name = torch.cuda.get_device_name(0)
    return {
        "gpu": name,
        "peak_tflops": peak_tflops or gpu_peak_tflops(name),
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20,
    }


def run_side(spec: Mapping[str, Any]) -> dict[str, Any]:
    import torch

    from benchmarks.trainer_compare.stats import model_flops_utilisation, run_figures

    torch.set_num_threads(int(spec["threads"]))
    if spec["side"] == "hf":
        from benchmarks.trainer_compare.hf_baseline import run_hf as run
    else:
        from benchmarks.trainer_compare.ours import run_ours as run
    raw = run(spec)
    result = {k: v for k, v in raw.items() if k not in ("step_ends", "cpu_ends", "batches")}
    if spec["mode"] == "throughput":
        result.update(
            run_figures(
                raw["step_ends"],
                raw["batches"],
                int(spec["warmup"]),
                raw["mean_window_tokens"],
                raw["cpu_ends"],
            )
        )
    result["steps_run"] = len(raw["step_ends"])
    result["peak_rss_mib"] = peak_rss_mib()
    result.update(gpu_facts(spec.get("peak_tflops")))
    result["mfu"] = None
    if result.get("peak_tflops") and "tokens_per_s" in result:
        result["mfu"] = model_flops_utilisation(
            result["n_params"], result["tokens_per_s"], result["peak_tflops"]
        )
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.trainer_compare.worker '<spec json>'", file=sys.stderr)
        return 2
    result = run_side(json.loads(args[0]))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
