"""How far a decoded company/address may be from a training key and still be snapped to it, on
OCR'd scans: one checkpoint's word probabilities computed once, decoded under each fuzzy budget
(edits per letter/digit, ``fields.lexicon``), scored against the keys (task-3 exact).

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.lexicon_budget --checkpoint RUN_DIR \
        --images ../shared/datasets/sroie/img --keys ../shared/datasets/sroie/key \
        --split dev --fold 1 --budgets 0.02 0.04 0.06 0.08

Choose on a development fold (``--split dev``: the checkpoint must be trained with
``data.dev_fold=K`` so its lexicon holds the other folds' keys only), never on ``--split val``.
``OMP_WAIT_POLICY=PASSIVE`` is set before torch is imported. Prints one JSON object.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

FIELDS = ["company", "date", "address", "total"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a run directory or .ckpt (or an exported directory)")
    p.add_argument("--images", required=True, type=Path, help="a folder of scans (SROIE img/)")
    p.add_argument("--keys", required=True, type=Path, help="a folder of <id>.json keys (SROIE key/)")
    p.add_argument("--split", choices=("dev", "val"), default="dev")
    p.add_argument("--fold", type=int, default=1)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.02, 0.04, 0.06, 0.08])
    p.add_argument("--cache", default=None, help="OCR cache directory (default: the package's)")
    args = p.parse_args()

    from receipt_lightning.data.images import list_image_ids
    from receipt_lightning.data.sroie import sroie_fold
    from receipt_lightning.fields.decoding import decode_fields
    from receipt_lightning.fields.keys import read_key
    from receipt_lightning.fields.sroie_metrics import score
    from receipt_lightning.ocr.config import OcrConfig
    from receipt_lightning.predict import load_predictor
    from receipt_lightning.predict_images import load_image_receipts

    train_ids, held = sroie_fold(list_image_ids(args.images.parent), args.fold if args.split == "dev" else False)
    receipts = load_image_receipts([str(args.images)], OcrConfig(cache_dir=args.cache), ids=set(held)).receipts
    truth = {rid: read_key(args.keys / f"{rid}.json", FIELDS) for rid in held}
    predictor = load_predictor(args.checkpoint)
    probs = predictor.word_probs(receipts)
    out: dict = {"checkpoint": args.checkpoint, "split": args.split, "fold": args.fold, "n": len(held), "budgets": {}}
    for budget in args.budgets:
        if predictor.lexicon is not None:
            predictor.lexicon.for_ocr().fuzzy_edits_per_char = budget  # OCR'd text, this budget
        preds = {r.id: decode_fields(r, pr, predictor.label_list, lexicon=predictor.lexicon)
                 for r, pr in zip(receipts, probs, strict=True)}  # fmt: skip
        s = score(preds, truth, FIELDS)["exact"]
        out["budgets"][str(budget)] = {
            "f1": round(s["f1"], 4),
            "correct": s["correct"],
            "per_field": {f: v["correct"] for f, v in s["per_field"].items()},
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
