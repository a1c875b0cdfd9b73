"""The exported directory: what ``receipt-lightning export`` writes and ``predict --model`` and
``serve`` read.

    DIR/
      README.md            model card (data, split, training command, metrics, use and limits)
      ensemble.json        members, how their outputs combine, ONNX files, provenance
      decoding.json        label list, windowing, the decoder's rule settings
      lexicon.json         training keys' company/address spellings (absent: none saved)
      member-0/            a plain Hugging Face directory per member: config.json (id2label,
        config.json        label2id), model.safetensors, tokenizer files; loadable with
        model.safetensors  transformers.LayoutLMForTokenClassification.from_pretrained
        tokenizer.json ...
        model.onnx         with --onnx: the member as ONNX (dynamic batch and sequence axes)
      member-1/ ...

Everything but the weights is plain JSON, so tools other than this package can read the
decoding settings and the lexicon.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipt_lightning.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "receipt-lightning-export"
FORMAT_VERSION = 1
ENSEMBLE_FILE = "ensemble.json"
DECODING_FILE = "decoding.json"
LEXICON_FILE = "lexicon.json"
CARD_FILE = "README.md"
ONNX_FILE = "model.onnx"
# How members' outputs combine: the log of their mean softmax probabilities (model/ensemble.py).
COMBINE = "mean_probabilities"
# Model inputs, in the order the ONNX graphs take them.
INPUT_NAMES = ("input_ids", "bbox", "attention_mask")


def member_dir_name(index: int) -> str:
    return f"member-{index}"


def decoder_rules() -> dict[str, float | int]:
    """The decoder's settings in this version of the package (fields/decoding.py, spans.py)."""
    from receipt_lightning.fields import decoding, spans

    return {
        "fallback_min_prob": decoding.FALLBACK_MIN_PROB,
        "max_gap_words": spans.MAX_GAP_WORDS,
        "gap_min_prob": spans.GAP_MIN_PROB,
        "line_min_prob": spans.LINE_MIN_PROB,
    }


def is_export_dir(path: str | Path) -> bool:
    return (Path(path) / ENSEMBLE_FILE).is_file()


@dataclass
class ExportedModel:
    root: Path  # the exported directory
    members: list[Path]  # Hugging Face directories, one per member
    onnx: list[Path] | None  # ONNX file per member (None: exported without --onnx)
    label_list: list[str]  # BIO labels in logit-column order
    max_length: int  # tokens per window
    stride: int  # tokens two windows overlap
    lexicon: dict[str, Any] | None  # FieldLexicon.to_plain(), or None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read: {err}", source=str(path)) from err
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", source=str(path))
    return data


def _inside(root: Path, name: object, what: str, source: Path) -> Path:
    """``root / name``, refused when ``name`` is not a plain relative path inside ``root``."""
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise InputError(
            f"{what} must be a relative path inside the directory, got {name!r}", source=str(source)
        )
    return root / name


def read_export(path: str | Path) -> ExportedModel:
    """An exported directory's manifest, checked (files present, versions, label maps agree)."""
    root = Path(path)
    ens_path = root / ENSEMBLE_FILE
    if not ens_path.is_file():
        raise InputError(f"not an exported model directory (no {ENSEMBLE_FILE})", source=str(root))
    ens = _read_json(ens_path)
    if ens.get("format") != FORMAT or ens.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"format {ens.get('format')!r} version {ens.get('format_version')!r}; this package reads "
            f"{FORMAT!r} version {FORMAT_VERSION}",
            source=str(ens_path),
        )
    if ens.get("combine") != COMBINE:
        raise InputError(
            f"unknown combine rule {ens.get('combine')!r} (expected {COMBINE!r})", source=str(ens_path)
        )
    names = ens.get("members")
    if not isinstance(names, list) or not names:
        raise InputError("'members' must be a non-empty list of directories", source=str(ens_path))
    members = [_inside(root, n, "a member", ens_path) for n in names]
    for m in members:
        if not (m / "config.json").is_file():
            raise InputError(f"member {m.name}: no config.json", source=str(root))
    onnx_names = ens.get("onnx")
    onnx = None
    if onnx_names is not None:
        if not isinstance(onnx_names, list) or len(onnx_names) != len(members):
            raise InputError("'onnx' must list one file per member", source=str(ens_path))
        onnx = [_inside(root, n, "an ONNX file", ens_path) for n in onnx_names]

    dec_path = root / DECODING_FILE
    dec = _read_json(dec_path)
    labels = dec.get("label_list")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels) or not labels:
        raise InputError("'label_list' must be a non-empty list of strings", source=str(dec_path))
    for key in ("max_length", "stride"):
        if not isinstance(dec.get(key), int) or isinstance(dec.get(key), bool) or dec[key] < 0:
            raise InputError(f"{key!r} must be a non-negative integer", source=str(dec_path))
    rules = dec.get("rules") or {}
    if rules != decoder_rules():
        # The rules are this package's code, not parameters: decoding now differs from the
        # figures in the model card, which a user should know.
        log.warning(
            "%s: exported with decoder rules %s, this package decodes with %s",
            dec_path,
            rules,
            decoder_rules(),
        )
    lexicon = None
    if dec.get("lexicon"):
        lexicon = _read_json(_inside(root, dec["lexicon"], "the lexicon", dec_path))
    for m in members:
        cfg = _read_json(m / "config.json")
        id2label = {int(k): v for k, v in (cfg.get("id2label") or {}).items()}
        if [id2label.get(i) for i in range(len(labels))] != labels or len(id2label) != len(labels):
            raise InputError(
                f"id2label {cfg.get('id2label')} differs from {DECODING_FILE}'s label_list",
                source=str(m / "config.json"),
            )
    return ExportedModel(
        root=root,
        members=members,
        onnx=onnx,
        label_list=list(labels),
        max_length=dec["max_length"],
        stride=dec["stride"],
        lexicon=lexicon,
    )


def load_torch_members(export: ExportedModel):
    """The members as ``transformers`` loads them (plain ``from_pretrained``), combined as
    training combined them: one model, or a ``TokenEnsemble``."""
    from transformers import LayoutLMForTokenClassification

    from receipt_lightning.model.ensemble import TokenEnsemble

    models = [
        LayoutLMForTokenClassification.from_pretrained(str(m), local_files_only=True).eval()
        for m in export.members
    ]
    return models[0] if len(models) == 1 else TokenEnsemble(models).eval()
