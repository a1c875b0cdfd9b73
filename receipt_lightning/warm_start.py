"""Warm start: a new run's classifier starts from another model's weights
(``model.pretrained=DIR``), e.g. to fine-tune on a user's own receipts.

``DIR`` is an exported directory (``receipt-lightning export``), a run directory (its best, else
last checkpoint) or a ``.ckpt``. Members map in order (member i from source member i; a single
source model starts every member). The label head is taken only when the label lists are the
same; otherwise it starts fresh (a new field set). Any other difference in architecture is an
error naming the weight, never a silent partial load. Applied only when the run starts, not when
it resumes (its own checkpoint holds everything then), so the source may be gone by then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from receipt_lightning.errors import FatalError, InputError

log = logging.getLogger(__name__)

HEAD_PREFIX = "classifier."  # LayoutLMForTokenClassification's label head


def source_weights(source: str | Path) -> tuple[list[dict[str, torch.Tensor]], list[str]]:
    """Member state dicts and the label list of an exported directory or a checkpoint/run dir."""
    from receipt_lightning.export.layout import is_export_dir, read_export

    if is_export_dir(source):
        from safetensors.torch import load_file

        export = read_export(source)
        states = []
        for member in export.members:
            file = member / "model.safetensors"
            if not file.is_file():
                raise InputError("no model.safetensors", source=str(member))
            states.append(load_file(str(file)))
        return states, export.label_list
    if Path(source).is_dir() and (Path(source) / "config.json").is_file():
        # A single Hugging Face directory (e.g. one member-N/ of an export).
        from safetensors.torch import load_file

        config = json.loads((Path(source) / "config.json").read_text())
        labels = [config.get("id2label", {}).get(str(i)) for i in range(len(config.get("id2label", {})))]
        return [load_file(str(Path(source) / "model.safetensors"))], [str(x) for x in labels]
    from receipt_lightning.export.checkpoint import read_checkpoint

    contents = read_checkpoint(source)
    return contents.member_state_dicts(), contents.label_list


def warm_start(classifier: torch.nn.Module, source: str | Path, label_list: Sequence[str]) -> dict:
    """Load ``source``'s weights into ``classifier`` (a model or a ``TokenEnsemble``); returns
    what was done (for the log and tests)."""
    from receipt_lightning.model.ensemble import TokenEnsemble

    states, source_labels = source_weights(source)
    targets = list(classifier.members) if isinstance(classifier, TokenEnsemble) else [classifier]
    same_labels = list(source_labels) == list(label_list)
    if not same_labels:
        log.warning(
            "warm start from %s: its labels %s differ from this run's %s; the label head starts fresh",
            source, source_labels, list(label_list),
        )  # fmt: skip
    for index, target in enumerate(targets):
        state = states[index % len(states)]
        if not same_labels:
            state = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)}
        own = target.state_dict()
        for key, value in state.items():
            if key in own and own[key].shape != value.shape:
                raise FatalError(
                    f"warm start from {source}: weight {key!r} has shape {tuple(value.shape)}, "
                    f"this model's {tuple(own[key].shape)} (a different architecture)"
                )
        missing, unexpected = target.load_state_dict(state, strict=False)
        missing = [k for k in missing if not (k.startswith(HEAD_PREFIX) and not same_labels)]
        # position_ids is a buffer some transformers versions save and others do not.
        missing = [k for k in missing if not k.endswith("position_ids")]
        unexpected = [k for k in unexpected if not k.endswith("position_ids")]
        if missing or unexpected:
            raise FatalError(
                f"warm start from {source}: weights do not fit this model (missing {missing[:5]}, "
                f"unexpected {unexpected[:5]})"
            )
    done = {
        "source": str(source),
        "members": len(targets),
        "source_members": len(states),
        "head": same_labels,
    }
    log.info("warm start: %s", done)
    return done
