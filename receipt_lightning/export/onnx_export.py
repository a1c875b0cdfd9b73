"""One ensemble member as an ONNX graph, with dynamic batch and sequence axes.

``torch.onnx.export(..., dynamo=False)``: the TorchScript-based exporter needs only the ``onnx``
package, while the dynamo exporter (torch's default since 2.9) also needs ``onnxscript``; on the
tiny model both give graphs whose logits match PyTorch to ~1e-7, so the one with fewer
dependencies is used. The graph is checked before it is kept: ONNX Runtime must reproduce
PyTorch's logits on an input of another batch size and length than the one traced.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from receipt_lightning.errors import FatalError
from receipt_lightning.export.layout import INPUT_NAMES

log = logging.getLogger(__name__)

OPSET = 17  # LayerNorm as one op (17+); every onnxruntime release since 1.14 runs it
# Largest |logit difference| accepted between ONNX Runtime and PyTorch in fp32 (logits are O(10)).
PARITY_ATOL = 1e-3


def example_inputs(batch: int, length: int, vocab_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random but valid model inputs (boxes with x0 <= x1, y0 <= y1 in 0..1000)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (batch, length), generator=g)
    corner = torch.randint(0, 800, (batch, length, 2), generator=g)
    size = torch.randint(0, 200, (batch, length, 2), generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[0, length // 2 :] = 0  # padding in the batch, as collate_windows makes it
    return {"input_ids": ids, "bbox": torch.cat([corner, corner + size], -1), "attention_mask": mask}


def export_onnx(member: torch.nn.Module, path: str | Path) -> float:
    """Write ``member`` (a ``LayoutLMForTokenClassification``) to ``path``; returns the largest
    |logit| difference ONNX Runtime showed against PyTorch on a fresh input."""
    member = member.eval()
    vocab = int(member.config.vocab_size)
    traced = example_inputs(2, 16, vocab)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, "logits")}
    with warnings.catch_warnings():
        # The tracer's notes on Python-level conditionals in transformers (constant for these
        # shapes); they are not errors and say nothing about this model.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            member,
            (),
            str(path),
            kwargs=traced,
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    check = example_inputs(3, 37, vocab, seed=1)
    with torch.no_grad():
        expected = member(**check).logits.numpy()
    got = onnx_session(path, threads=1).run(["logits"], {k: v.numpy() for k, v in check.items()})[0]
    diff = float(abs(got - expected).max())
    if diff > PARITY_ATOL:
        raise FatalError(f"{path}: ONNX Runtime logits differ from PyTorch by {diff:.2e} (> {PARITY_ATOL})")
    return diff


def onnx_session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session; ``threads`` intra-op threads (None: ONNX Runtime's default)."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise FatalError("ONNX models need onnxruntime: pip install 'receipt-lightning[onnx]'") from err
    options = ort.SessionOptions()
    # No busy-waiting between ops (ONNX Runtime's OMP_WAIT_POLICY=PASSIVE): spinning threads
    # take the cores from the tokenizer, the server's event loop and other processes.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
