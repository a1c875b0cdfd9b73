"""Extract fields from receipts with a trained checkpoint: one <receipt id>.json per receipt,
shaped like SROIE's key/*.json (field -> string; fields not found are omitted)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a .ckpt written by training")
    p.add_argument("--input", required=True, help="a SROIE-format directory (box/) or a JSONL file")
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
    predictor = load_predictor(args.checkpoint, use_lexicon=not args.no_lexicon)
    fields = sorted({lab.split("-", 1)[1] for lab in predictor.label_list if lab != "O"})
    receipts = load_receipts(args.input, fields)
    wanted = _ids(args.ids)
    if args.split:
        from receipt_lightning.data.sources import detect_source
        from receipt_lightning.data.sroie import list_sroie_ids, sroie_fold
        from receipt_lightning.errors import InputError

        if detect_source(args.input) != "sroie":
            raise InputError("--split needs a SROIE directory (with box/)", source=args.input)
        ids = list_sroie_ids(args.input)
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
    if args.draw:
        from receipt_lightning.draw import draw_receipts

        tags = [[predictor.label_list[i] for i in p.argmax(1)] for p in probs]
        n = draw_receipts(receipts, tags, predictions, args.draw)
        print(f"drew {n} receipts to {args.draw}")
    return 0
