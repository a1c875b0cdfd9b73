"""Upper bound of the weak labelling on SROIE: weak-label every receipt from its key, decode those
gold labels with the same decoder a model's predictions go through, and score against the keys.

Two figures: the decoder's own rules, and with the company/address lexicon learned from the
training split's keys (a training receipt's own key is left out of it while it is decoded)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="a SROIE root (box/ and key/)")
    p.add_argument("--split", choices=("val", "train", "all"), default="all", help="receipts to score")
    p.add_argument("--val-fraction", type=float, default=0.2, help="validation share of the fixed split")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.add_argument(
        "--worst", type=int, default=0, metavar="N", help="also list the N receipts with most errors"
    )


def run(args: argparse.Namespace) -> int:
    import json

    from receipt_lightning.commands.evaluate import format_report
    from receipt_lightning.data.sroie import list_sroie_ids, load_sroie, sroie_split
    from receipt_lightning.fields.label_bound import label_bound
    from receipt_lightning.fields.lexicon import FieldLexicon
    from receipt_lightning.fields.sroie_metrics import worst_receipts

    ids = list_sroie_ids(args.data)
    train_ids, val_ids = sroie_split(ids, val_fraction=args.val_fraction)
    chosen = {"train": train_ids, "val": val_ids, "all": ids}[args.split]
    receipts = load_sroie(args.data, chosen)
    train_set = set(train_ids)
    train_keys = [r.fields or {} for r in receipts if r.id in train_set]
    if args.split == "val":
        train_keys = [r.fields or {} for r in load_sroie(args.data, train_ids, label=False)]
    lexicon = FieldLexicon.from_keys(train_keys)
    plain = label_bound(receipts)
    learned = label_bound(receipts, lexicon=lexicon, lexicon_ids=train_set)
    if args.json:
        strip = ("predictions", "truth")
        out = {
            "split": args.split,
            "n_receipts": len(receipts),
            "decoder": {k: v for k, v in plain.items() if k not in strip},
            "decoder+lexicon": {k: v for k, v in learned.items() if k not in strip},
        }
        print(json.dumps(out, indent=2))
        return 0
    for name, result in (("decoder rules", plain), ("decoder rules + training-key lexicon", learned)):
        worst = worst_receipts(result["predictions"], result["truth"], args.worst) if args.worst > 0 else []
        print(f"== weak-labelling bound, split={args.split}, {name}")
        print(format_report(result, worst))
    return 0
