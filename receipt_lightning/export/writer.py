"""``export_model``: a checkpoint (or a run directory's best, else last one) as an exported
directory (layout in ``layout.py``).

The directory is written under a temporary name beside ``to`` and renamed into place at the
end, so a failed export never leaves a half directory that ``predict`` would take for a model.
Each member is reloaded with plain ``transformers`` before the rename and its logits compared
with the checkpoint's, so an export that does not reproduce the model is refused.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from receipt_lightning.errors import FatalError, InputError
from receipt_lightning.export import layout
from receipt_lightning.export.card import dumps, model_card, summary_json
from receipt_lightning.export.checkpoint import read_checkpoint

log = logging.getLogger(__name__)

# Largest |logit difference| accepted between the reloaded member and the checkpoint's (fp32;
# the same weights and the same code, so any difference is a bug, not rounding).
HF_PARITY_ATOL = 1e-5


@dataclass
class ExportReport:
    to: Path  # the exported directory
    checkpoint: Path  # the checkpoint it came from
    members: int  # ensemble members exported
    seconds: float  # wall time of the export, checks included
    bytes: int  # total size of the directory
    hf_max_diff: float  # largest |logit| difference of the reloaded members against the checkpoint
    onnx_max_diff: float | None  # the same for ONNX Runtime against PyTorch (None: no --onnx)
    files: list[str] = field(default_factory=list)  # paths relative to ``to``

    def as_dict(self) -> dict:
        return {
            "to": str(self.to),
            "checkpoint": str(self.checkpoint),
            "members": self.members,
            "seconds": round(self.seconds, 2),
            "bytes": self.bytes,
            "hf_max_diff": self.hf_max_diff,
            "onnx_max_diff": self.onnx_max_diff,
            "files": self.files,
        }


def export_model(
    source: str | Path, to: str | Path, onnx: bool = False, overwrite: bool = False
) -> ExportReport:
    """Export ``source`` (a ``.ckpt`` or a run directory) to the directory ``to``."""
    from transformers import LayoutLMForTokenClassification

    from receipt_lightning.model.backbone import load_tokenizer, model_from_config

    started = time.perf_counter()
    to = Path(to)
    if to.exists() and not (to.is_dir() and not any(to.iterdir())):
        if not overwrite:
            raise InputError("already exists and is not an empty directory (use --overwrite)", source=str(to))
        if not layout.is_export_dir(to):
            # Never delete a directory this command did not write.
            raise InputError("exists and is not an exported model; refusing to replace it", source=str(to))
    contents = read_checkpoint(source)
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = to.with_name(f".{to.name}.export-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        tokenizer = load_tokenizer(contents.tokenizer)
        names, onnx_names, hf_diff, onnx_diff = [], [], 0.0, None
        for index, state in enumerate(contents.member_state_dicts()):
            name = layout.member_dir_name(index)
            member = model_from_config(contents.hf_config)
            member.load_state_dict(state)
            member.eval()
            member.save_pretrained(str(tmp / name), safe_serialization=True)
            tokenizer.save_pretrained(str(tmp / name))
            reloaded = LayoutLMForTokenClassification.from_pretrained(str(tmp / name), local_files_only=True)
            hf_diff = max(hf_diff, _max_logit_diff(member, reloaded.eval()))
            names.append(name)
            if onnx:
                from receipt_lightning.export.onnx_export import export_onnx

                diff = export_onnx(member, tmp / name / layout.ONNX_FILE)
                onnx_diff = diff if onnx_diff is None else max(onnx_diff, diff)
                onnx_names.append(f"{name}/{layout.ONNX_FILE}")
        if hf_diff > HF_PARITY_ATOL:
            raise FatalError(
                f"reloaded members differ from the checkpoint by {hf_diff:.2e} (> {HF_PARITY_ATOL})"
            )
        summary = summary_json(contents.path) or {}
        (tmp / layout.ENSEMBLE_FILE).write_text(
            dumps(
                {
                    "format": layout.FORMAT,
                    "format_version": layout.FORMAT_VERSION,
                    "members": names,
                    "combine": layout.COMBINE,
                    "onnx": onnx_names or None,
                    "source": {
                        "checkpoint": contents.path.name,
                        "global_step": contents.global_step,
                        "run_id": summary.get("run_id"),
                        "weights_sha256": summary.get("weights_sha256"),
                    },
                    "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
        )
        if contents.lexicon:
            (tmp / layout.LEXICON_FILE).write_text(dumps(contents.lexicon))
        (tmp / layout.DECODING_FILE).write_text(
            dumps(
                {
                    "label_list": contents.label_list,
                    "max_length": contents.max_length,
                    "stride": contents.stride,
                    "rules": layout.decoder_rules(),
                    "lexicon": layout.LEXICON_FILE if contents.lexicon else None,
                }
            )
        )
        (tmp / layout.CARD_FILE).write_text(
            model_card(contents.path, contents.label_list, contents.ensemble_size, contents.hf_config, onnx)
        )
        layout.read_export(tmp)  # what predict will read must read back
        if to.exists():
            shutil.rmtree(to)
        os.replace(tmp, to)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(str(p.relative_to(to)) for p in to.rglob("*") if p.is_file())
    return ExportReport(
        to=to,
        checkpoint=contents.path,
        members=len(names),
        seconds=time.perf_counter() - started,
        bytes=sum((to / f).stat().st_size for f in files),
        hf_max_diff=hf_diff,
        onnx_max_diff=onnx_diff,
        files=files,
    )


@torch.no_grad()
def _max_logit_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    from receipt_lightning.export.onnx_export import example_inputs

    inputs = example_inputs(2, 24, int(a.config.vocab_size), seed=2)
    return float((a(**inputs).logits - b(**inputs).logits).abs().max())


def report_json(report: ExportReport) -> str:
    return json.dumps(report.as_dict(), indent=2)
