"""Serve a model over HTTP: POST /v1/extract takes a receipt as one JSONL line holds it (words,
bboxes, width, height) and answers the fields with confidence, words and boxes; GET /healthz.
MODEL_DIR is an exported directory (receipt-lightning export; ONNX Runtime when it has ONNX
files), or a checkpoint / run directory. Access logs are JSON lines on stderr."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model", metavar="MODEL_DIR", help="an exported model directory (or a checkpoint / run dir)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch / ONNX Runtime threads")
    p.add_argument("--max-body-bytes", type=int, default=None, help="largest request body (default 1 MiB)")
    p.add_argument("--max-words", type=int, default=None, help="most words per receipt (default 1000)")
    p.add_argument(
        "--timeout", type=float, default=None, help="seconds per request before a 504 (default 30)"
    )
    p.add_argument("--max-pending", type=int, default=None, help="receipts queued before 503s (default 64)")
    p.add_argument("--max-batch", type=int, default=None, help="receipts per batch (default 8)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import torch

    from receipt_lightning.errors import InputError
    from receipt_lightning.serve.limits import ServeLimits
    from receipt_lightning.serve.server import serve

    if args.threads:
        torch.set_num_threads(args.threads)
    given = {
        "max_body_bytes": args.max_body_bytes,
        "max_words": args.max_words,
        "request_timeout_s": args.timeout,
        "max_pending": args.max_pending,
        "max_batch": args.max_batch,
    }
    bad = [k for k, v in given.items() if v is not None and v <= 0]
    if bad:
        raise InputError(f"{', '.join(bad)} must be positive")
    if not 0 < args.port < 65536:
        raise InputError(f"--port must be 1..65535, got {args.port}")
    limits = replace(ServeLimits(), **{k: v for k, v in given.items() if v is not None})
    serve(
        args.model,
        args.host,
        args.port,
        limits,
        device=args.device,
        backend=args.backend,
        threads=args.threads,
    )
    return 0
