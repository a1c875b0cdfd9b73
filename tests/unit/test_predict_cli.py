"""``predict`` as users call it: from a run directory, an exported directory (PyTorch or ONNX),
records with confidences, words and boxes as JSON / JSONL (stdout with -), the per-receipt
files `evaluate` has always read, and `evaluate` scoring every format alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.tiny_run import held_out_receipts, tiny_export, tiny_run

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, Path]:
    from receipt_lightning.data.jsonl import write_jsonl

    root = tmp_path_factory.getbasetemp() / "tiny"
    root.mkdir(exist_ok=True)
    receipts_file = tmp_path_factory.mktemp("receipts") / "held_out.jsonl"
    write_jsonl(held_out_receipts(12), receipts_file)
    return {"run": tiny_run(root), "export": tiny_export(root), "receipts": receipts_file}


def predict(*args: str) -> int:
    from receipt_lightning.cli import main

    return main(["predict", *args])


def test_jsonl_to_stdout_carries_confidence_words_and_boxes(paths, capsys):
    assert predict("--model", str(paths["export"]), "--input", str(paths["receipts"]), "--output", "-",
                   "--format", "jsonl", "--progress", "always", "--batch-size", "2") == 0  # fmt: skip
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 12 and "predict:" in err  # the bar goes to stderr, never into the data
    receipts = {r.id: r for r in held_out_receipts(12)}
    found = 0
    for record in records:
        receipt = receipts[record["id"]]
        for field, detail in record["details"].items():
            found += 1
            assert record[field] == detail["value"]
            assert 0.0 <= detail["confidence"] <= 1.0
            assert detail["words"] and len(detail["words"]) == len(detail["boxes"])
            n = len(detail["words"])
            starts = [i for i in range(len(receipt.words)) if receipt.words[i : i + n] == detail["words"]]
            assert any([list(b) for b in receipt.boxes[i : i + n]] == detail["boxes"] for i in starts)
    assert found, "the tiny model decoded no field at all"


def test_every_format_from_every_source_scores_the_same(paths, tmp_path, capsys):
    from receipt_lightning.cli import main

    truth = tmp_path / "truth"
    truth.mkdir()
    for r in held_out_receipts(12):
        (truth / f"{r.id}.json").write_text(json.dumps(r.fields))
    outputs = {
        "files": (["--checkpoint", str(paths["run"])], tmp_path / "files"),
        "json": (["--model", str(paths["export"]), "--backend", "torch"], tmp_path / "p.json"),
        "jsonl": (
            ["--model", str(paths["export"]), "--backend", "onnx", "--threads", "1"],
            tmp_path / "p.jsonl",
        ),
    }
    scores = {}
    for fmt, (source, out) in outputs.items():
        assert predict(*source, "--input", str(paths["receipts"]), "--output", str(out), "--format", fmt) == 0
        capsys.readouterr()
        assert main(["evaluate", "--predictions", str(out), "--ground-truth", str(truth), "--json"]) == 0
        scores[fmt] = json.loads(capsys.readouterr().out)
    assert scores["files"] == scores["json"] == scores["jsonl"]
    assert scores["files"]["n_receipts"] == 12
    # The per-receipt files keep SROIE's key shape: field -> string only.
    for path in (tmp_path / "files").glob("*.json"):
        assert all(isinstance(v, str) for v in json.loads(path.read_text()).values())


def test_bad_requests_are_one_line_errors(paths, capsys):
    assert predict("--checkpoint", str(paths["run"]), "--input", str(paths["receipts"]), "--output", "-") == 1
    assert "needs --format json or jsonl" in capsys.readouterr().err
    assert predict("--checkpoint", str(paths["run"]), "--backend", "onnx", "--input", str(paths["receipts"]),
                   "--output", "-", "--format", "json") == 1  # fmt: skip
    assert "ONNX needs an exported directory" in capsys.readouterr().err
    assert predict("--model", str(paths["export"]), "--device", "tpu", "--input", str(paths["receipts"]),
                   "--output", "-", "--format", "json") == 1  # fmt: skip
    assert "--device must be one of" in capsys.readouterr().err


def test_device_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused_there():
    import torch

    from receipt_lightning.errors import InputError
    from receipt_lightning.predict import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(InputError, match="no CUDA device"):
        resolve_device("cuda")
