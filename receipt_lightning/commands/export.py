"""Export a trained model: one Hugging Face directory per ensemble member (loadable with plain
transformers), the ensemble and decoding settings and the lexicon as JSON, a model card, and with
--onnx an ONNX file per member. SOURCE is a .ckpt or a run directory (its best checkpoint, else
its last). --to s3://bucket/prefix uploads the checked directory."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source", metavar="RUN_DIR|CHECKPOINT", help="a run directory or a .ckpt written by training"
    )
    p.add_argument("--to", required=True, metavar="DIR|s3://BUCKET/PREFIX", help="where the model goes")
    p.add_argument(
        "--onnx", action="store_true", help="also export each member as ONNX (needs the [onnx] extra)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export at --to")


def run(args: argparse.Namespace) -> int:
    import tempfile

    from transformers.utils import logging as hf_logging

    from receipt_lightning.export.upload import check_bucket, is_s3_url, upload_dir
    from receipt_lightning.export.writer import export_model, report_json

    hf_logging.disable_progress_bar()  # transformers' save/load bars: noise around our report
    if is_s3_url(args.to):
        check_bucket(args.to)  # a bad URL or bucket fails before minutes of export
        with tempfile.TemporaryDirectory(prefix="rl-export-") as tmp:
            report = export_model(args.source, f"{tmp}/model", onnx=args.onnx)
            keys = upload_dir(report.to, args.to)
        print(report_json(report))
        print(f"uploaded {len(keys)} files to {args.to}")
        return 0
    report = export_model(args.source, args.to, onnx=args.onnx, overwrite=args.overwrite)
    print(report_json(report))
    return 0
