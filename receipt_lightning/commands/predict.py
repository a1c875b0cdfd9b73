"""Extract fields from receipts with a trained checkpoint: one <receipt id>.json per receipt,
shaped like SROIE's key/*.json (field -> string; fields not found are omitted)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a .ckpt written by training")
    p.add_argument(
        "--input",
        required=True,
        nargs="+",
        help="a SROIE-format directory (box/) or a JSONL file; or receipt images: .jpg/.jpeg/.png/.pdf "
        "files, folders of them, or - for one image on standard input (OCR'd, docs/ocr.md)",
    )
    p.add_argument("--output", required=True, help="directory for <receipt id>.json files")
    p.add_argument("--ids", default=None, help="comma-separated receipt ids, or @FILE with one id per line")
    p.add_argument(
        "--split",
        choices=("train", "val", "dev"),
        default=None,
        help="only this split of a SROIE directory (the fixed split training used; dev: the "
        "development fold of the training receipts, data.dev_fold=true)",
    )
    p.add_argument(
        "--fold", type=int, default=1, help="with --split dev: which of the five folds (data.dev_fold=K)"
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--draw", default=None, metavar="DIR", help="also render each receipt as a PNG")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument(
        "--no-lexicon",
        action="store_true",
        help="ignore the checkpoint's training-key spellings (company/address decoded from OCR text only)",
    )
    add_ocr_arguments(p)


def add_ocr_arguments(p: argparse.ArgumentParser) -> None:
    """Flags for image inputs (``receipt_lightning.ocr.config.OcrConfig``)."""
    g = p.add_argument_group("OCR (image inputs; needs the extra: pip install 'receipt-lightning[ocr]')")
    g.add_argument("--ocr-engine", choices=("rapidocr", "tesseract"), default="rapidocr")
    g.add_argument(
        "--ocr-boxes",
        choices=("line", "word"),
        default="line",
        help="line: words cut from OCR line boxes (as SROIE's box files); word: the engine's word boxes",
    )
    g.add_argument("--ocr-keep-case", action="store_true", help="do not upper-case OCR text (SROIE keys are upper case)")
    g.add_argument(
        "--ocr-keep-commas", action="store_true", help='do not write "A,B" as "A, B" (docs/ocr.md)'
    )
    g.add_argument("--ocr-workers", type=int, default=0, help="OCR processes (0: one per core)")
    g.add_argument(
        "--ocr-cache",
        default=None,
        metavar="DIR",
        help="cache of OCR results by image content ('' disables; default: $RECEIPT_LIGHTNING_OCR_CACHE "
        "or ~/.cache/receipt-lightning/ocr)",
    )


def ocr_config(args: argparse.Namespace):
    from receipt_lightning.ocr.config import OcrConfig

    return OcrConfig(
        engine=args.ocr_engine,
        boxes=args.ocr_boxes,
        upper_case=not args.ocr_keep_case,
        space_after_comma=not args.ocr_keep_commas,
        workers=args.ocr_workers,
        cache_dir=args.ocr_cache,
    )


def _ids(spec: str | None) -> set[str] | None:
    if not spec:
        return None
    if spec.startswith("@"):
        from pathlib import Path

        return {line.strip() for line in Path(spec[1:]).read_text().splitlines() if line.strip()}
    return {s.strip() for s in spec.split(",") if s.strip()}


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from receipt_lightning.predict import load_predictor, load_receipts

    if args.threads:
        torch.set_num_threads(args.threads)
    from receipt_lightning.predict_images import is_image_input

    images = None
    if is_image_input(args.input):
        # OCR before the checkpoint is loaded: a missing engine or a bad path fails at once.
        from receipt_lightning.predict_images import load_image_receipts

        images = load_image_receipts(args.input, ocr_config(args))
    elif len(args.input) != 1:
        from receipt_lightning.errors import InputError

        raise InputError("several --input paths are for images; give one SROIE directory or JSONL file")
    predictor = load_predictor(args.checkpoint, use_lexicon=not args.no_lexicon)
    fields = sorted({lab.split("-", 1)[1] for lab in predictor.label_list if lab != "O"})
    receipts = images.receipts if images is not None else load_receipts(args.input[0], fields)
    wanted = _ids(args.ids)
    if args.split:
        from receipt_lightning.data.sources import detect_source
        from receipt_lightning.data.sroie import list_sroie_ids, sroie_fold
        from receipt_lightning.errors import InputError

        if images is not None or detect_source(args.input[0]) != "sroie":
            raise InputError("--split needs a SROIE directory (with box/)", source=" ".join(args.input))
        ids = list_sroie_ids(args.input[0])
        fold = args.fold if args.split == "dev" else False
        split_ids = set(sroie_fold(ids, dev_fold=fold)[0 if args.split == "train" else 1])
        wanted = split_ids if wanted is None else wanted & split_ids
    if wanted is not None:
        receipts = [r for r in receipts if r.id in wanted]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    probs = predictor.word_probs(receipts, batch_size=args.batch_size)
    predictions = predictor.decode(receipts, probs)
    for rid, fields_found in predictions.items():
        (out / f"{rid}.json").write_text(json.dumps(fields_found, indent=4, ensure_ascii=False) + "\n")
    print(f"wrote {len(predictions)} predictions to {out}")
    if images is not None:
        from receipt_lightning.predict_images import write_ocr_records

        kept = {r.id for r in receipts}
        folder = write_ocr_records({k: v for k, v in images.ocr.items() if k in kept}, out)
        print(f"wrote the OCR of each receipt to {folder}")
    if args.draw:
        from receipt_lightning.draw import draw_receipts

        tags = [[predictor.label_list[i] for i in p.argmax(1)] for p in probs]
        n = draw_receipts(receipts, tags, predictions, args.draw)
        print(f"drew {n} receipts to {args.draw}")
    if images is not None and images.errors:
        import sys

        from receipt_lightning.errors import EXIT_FATAL

        for message in images.errors:
            print(f"receipt-lightning predict: error: {message}", file=sys.stderr)
        print(f"{len(images.errors)} input(s) could not be read (above); the others were predicted", file=sys.stderr)
        return EXIT_FATAL
    return 0
