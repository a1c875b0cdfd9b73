"""``OnnxTokenClassifier``: exported ONNX members called like the PyTorch classifier (keyword
inputs, an output with ``.logits``), so ``Predictor`` runs either one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import torch

from receipt_lightning.export.layout import INPUT_NAMES
from receipt_lightning.export.onnx_export import onnx_session
from receipt_lightning.model.ensemble import average_log_probs


class OnnxTokenClassifier:
    def __init__(self, paths: Sequence[str | Path], threads: int | None = None) -> None:
        self.sessions = [onnx_session(p, threads) for p in paths]

    def eval(self) -> OnnxTokenClassifier:
        return self  # inference graphs: no training mode to leave

    def to(self, device: str | torch.device) -> OnnxTokenClassifier:
        if torch.device(device).type != "cpu":
            from receipt_lightning.errors import InputError

            raise InputError(f"ONNX models run on the CPU here (asked for {device}); use the PyTorch weights")
        return self

    def __call__(self, **inputs: torch.Tensor) -> SimpleNamespace:
        feed = {name: inputs[name].cpu().numpy() for name in INPUT_NAMES}
        logits = [torch.from_numpy(s.run(["logits"], feed)[0]) for s in self.sessions]
        return SimpleNamespace(logits=logits[0] if len(logits) == 1 else average_log_probs(logits))
