"""Runs the benchmark: each side in its own subprocess, sides alternating over repeats (the
machine is shared and noisy), medians and ratios printed side by side."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.trainer_compare.options import parse_variant
from benchmarks.trainer_compare.stats import load_average, median_figures, ratio
from benchmarks.trainer_compare.worker import RESULT_PREFIX
from receipt_lightning.errors import FatalError, InputError

HF = "hf-trainer"


def common_overrides(args: argparse.Namespace) -> list[str]:
    """Hydra overrides both sides share: data, model, batch size, device, extras."""
    if args.data == "sroie":
        root = Path(args.root).expanduser()
        if not (root / "box").is_dir():
            raise InputError(
                "SROIE receipts not found (expected box/ and key/); pass --root or use --data synthetic",
                source=str(root),
            )
        data = ["data=sroie", f"data.root={root.resolve()}"]
    else:
        data = ["data=synthetic", f"data.n_train={args.n_train or 64}", f"data.n_val={args.n_val or 16}"]
    device = ["trainer=gpu"] if args.device == "gpu" else []
    return [*data, f"model={args.model}", f"data.batch_size={args.batch_size}", *device, *args.override]


def plan(variants: Sequence[str], repeats: int) -> list[tuple[int, str, str]]:
    """(repeat, side, variant) runs in order: HF and every variant once per repeat, the order
    reversed on every other repeat so slow drift of the machine's load falls on all alike."""
    one = [("hf", HF), *[("ours", v) for v in variants]]
    runs: list[tuple[int, str, str]] = []
    for r in range(repeats):
        runs += [(r, side, v) for side, v in (one if r % 2 == 0 else one[::-1])]
    return runs


def side_spec(
    args: argparse.Namespace, repeat: int, side: str, variant: str, common: list[str]
) -> dict[str, Any]:
    """What one worker runs. Repeat r uses seed ``--seed + r`` on both sides: another draw of
    batches and another head init, so the medians do not rest on one draw."""
    overrides, switches = parse_variant(variant) if side == "ours" else ([], {})
    return {
        "side": side,
        "variant": variant,
        "overrides": [*common, f"seed={args.seed + repeat}", *overrides],
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": int(switches.get("threads", args.threads)),
        "compile": bool(switches.get("compile", False)),
        "device": args.device,
        "mode": "f1" if args.f1 else "throughput",
        "epochs": args.epochs,
        "peak_tflops": args.peak_tflops,
    }


def worker_env(threads: int) -> dict[str, str]:
    """The child's environment: OpenMP threads sleep when idle (PASSIVE) and match torch's
    thread count, set before the child imports torch."""
    env = dict(os.environ)
    env.update(
        OMP_WAIT_POLICY="PASSIVE",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        # the child runs `-m benchmarks.trainer_compare.worker`: the repository root on its path
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH")])),
    )
    return env


def run_worker(spec: Mapping[str, Any], timeout_s: int) -> dict[str, Any]:
    """One side in a fresh Python process; its result line parsed."""
    cmd = [sys.executable, "-m", "benchmarks.trainer_compare.worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd, env=worker_env(spec["threads"]), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as err:
        raise FatalError(f"bench run {spec['variant']} took over {timeout_s} s (--timeout-s)") from err
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    raise FatalError(f"bench run {spec['variant']} failed (exit {proc.returncode}):\n{tail}")


def fmt_load() -> str:
    load = load_average()
    return "n/a" if load is None else " ".join(f"{x:.2f}" for x in load)


def throughput_table(by_variant: Mapping[str, list[dict]]) -> list[str]:
    """Medians per side and the ratio of each of ours to the HF Trainer."""
    hf = median_figures(by_variant[HF])
    head = (
        f"{'side':18s} {'samples/s':>9s} {'epoch-eq':>8s} {'tokens/s':>8s} {'step s':>7s} {'RSS MiB':>7s} "
        f"{'padding':>7s} {'x HF samples/s':>14s} {'x HF epoch-eq':>13s} {'x HF per CPU-s':>14s}"
    )
    lines = [head, "-" * len(head)]
    for name, runs in by_variant.items():
        m = median_figures(runs)
        lines.append(
            f"{name:18s} {m['samples_per_s']:9.3f} {m['epoch_samples_per_s']:8.3f} {m['tokens_per_s']:8.0f} "
            f"{m['median_step_s']:7.3f} {m['peak_rss_mib']:7.0f} {m['padding_fraction']:7.1%} "
            f"{ratio(m['samples_per_s'], hf['samples_per_s']):14.2f} "
            f"{ratio(m['epoch_samples_per_s'], hf['epoch_samples_per_s']):13.2f} "
            f"{ratio(m['samples_per_cpu_s'], hf['samples_per_cpu_s']):14.2f}"
        )
        if "mfu" in m:
            lines.append(f"{'':18s} model FLOP utilisation {m['mfu']:.1%} (6 x params x tokens / peak)")
    return lines


def f1_table(by_variant: Mapping[str, list[dict]], epochs: int) -> list[str]:
    head = f"{'side':18s} {'val F1':>7s} {'P':>6s} {'R':>6s} {'fit s':>7s} {'samples/s (fit)':>16s}"
    lines = [head, "-" * len(head)]
    for name, runs in by_variant.items():
        r = runs[-1]
        v = r["val"]
        sps = epochs * r["train_windows"] / r["fit_s"]
        lines.append(
            f"{name:18s} {v['f1']:7.4f} {v['precision']:6.3f} {v['recall']:6.3f} {r['fit_s']:7.1f} {sps:16.2f}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """The whole benchmark; prints the report, returns an exit code."""
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        parse_variant(v)  # fail on a typo before minutes of training
    if args.warmup < 1 or (args.steps and args.steps < args.warmup + 2):
        raise InputError(
            f"need --warmup >= 1 and --steps >= warmup + 2 (or 0), got {args.steps}/{args.warmup}"
        )
    common = common_overrides(args)
    runs = plan(variants, 1 if args.f1 else args.repeats)
    load_before = fmt_load()
    by_variant: dict[str, list[dict]] = {HF: []}
    by_variant.update({v: [] for v in variants})
    started = time.time()
    for i, (repeat, side, variant) in enumerate(runs, 1):
        spec = side_spec(args, repeat, side, variant, common)
        result = run_worker(spec, args.timeout_s)
        by_variant[variant].append(result)
        if args.json:  # every run kept as it finishes, whatever happens later
            Path(args.json).write_text(json.dumps({"args": vars(args), "runs": by_variant}, indent=1))
        what = f"val F1 {result['val']['f1']:.4f}" if args.f1 else f"{result['samples_per_s']:.2f} samples/s"
        print(f"[{i}/{len(runs)}] {variant}: {what}, load {fmt_load()}", file=sys.stderr, flush=True)
    # Initial weights per repeat (seed): every side of one repeat must start from the same.
    digests = [{r["init_weights"] for r in rs} for rs in zip(*by_variant.values(), strict=False)]
    same_init = all(len(d) == 1 for d in digests)
    first = by_variant[HF][0]
    lines = [
        "python -m benchmarks.throughput: "
        + ("validation F1 after equal epochs" if args.f1 else "training throughput"),
        f"data: {args.data} ({first['train_windows']} training windows), model={args.model}, "
        f"batch {args.batch_size}, "
        + (
            f"{args.epochs} epochs"
            if args.f1
            else f"{args.steps} steps/run, first {args.warmup} untimed, {args.repeats} repeats/side (medians)"
        ),
        f"torch threads: {args.threads} (measured in loop: HF {first['threads']}), OMP_WAIT_POLICY=PASSIVE, "
        f"one subprocess per run, device {args.device}",
        f"same initial weights on both sides in every repeat: {'yes' if same_init else 'NO'}",
        f"load average (1/5/15 min): before {load_before}, after {fmt_load()}; wall {time.time() - started:.0f} s",
        "",
    ]
    lines += f1_table(by_variant, args.epochs) if args.f1 else throughput_table(by_variant)
    ours = by_variant.get(variants[0], [])
    if ours and not args.f1:
        o = ours[0]
        epoch_s = o["steps_per_epoch"] * median_figures(ours)["median_step_s"]
        lines.append(
            f"\ntokenising the training windows takes {o['tokenise_s']:.2f} s, {o['tokenise_s'] / epoch_s:.1%} "
            f"of an epoch ({epoch_s:.0f} s): saved every epoch after the first by tokenising once"
        )
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"args": vars(args), "runs": by_variant, "report": lines}, indent=1)
        )
    return 0
