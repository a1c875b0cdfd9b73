"""Score predicted fields against SROIE-style keys: task-3 micro precision/recall/F1 (exact match
after whitespace normalisation; an omitted field is a miss), per-field accuracy, and a relaxed score
(case, whitespace and punctuation ignored) to show how much of the gap is the keys' typing.

Only receipts that have a prediction file are scored (so a SROIE root can serve as the ground
truth for a validation subset); --all-truth counts every key without a prediction as missed."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--predictions",
        required=True,
        help="directory of <receipt id>.json predictions, or a predict --format json/jsonl file",
    )
    p.add_argument(
        "--ground-truth", required=True, help="a SROIE root (with key/) or a directory of <id>.json keys"
    )
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.add_argument(
        "--worst", type=int, default=0, metavar="N", help="also list the N receipts with most errors"
    )
    p.add_argument("--all-truth", action="store_true", help="score every key, missing predictions as misses")


def format_report(result: dict, worst: list[dict]) -> str:
    """Human-readable lines: exact and relaxed micro scores, per-field accuracy, worst receipts."""
    lines = [f"receipts: {result['n_receipts']}"]
    for name in ("exact", "relaxed"):
        b = result[name]
        lines.append(
            f"{name:8s} micro P {b['precision']:.4f}  R {b['recall']:.4f}  F1 {b['f1']:.4f}  "
            f"({b['correct']} correct / {b['predicted']} predicted / {b['true']} true)"
        )
    lines.append("per-field accuracy (exact | relaxed):")
    for field, f in result["exact"]["per_field"].items():
        r = result["relaxed"]["per_field"][field]
        lines.append(f"  {field:10s} {f['accuracy']:.4f} | {r['accuracy']:.4f}  ({f['correct']}/{f['true']})")
    if worst:
        lines.append(f"worst {len(worst)} receipts:")
        for row in worst:
            lines.append(f"  {row['id']}: {row['errors']} wrong")
            for field, pair in row["fields"].items():
                lines.append(f"    {field:8s} predicted {pair['predicted']!r}")
                lines.append(f"    {'':8s} true      {pair['true']!r}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    from pathlib import Path

    from receipt_lightning.fields.sroie_metrics import load_json_dir, score, worst_receipts

    log = logging.getLogger("receipt_lightning.evaluate")
    if Path(args.predictions).is_file():
        from receipt_lightning.fields.prediction_records import load_prediction_records

        predictions = load_prediction_records(args.predictions)
    else:
        predictions = load_json_dir(args.predictions)
    truth = load_json_dir(args.ground_truth)
    unknown = sorted(set(predictions) - set(truth))
    if unknown:
        log.warning("%d prediction(s) have no key and are not scored (e.g. %s)", len(unknown), unknown[:5])
        predictions = {k: v for k, v in predictions.items() if k in truth}
    if not args.all_truth:
        unpredicted = len(set(truth) - set(predictions))
        if unpredicted:
            log.info("%d key(s) without a prediction left out (use --all-truth to count them)", unpredicted)
        truth = {k: v for k, v in truth.items() if k in predictions}
    result = score(predictions, truth)
    worst = worst_receipts(predictions, truth, args.worst) if args.worst > 0 else []
    if args.json:
        print(json.dumps({**result, "worst": worst}, indent=2, ensure_ascii=False))
    else:
        print(format_report(result, worst))
    return 0
