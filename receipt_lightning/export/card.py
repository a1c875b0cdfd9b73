"""The model card (``README.md``) of an exported model, from the run's own records:
``config.yaml`` (data and model), ``.hydra/overrides.yaml`` (the training command) and
``summary.json`` (the metrics table). Only what the run recorded is stated; a checkpoint outside
a run directory gets a card that says its run records were not found."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from receipt_lightning.runs import read_summary

SPLITS = {
    "sroie": (
        "SROIE task 3 receipts under `{root}`, split by receipt-id hash (salt `sroie-v1`, "
        "`receipt_lightning/data/sroie.py`): 80% training, 20% validation (401 / 100 of the 501)."
    ),
    "synthetic": (
        "Synthetic receipts from the package's generator (`receipt_lightning/data/synthetic`): "
        "{n_train} for training and {n_val} for validation, drawn from different seeds."
    ),
    "jsonl": "JSON Lines receipts under `{root}`; validation: a {val_fraction:.0%} hash split of them.",
}


def run_dir_of(checkpoint: Path) -> Path | None:
    """The run directory a checkpoint lies in (``<run>/checkpoints/x.ckpt``), if it looks like one."""
    run = checkpoint.resolve().parent.parent
    return run if (run / "summary.json").is_file() or (run / "config.yaml").is_file() else None


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return None  # a card without that section beats no export; the card says it is missing


def training_command(overrides: Sequence[str] | None) -> str | None:
    if overrides is None:
        return None
    # Hydra records `+experiment=X` as `experiment=X` (experiment is not in the primary config).
    args = [f"+{o}" if o.startswith("experiment=") else o for o in overrides]
    return " ".join(["python -m receipt_lightning.train", *args])


def metrics_table(metrics: Mapping[str, Any]) -> str:
    # Validation metrics only: the learning rates and the last training loss say nothing about use.
    rows = [
        f"| `{k}` | {v:.4f} |"
        for k, v in sorted(metrics.items())
        if k.startswith("val/") and isinstance(v, int | float)
    ]
    return "\n".join(["| metric | value |", "|---|---|", *rows]) if rows else "(no metrics recorded)"


def model_card(
    checkpoint: Path,
    label_list: Sequence[str],
    ensemble_size: int,
    hf_config: Mapping[str, Any],
    onnx: bool,
) -> str:
    run = run_dir_of(checkpoint)
    config = (_yaml(run / "config.yaml") if run else None) or {}
    overrides = _yaml(run / ".hydra" / "overrides.yaml") if run else None
    summary = (read_summary(run) if run else None) or {}
    data = config.get("data") or {}
    model = config.get("model") or {}
    fields = sorted({lab[2:] for lab in label_list if lab != "O"}, key=lambda f: label_list.index(f"B-{f}"))
    source = data.get("source")
    split = SPLITS.get(source, "unknown (no run configuration beside the checkpoint)")
    try:
        split = split.format(**{k: data.get(k) for k in ("root", "n_train", "n_val", "val_fraction")})
    except (TypeError, ValueError):
        pass  # a value of an unexpected type: the template stays unformatted, still readable
    command = training_command(overrides)
    size = (
        f"{hf_config.get('num_hidden_layers')} layers, hidden size {hf_config.get('hidden_size')}, "
        f"{hf_config.get('num_attention_heads')} heads"
    )
    members = "one model" if ensemble_size == 1 else f"an ensemble of {ensemble_size} models"
    lines = [
        "# Receipt field extraction (LayoutLM token classification)",
        "",
        f"Extracts {', '.join(fields)} from a receipt's OCR words and boxes. {members.capitalize()} "
        f"(`member-*/`: {size}; backbone start `{(model.get('backbone') or {}).get('kind', 'unknown')}`), "
        "trained with receipt-lightning.",
        "",
        "## Files",
        "",
        "- `member-N/`: a Hugging Face directory per member (`config.json` with `id2label`, "
        "`model.safetensors`, tokenizer). Load with "
        '`transformers.LayoutLMForTokenClassification.from_pretrained("member-0")`; inputs '
        "`input_ids`, `bbox` (0..1000 page coordinates per token), `attention_mask`."
        + (
            " `member-N/model.onnx`: the same member for ONNX Runtime (dynamic batch and sequence)."
            if onnx
            else ""
        ),
        f"- `ensemble.json`: the members and how they combine ({'softmax probabilities averaged' if ensemble_size > 1 else 'a single member'}).",
        "- `decoding.json`: label list, windowing (max length, stride) and decoder settings; "
        "`lexicon.json`: the training keys' company/address spellings a decoded value is snapped to.",
        "- Fields as SROIE keys hold them: `receipt-lightning predict --model DIR` or `receipt-lightning serve DIR`.",
        "",
        "## Data and split",
        "",
        split,
        "",
        "Word labels (BIO) come from the key values by weak labelling (`receipt_lightning/fields/weak_label.py`).",
        "",
        "## Training",
        "",
        f"```\n{command}\n```" if command else "The training command was not recorded beside the checkpoint.",
        "",
        f"Run `{summary.get('run_id', 'unknown')}`, {summary.get('global_step', '?')} steps, "
        f"status {summary.get('status', 'unknown')}; exported from `{checkpoint.name}`"
        + (
            f" (weights sha256 `{summary['weights_sha256'][:16]}...` at the run's end)"
            if summary.get("weights_sha256")
            else ""
        )
        + ".",
        "",
        "## Metrics (validation split, from the run's summary.json)",
        "",
        metrics_table(summary.get("metrics") or {}),
        "",
        _which_weights(checkpoint, summary),
        "",
        "`val/field_f1` etc. are SROIE task-3 scores of the decoded fields (exact match); `val/f1` is "
        "the word-level entity F1 of the tags.",
        "",
        "## Intended use",
        "",
        "Pre-filling company, date, address and total from scanned Malaysian-style retail receipts "
        "whose OCR words and boxes are given, with a person checking the values (each comes with a "
        "confidence and the words and boxes it was read from).",
        "",
        "## Limits",
        "",
        "- Trained on a few hundred receipts of one region and era (SROIE, 2017-2018 Malaysia) or on "
        "synthetic receipts: other layouts, languages and currencies are out of distribution.",
        "- Needs OCR words and boxes; OCR errors pass through (the model cannot read the image).",
        "- The lexicon rewrites a company/address to a spelling seen in training keys; for new shops "
        "it leaves the OCR text, which may differ from how a person would type the key.",
        "- Confidences are the model's mean span probability, not calibrated probabilities of being right.",
        "- Not for decisions without human review (e.g. expense fraud checks).",
        "",
    ]
    return "\n".join(lines)


def _which_weights(checkpoint: Path, summary: Mapping[str, Any]) -> str:
    """The metrics are the run's last validation; say whether the exported weights are those."""
    last = Path(summary.get("last_checkpoint") or "").name
    if not summary:
        return "No summary.json was found beside the checkpoint: no metrics are claimed."
    if checkpoint.name == last:
        return "The exported weights are the run's last checkpoint, the one these metrics were measured on."
    return (
        f"The exported weights are the best checkpoint by `{summary.get('monitor')}` "
        f"({summary.get('best_score')}); the table is the run's last validation (`{last}`)."
    )


def summary_json(checkpoint: Path) -> dict[str, Any] | None:
    run = run_dir_of(checkpoint)
    return read_summary(run) if run else None


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
