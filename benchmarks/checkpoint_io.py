"""Checkpoint cost: size, save and load time (sync and async), training step-time overhead,
for a tiny LayoutLM and a MiniLM-size LayoutLM with AdamW state; plus a projection for
LayoutLM-base (~1.35 GB with Adam state) on EFS Elastic and Bursting against the 2-minute Spot
notice.

    OMP_NUM_THREADS=2 python -m benchmarks.checkpoint_io [--dir DIR] [--reps 5] [--steps 12]

Measured on the local disk of the machine it runs on (``--dir``); the EFS rows are projections
from the measured CPU cost (serialise + sha256) plus size / throughput. Medians are reported.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from receipt_lightning.runs import checkpoint_name  # noqa: E402
from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO  # noqa: E402

MIB = 1 << 20
SPOT_NOTICE_S = 120.0
MODELS = {
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
    "minilm": {
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
    },
}
BASE_BYTES = 1.35e9  # LayoutLM-base weights + AdamW exp_avg + exp_avg_sq, fp32
EFS = {
    "Elastic (1500 MiB/s)": 1500.0,
    "Bursting burst (100 MiB/s)": 100.0,
    "Bursting no credits (1 MiB/s)": 1.0,
}


def build(name: str):
    from transformers import LayoutLMConfig, LayoutLMForTokenClassification

    cfg = LayoutLMConfig(vocab_size=30522, num_labels=9, **MODELS[name])
    torch.manual_seed(0)
    model = LayoutLMForTokenClassification(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    return model, opt


def train_step(model, opt, batch) -> None:
    loss = model(**batch).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def make_batch(batch_size: int = 4, seq: int = 64) -> dict:
    g = torch.Generator().manual_seed(1)
    x0 = torch.randint(0, 500, (batch_size, seq, 1), generator=g)
    y0 = torch.randint(0, 500, (batch_size, seq, 1), generator=g)
    bbox = torch.cat([x0, y0, x0 + 100, y0 + 20], dim=-1)
    return {
        "input_ids": torch.randint(0, 30522, (batch_size, seq), generator=g),
        "bbox": bbox,
        "attention_mask": torch.ones(batch_size, seq, dtype=torch.long),
        "labels": torch.randint(0, 9, (batch_size, seq), generator=g),
    }


def checkpoint_of(model, opt, step: int) -> dict:
    return {"global_step": step, "state_dict": model.state_dict(), "optimizer_states": [opt.state_dict()]}


def timed(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, workdir: str, reps: int, steps: int) -> dict:
    model, opt = build(name)
    batch = make_batch()
    train_step(model, opt, batch)  # AdamW state exists from here on
    ckpt_dir = os.path.join(workdir, name)
    sync_io, async_io = EFSCheckpointIO(keep_last_k=2), EFSCheckpointIO(keep_last_k=2, async_save=True)
    counter = iter(range(1, 10**6))
    path = lambda: os.path.join(ckpt_dir, checkpoint_name(next(counter)))  # noqa: E731

    save_s = timed(lambda: sync_io.save_checkpoint(checkpoint_of(model, opt, 0), path()), reps)
    latest = sorted(p for p in os.listdir(ckpt_dir) if p.endswith(".ckpt"))[-1]
    size = os.path.getsize(os.path.join(ckpt_dir, latest))
    load_s = timed(lambda: sync_io.load_checkpoint(os.path.join(ckpt_dir, latest)), reps)
    block, durable = [], []  # seconds the caller is blocked / until the save is durable
    for _ in range(reps):
        start = time.perf_counter()
        async_io.save_checkpoint(checkpoint_of(model, opt, 0), path())
        block.append(time.perf_counter() - start)
        async_io.drain()
        durable.append(time.perf_counter() - start)
    buf = io.BytesIO()
    torch.save(checkpoint_of(model, opt, 0), buf)
    serialize_s = timed(lambda: torch.save(checkpoint_of(model, opt, 0), io.BytesIO()), reps)
    sha_s = timed(lambda: hashlib.sha256(buf.getbuffer()).digest(), reps)

    def loop(io_plugin, every: int) -> float:
        times = []
        for s in range(1, steps + 1):
            start = time.perf_counter()
            train_step(model, opt, batch)
            if io_plugin is not None and s % every == 0:
                io_plugin.save_checkpoint(checkpoint_of(model, opt, s), path())
            times.append(time.perf_counter() - start)
        if io_plugin is not None:
            io_plugin.drain()
        return statistics.mean(times)

    every = 4
    step_none, step_sync, step_async = loop(None, every), loop(sync_io, every), loop(async_io, every)
    async_io.teardown()
    return {
        "size": size,
        "save": save_s,
        "load": load_s,
        "async_block": statistics.median(block),
        "async_total": statistics.median(durable),
        "serialize": serialize_s,
        "sha256": sha_s,
        "step": step_none,
        "step_sync": step_sync,
        "step_async": step_async,
        "every": every,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=None, help="where to write checkpoints (default: a temp dir)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--models", default="tiny,minilm")
    args = p.parse_args()
    workdir = args.dir or tempfile.mkdtemp(prefix="ckpt-bench-")
    print(f"torch threads={torch.get_num_threads()} dir={workdir} reps={args.reps} (medians)")
    rows = {name: measure(name, workdir, args.reps, args.steps) for name in args.models.split(",")}

    print(
        f"\n{'model':8} {'size MiB':>9} {'save s':>8} {'load s':>8} {'async blocks s':>15} {'async durable s':>16} "
        f"{'serialize s':>12} {'sha256 s':>9} {'local MiB/s':>12}"
    )
    for name, r in rows.items():
        print(
            f"{name:8} {r['size'] / MIB:9.2f} {r['save']:8.3f} {r['load']:8.3f} {r['async_block']:15.3f} "
            f"{r['async_total']:16.3f} {r['serialize']:12.3f} {r['sha256']:9.3f} {r['size'] / MIB / r['save']:12.1f}"
        )
    print(f"\nstep-time overhead, a checkpoint every {rows[next(iter(rows))]['every']} steps (mean s/step)")
    print(f"{'model':8} {'no ckpt':>9} {'sync':>9} {'async':>9} {'sync/none':>10} {'async/none':>11}")
    for name, r in rows.items():
        print(
            f"{name:8} {r['step']:9.3f} {r['step_sync']:9.3f} {r['step_async']:9.3f} "
            f"{r['step_sync'] / r['step']:10.2f} {r['step_async'] / r['step']:11.2f}"
        )

    ref = rows.get("minilm") or next(iter(rows.values()))
    cpu_s_per_byte = (ref["serialize"] + ref["sha256"]) / ref["size"]
    cpu_s = BASE_BYTES * cpu_s_per_byte
    print(
        f"\nprojection: LayoutLM-base checkpoint {BASE_BYTES / 1e9:.2f} GB; CPU (serialize + sha256, scaled "
        f"from {'minilm' if 'minilm' in rows else 'tiny'}) {cpu_s:.1f} s; Spot notice {SPOT_NOTICE_S:.0f} s"
    )
    print(
        f"{'EFS throughput':32} {'write s':>9} {'save s':>9} {'fits notice':>12} {'load s':>9}  (load: read + verify + unpickle)"
    )
    for label, mibs in EFS.items():
        write_s = BASE_BYTES / MIB / mibs
        save_total = cpu_s + write_s
        print(
            f"{label:32} {write_s:9.1f} {save_total:9.1f} {'yes' if save_total < SPOT_NOTICE_S else 'NO':>12} "
            f"{write_s + BASE_BYTES * ref['load'] / ref['size']:9.1f}"
        )
    need = BASE_BYTES / MIB / max(1.0, SPOT_NOTICE_S - cpu_s - 30.0)
    print(f"throughput needed to save within the notice with 30 s to spare: {need:.1f} MiB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
