"""Export a run and check the export against its checkpoint on real receipts: export time and
size; per member the largest |logit difference| of plain ``transformers`` against the checkpoint
and of ONNX Runtime against PyTorch on the receipts' own windows; whether the fields decoded by
the checkpoint, the exported PyTorch weights and ONNX Runtime are identical; and their F1.

    OMP_NUM_THREADS=2 python -m benchmarks.export_parity --run RUN_DIR --input RECEIPTS \
        [--split val] [--to DIR] [--limit N]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main() -> None:
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    from receipt_lightning.commands.predict import select_receipts
    from receipt_lightning.data.encoding import collate_windows, encode_receipt
    from receipt_lightning.export.checkpoint import build_classifier, read_checkpoint
    from receipt_lightning.export.onnx_export import onnx_session
    from receipt_lightning.export.writer import export_model
    from receipt_lightning.fields.sroie_metrics import score
    from receipt_lightning.predict import load_predictor, load_receipts

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--split", choices=("train", "val"), default=None)
    p.add_argument("--to", default=None, help="export here (default: a temporary directory)")
    p.add_argument("--limit", type=int, default=None, help="receipts checked (default: all)")
    args = p.parse_args()
    hf_logging.disable_progress_bar()

    with tempfile.TemporaryDirectory(prefix="rl-parity-") as tmp:
        report = export_model(args.run, args.to or f"{tmp}/export", onnx=True, overwrite=True)
        print(json.dumps({k: v for k, v in report.as_dict().items() if k != "files"}))
        contents = read_checkpoint(args.run)
        checkpoint_model = build_classifier(contents)
        members = list(getattr(checkpoint_model, "members", [checkpoint_model]))
        reference = load_predictor(args.run)
        fields = sorted({lab.split("-", 1)[1] for lab in reference.label_list if lab != "O"})
        selection = SimpleNamespace(ids=None, split=args.split, fold=1, input=args.input)
        receipts = select_receipts(selection, load_receipts(args.input, fields))[: args.limit]
        windows = [
            w
            for i, r in enumerate(receipts)
            for w in encode_receipt(r, i, reference.tokenizer, None, contents.max_length, contents.stride)
        ]
        hf_diff = [0.0] * len(members)
        ort_diff = [0.0] * len(members)
        loaded = [
            AutoModelForTokenClassification.from_pretrained(report.to / f"member-{i}").eval()
            for i in range(len(members))
        ]
        sessions = [onnx_session(report.to / f"member-{i}" / "model.onnx") for i in range(len(members))]
        for start in range(0, len(windows), 16):
            batch = collate_windows(windows[start : start + 16], reference.tokenizer.pad_token_id)
            inputs = {k: batch[k] for k in ("input_ids", "bbox", "attention_mask")}
            valid = inputs["attention_mask"].bool().numpy()
            for i, member in enumerate(members):
                with torch.no_grad():
                    want = member.eval()(**inputs).logits.numpy()
                    got = loaded[i](**inputs).logits.numpy()
                onnx = sessions[i].run(["logits"], {k: v.numpy() for k, v in inputs.items()})[0]
                hf_diff[i] = max(hf_diff[i], float(np.abs(got - want)[valid].max()))
                ort_diff[i] = max(ort_diff[i], float(np.abs(onnx - got)[valid].max()))
        outputs = {}
        for name, predictor in (
            ("checkpoint", reference),
            ("export (PyTorch)", load_predictor(report.to, backend="torch")),
            ("export (ONNX Runtime)", load_predictor(report.to, backend="onnx")),
        ):
            records = predictor.predict_records(receipts)
            outputs[name] = {
                r["id"]: {k: v for k, v in r.items() if k not in ("id", "details")} for r in records
            }
        truth = {r.id: r.fields for r in receipts if r.fields}
        result = {
            "receipts": len(receipts),
            "windows": len(windows),
            "hf_vs_checkpoint_max_abs_logit_diff": hf_diff,
            "onnx_vs_pytorch_max_abs_logit_diff": ort_diff,
            "fields_identical": all(o == outputs["checkpoint"] for o in outputs.values()),
            "field_f1": {
                name: round(score(o, truth, fields)["exact"]["f1"], 4) for name, o in outputs.items()
            }
            if truth
            else None,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
