"""Prediction speed, receipts/s: the training checkpoint in PyTorch against the exported ONNX
files in ONNX Runtime, each with 1 and 2 threads, on the same receipts in one process (windows,
forward passes, window merging and field decoding all counted; model loading not).

    OMP_NUM_THREADS=2 python -m benchmarks.predict_speed --run RUN_DIR --input RECEIPTS \
        [--export EXPORT_DIR] [--split val] [--limit 40] [--reps 3] [--batch-size 16]

RECEIPTS: a JSONL file or a SROIE directory (``--split val``: its validation receipts). Without
``--export`` the run is exported (with ONNX) to a temporary directory first. Medians of
``--reps`` timed passes after one warm-up pass; the decoded fields of every configuration are
compared with the checkpoint's (a speed-up that changes the answer is no speed-up).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import torch  # noqa: E402


def time_predict(predictor, receipts, batch_size: int, reps: int) -> tuple[float, list]:
    records = predictor.predict_records(receipts, batch_size=batch_size)  # warm-up
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        predictor.predict_records(receipts, batch_size=batch_size)
        times.append(time.perf_counter() - started)
    return statistics.median(times), records


def main() -> None:
    from transformers.utils import logging as hf_logging

    from receipt_lightning.commands.predict import select_receipts
    from receipt_lightning.export.writer import export_model
    from receipt_lightning.predict import load_predictor, load_receipts

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="a run directory or a .ckpt")
    p.add_argument("--export", default=None, help="its exported directory (with --onnx)")
    p.add_argument("--input", required=True)
    p.add_argument("--split", choices=("train", "val"), default=None)
    p.add_argument("--limit", type=int, default=40, help="receipts timed")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", default="1,2", help="thread counts to compare")
    args = p.parse_args()
    hf_logging.disable_progress_bar()

    with tempfile.TemporaryDirectory(prefix="rl-speed-") as tmp:
        export = args.export or str(export_model(args.run, f"{tmp}/export", onnx=True).to)
        reference = load_predictor(args.run)
        fields = sorted({lab.split("-", 1)[1] for lab in reference.label_list if lab != "O"})
        selection = SimpleNamespace(ids=None, split=args.split, fold=1, input=args.input)
        receipts = select_receipts(selection, load_receipts(args.input, fields))[: args.limit]
        words = sum(len(r.words) for r in receipts)
        rows, baseline = [], None
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            for name, predictor in (
                ("checkpoint (PyTorch)", load_predictor(args.run)),
                ("ONNX Runtime", load_predictor(export, backend="onnx", threads=threads)),
            ):
                seconds, records = time_predict(predictor, receipts, args.batch_size, args.reps)
                fields_only = [{k: v for k, v in r.items() if k != "details"} for r in records]
                baseline = fields_only if baseline is None else baseline
                rows.append(
                    {
                        "backend": name,
                        "threads": threads,
                        "receipts": len(receipts),
                        "median_s": round(seconds, 3),
                        "receipts_per_s": round(len(receipts) / seconds, 2),
                        "same_fields": fields_only == baseline,
                    }
                )
    print(f"{len(receipts)} receipts, {words} words; medians of {args.reps} passes")
    print(f"{'backend':22s} {'threads':>7s} {'median s':>9s} {'receipts/s':>11s} same fields")
    for row in rows:
        print(
            f"{row['backend']:22s} {row['threads']:7d} {row['median_s']:9.3f} {row['receipts_per_s']:11.2f} "
            f"{row['same_fields']}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
