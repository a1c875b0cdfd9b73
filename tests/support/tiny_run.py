"""A tiny trained run for export / predict / serve tests: ``+experiment=smoke`` cut to a few
steps (two-member ensemble, so the ensemble paths are exercised), trained once per test session
through the real entry point, then exported (with ONNX) once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TINY_OVERRIDES = [
    "+experiment=smoke",
    "run_id=tiny",
    "data.n_train=48",
    "data.n_val=8",
    "data.batch_size=8",
    "trainer.max_epochs=2",
    "trainer.check_val_every_n_epoch=1",
    "trainer.enable_progress_bar=false",
    "model.ensemble_size=2",
    "logger=none",
]
_CACHE: dict[str, Path] = {}


def tiny_run(root: Path) -> Path:
    """The run directory of a finished tiny run under ``root`` (trained on first call)."""
    key = f"run:{root}"
    if key not in _CACHE:
        env = dict(os.environ, OMP_NUM_THREADS="1", RL_SHARED_ROOT=str(root), HYDRA_FULL_ERROR="1")
        env.pop("AWS_ENDPOINT_URL", None)
        proc = subprocess.run(
            [sys.executable, "-m", "receipt_lightning.train", *TINY_OVERRIDES],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        _CACHE[key] = root / "runs" / "tiny"
    return _CACHE[key]


def tiny_export(root: Path) -> Path:
    """The tiny run exported with ONNX files to ``root/export`` (exported on first call)."""
    key = f"export:{root}"
    if key not in _CACHE:
        from receipt_lightning.export.writer import export_model

        _CACHE[key] = export_model(tiny_run(root), root / "export", onnx=True).to
    return _CACHE[key]


def held_out_receipts(n: int = 12, seed: int = 4242):
    """Synthetic receipts no tiny run trained or validated on."""
    from receipt_lightning.data.synthetic.generator import generate_receipts

    return generate_receipts(n, seed=seed)
