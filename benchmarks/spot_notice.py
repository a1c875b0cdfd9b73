"""Spot notice -> durable checkpoint -> status written: how long, for the tiny and MiniLM models.

    python -m benchmarks.spot_notice [--models tiny,minilm[,base]] [--runs 5] [--poll-interval-s 5]
                                     [--checkpoint-io efs|efs-async|torch]

Each run trains under a ``SpotInterruptionCallback`` polling a local IMDSv2 stub (127.0.0.1);
after a couple of steps, at a random moment within one poll interval, the stub starts answering
``spot/instance-action``. Timed from that moment (the stub's clock, same process): seen by the
poller, the step boundary reached, the checkpoint durable (saved and drained), the status
recorded by the logger. Medians over the runs; the target is <= 10 s for MiniLM (EC2 reclaims
the instance 120 s after the notice).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

TARGET_S = 10.0  # seconds, notice -> status written, MiniLM
WARMUP_STEPS = 2  # the first steps allocate; the notice comes after them


# LayoutLM sizes: MiniLM-L6 dimensions, and LayoutLM-base (about 1.35 GB of checkpoint with Adam).
SIZES = {
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def layoutlm_module(size: str) -> Any:
    """LayoutLM for token classification at ``SIZES[size]``, random init, AdamW."""
    import lightning.pytorch as pl
    import torch
    from transformers import LayoutLMConfig, LayoutLMForTokenClassification

    class LayoutLMTagger(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = LayoutLMForTokenClassification(LayoutLMConfig(num_labels=9, **SIZES[size]))

        def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
            return self.model(**batch).loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=5e-5)

    return LayoutLMTagger()


def layoutlm_loader(n: int = 64, batch: int = 4, seq: int = 128) -> Any:
    import torch
    from torch.utils.data import DataLoader

    g = torch.Generator().manual_seed(0)
    xy = torch.randint(0, 900, (n, seq, 2), generator=g)
    bbox = torch.cat([xy, xy + torch.randint(1, 100, (n, seq, 2), generator=g)], dim=-1)
    rows = [
        {
            "input_ids": torch.randint(1000, 30000, (seq,), generator=g),
            "bbox": bbox[i],
            "attention_mask": torch.ones(seq, dtype=torch.long),
            "labels": torch.randint(0, 9, (seq,), generator=g),
        }
        for i in range(n)
    ]
    return DataLoader(rows, batch_size=batch)


def checkpoint_plugin(kind: str) -> Any:
    if kind == "torch":
        return None  # Lightning's TorchCheckpointIO: no fsync, no drain
    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO

    return EFSCheckpointIO(keep_last_k=2, async_save=kind == "efs-async")


def one_run(model: str, poll_s: float, io_kind: str, root: Path) -> dict[str, float]:
    from receipt_lightning.aws.imds_stub import IMDSStub
    from receipt_lightning.errors import JobInterrupted
    from receipt_lightning.training.spot.callback import SpotInterruptionCallback
    from tests.support.spot_tiny import RecordingLogger, TinyModule, make_loader, make_trainer

    if model == "tiny":
        module, loader = TinyModule(lambda m, i: time.sleep(0.01)), make_loader()
    else:
        module, loader = layoutlm_module(model), layoutlm_loader()
    with IMDSStub() as stub:
        cb = SpotInterruptionCallback(endpoint=stub.endpoint, poll_interval_s=poll_s, timeout_s=1.0)
        logger = RecordingLogger()
        plugin = checkpoint_plugin(io_kind)
        trainer = make_trainer(root, cb, logger, max_epochs=100, plugins=[plugin] if plugin else None)

        def notify() -> None:
            deadline = time.monotonic() + 300
            while trainer.global_step < WARMUP_STEPS and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(random.uniform(0, poll_s))  # anywhere in the poller's cycle
            stub.set_notice("terminate")

        threading.Thread(target=notify, daemon=True).start()
        try:
            trainer.fit(module, loader)
            raise SystemExit(f"{model}: training ended without an interruption")
        except JobInterrupted:
            pass
        t0, info = stub.notice_set_monotonic, cb.interruption
    seen = info["seen_monotonic_s"]
    return {
        "detect": seen - t0,
        "to_boundary": info["seconds_seen_to_boundary"],
        "save_drain": info["seconds_seen_to_durable"] - info["seconds_seen_to_boundary"],
        "status": info["seconds_seen_to_status"] - info["seconds_seen_to_durable"],
        "notice_to_durable": seen + info["seconds_seen_to_durable"] - t0,
        "notice_to_status": logger.status_monotonic - t0,
        "ckpt_mb": os.path.getsize(info["checkpoint"]) / 2**20,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="tiny,minilm")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--poll-interval-s", type=float, default=5.0)
    ap.add_argument("--checkpoint-io", choices=["efs", "efs-async", "torch"], default="efs")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    random.seed(0)
    cols = [
        "detect",
        "to_boundary",
        "save_drain",
        "status",
        "notice_to_durable",
        "notice_to_status",
        "ckpt_mb",
    ]
    print(
        f"poll interval {args.poll_interval_s} s, checkpoint IO {args.checkpoint_io}, {args.runs} runs, medians "
        f"(seconds; ckpt_mb in MiB)"
    )
    print(f"{'model':<8}" + "".join(f"{c:>19}" for c in cols) + f"{'ratio to 10 s':>15}")
    for model in args.models.split(","):
        runs = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="spot-bench-") as d:
                runs.append(one_run(model, args.poll_interval_s, args.checkpoint_io, Path(d)))
        med = {c: statistics.median(r[c] for r in runs) for c in cols}
        worst = max(r["notice_to_status"] for r in runs)
        print(
            f"{model:<8}"
            + "".join(f"{med[c]:>19.3f}" for c in cols)
            + f"{med['notice_to_status'] / TARGET_S:>15.3f}"
            + f"   (worst notice_to_status {worst:.3f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
