"""Images in, fields out, through the command line: a tiny model trained for a few steps, then
``predict --input <folder of scans and bad files>`` with the default engine, ``--draw`` over the
scans, and ``evaluate`` on the result. Every bad file is one line naming it, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = [pytest.mark.slow, pytest.mark.sroie]


def run_cli(args: list[str], cwd: Path, module: str = "receipt_lightning.cli", stdin: bytes | None = None):
    env = dict(os.environ, OMP_NUM_THREADS="1", RL_SHARED_ROOT=str(cwd), HYDRA_FULL_ERROR="0",
               RECEIPT_LIGHTNING_OCR_CACHE=str(cwd / "ocr-cache"))  # fmt: skip
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, timeout=900)  # fmt: skip


def test_predict_from_a_folder_of_images_then_evaluate(sroie_dir, tmp_path):
    from receipt_lightning.ocr.config import OcrConfig
    from receipt_lightning.ocr.engine import MissingOcrEngine, engine_version

    try:
        engine_version(OcrConfig())
    except MissingOcrEngine as exc:
        pytest.skip(f"the default OCR engine is not installed: {exc}")
    proc = run_cli(
        ["+experiment=smoke", "run_id=tiny", "data.n_train=16", "data.n_val=8", "trainer.max_epochs=1",
         "data.batch_size=8", "trainer.enable_progress_bar=false"],
        tmp_path,
        module="receipt_lightning.train",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = json.loads((tmp_path / "runs" / "tiny" / "summary.json").read_text())["last_checkpoint"]

    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "000.jpg").write_bytes((sroie_dir / "img" / "000.jpg").read_bytes())
    Image.open(sroie_dir / "img" / "001.jpg").save(scans / "001.pdf")
    Image.new("RGB", (300, 200), "white").save(scans / "blank.png")
    (scans / "zero.jpg").write_bytes(b"")
    (scans / "notes.png").write_bytes(b"not an image at all")
    (scans / "cut.jpg").write_bytes((sroie_dir / "img" / "002.jpg").read_bytes()[:2000])

    out, draws = tmp_path / "preds", tmp_path / "draws"
    proc = run_cli(["predict", "--checkpoint", ckpt, "--input", str(scans), "--output", str(out),
                    "--draw", str(draws)], tmp_path)  # fmt: skip
    stderr = proc.stderr.decode()
    assert proc.returncode == 3, stderr[-3000:]  # some inputs could not be read
    assert "Traceback" not in stderr
    for name, why in (("zero.jpg", "empty file"), ("notes.png", "not an image"), ("cut.jpg", "truncated")):
        assert any(name in line and why in line for line in stderr.splitlines()), (name, stderr)
    assert sorted(p.stem for p in out.glob("*.json")) == ["000", "001", "blank"]
    assert json.loads((out / "blank.json").read_text()) == {}
    record = json.loads((out / "ocr" / "000.json").read_text())
    assert record["engine"].startswith("rapidocr") and record["image"].endswith("000.jpg")
    assert any("BOOK TA" in line["text"] for line in record["lines"])
    assert sorted(p.name for p in draws.glob("*.png")) == ["000.png", "001.png", "blank.png"]
    assert Image.open(draws / "000.png").size[0] == record["width"]

    # The same scan on standard input: the cache answers, id "stdin".
    proc = run_cli(["predict", "--checkpoint", ckpt, "--input", "-", "--output", str(tmp_path / "one")],
                   tmp_path, stdin=(scans / "000.jpg").read_bytes())  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert json.loads((tmp_path / "one" / "ocr" / "stdin.json").read_text())["cached"] is True

    truth = tmp_path / "truth"
    truth.mkdir()
    for rid in ("000", "001"):
        (truth / f"{rid}.json").write_text((sroie_dir / "key" / f"{rid}.json").read_text())
    proc = run_cli(["evaluate", "--predictions", str(out), "--ground-truth", str(truth), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert json.loads(proc.stdout)["n_receipts"] == 2  # the receipts with keys; "blank" has none
