"""Export: plain transformers (and ONNX Runtime) reproduce the checkpoint's logits and the
decoded fields; run directories resolve to their best, else last, checkpoint; the model card
says what the run recorded; S3 upload; warm starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from receipt_lightning.errors import FatalError, InputError
from tests.support.tiny_run import held_out_receipts, tiny_export, tiny_run

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny"


@pytest.fixture(scope="module")
def run_dir(root) -> Path:
    root.mkdir(exist_ok=True)
    return tiny_run(root)


@pytest.fixture(scope="module")
def export_dir(root, run_dir) -> Path:
    return tiny_export(root)


def real_batch(predictor, receipts):
    """Collated windows of real receipts (padding included), as predict feeds the model."""
    from receipt_lightning.data.encoding import collate_windows, encode_receipt

    windows = [
        w for i, r in enumerate(receipts) for w in encode_receipt(r, i, predictor.tokenizer, None, 512, 128)
    ]
    batch = collate_windows(windows, predictor.tokenizer.pad_token_id)
    return {k: batch[k] for k in ("input_ids", "bbox", "attention_mask")}


# ---------------------------------------------------------------- run directory -> checkpoint
def _summary(run: Path, **fields) -> None:
    (run / "summary.json").write_text(json.dumps(fields))


def test_a_run_directory_stands_for_its_best_else_last_checkpoint(tmp_path):
    from receipt_lightning.run_checkpoint import resolve_checkpoint

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    best, last = run / "checkpoints" / "step-2.ckpt", run / "checkpoints" / "step-4.ckpt"
    best.write_bytes(b"x")
    last.write_bytes(b"x")
    _summary(run, best_checkpoint=str(best), last_checkpoint=str(last))
    assert resolve_checkpoint(run) == best
    assert resolve_checkpoint(last) == last  # a file is itself
    _summary(run, best_checkpoint=None, last_checkpoint=str(last))
    assert resolve_checkpoint(run) == last
    # Written on another machine (an EFS mount elsewhere): the same name under checkpoints/.
    _summary(run, best_checkpoint="/mnt/efs/runs/x/checkpoints/step-2.ckpt", last_checkpoint=None)
    assert resolve_checkpoint(run) == best
    _summary(run, best_checkpoint="/nowhere/a.ckpt", last_checkpoint="/nowhere/b.ckpt")
    with pytest.raises(InputError, match="names no checkpoint that exists"):
        resolve_checkpoint(run)
    (run / "summary.json").unlink()
    with pytest.raises(InputError, match="without summary.json"):
        resolve_checkpoint(run)
    with pytest.raises(InputError, match="no such checkpoint"):
        resolve_checkpoint(tmp_path / "missing")


# ---------------------------------------------------------------- Hugging Face parity
def test_plain_transformers_loads_each_member_and_reproduces_the_checkpoint(run_dir, export_dir):
    from transformers import AutoModelForTokenClassification, LayoutLMForTokenClassification

    from receipt_lightning.export.checkpoint import build_classifier, read_checkpoint
    from receipt_lightning.model.ensemble import average_log_probs
    from receipt_lightning.predict import load_predictor

    contents = read_checkpoint(run_dir)
    assert contents.ensemble_size == 2
    checkpoint_model = build_classifier(contents)
    predictor = load_predictor(run_dir)
    inputs = real_batch(predictor, held_out_receipts(6))
    member_logits = []
    for index, member in enumerate(checkpoint_model.members):
        loaded = AutoModelForTokenClassification.from_pretrained(export_dir / f"member-{index}").eval()
        assert isinstance(loaded, LayoutLMForTokenClassification)
        assert loaded.config.id2label == dict(enumerate(contents.label_list))
        assert loaded.config.label2id == {lab: i for i, lab in enumerate(contents.label_list)}
        with torch.no_grad():
            got, want = loaded(**inputs).logits, member.eval()(**inputs).logits
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
        member_logits.append(got)
    with torch.no_grad():
        torch.testing.assert_close(average_log_probs(member_logits), checkpoint_model(**inputs).logits)
    # The tokenizer travels with each member.
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(export_dir / "member-1").vocab == predictor.tokenizer.vocab


def test_the_exported_json_files_hold_ensemble_decoding_and_lexicon(run_dir, export_dir):
    from receipt_lightning.export.checkpoint import read_checkpoint

    contents = read_checkpoint(run_dir)
    ensemble = json.loads((export_dir / "ensemble.json").read_text())
    assert ensemble["members"] == ["member-0", "member-1"] and ensemble["combine"] == "mean_probabilities"
    assert ensemble["onnx"] == ["member-0/model.onnx", "member-1/model.onnx"]
    assert ensemble["source"]["run_id"] == "tiny"
    decoding = json.loads((export_dir / "decoding.json").read_text())
    assert decoding["label_list"] == contents.label_list
    assert (decoding["max_length"], decoding["stride"]) == (contents.max_length, contents.stride)
    assert decoding["rules"]["fallback_min_prob"] == pytest.approx(0.01)
    assert json.loads((export_dir / "lexicon.json").read_text()) == contents.lexicon
    assert (export_dir / "member-0" / "model.safetensors").is_file()


# ---------------------------------------------------------------- ONNX parity
def test_onnx_runtime_reproduces_pytorch_at_other_batch_sizes_and_lengths(export_dir):
    from transformers import LayoutLMForTokenClassification

    from receipt_lightning.export.onnx_export import onnx_session
    from receipt_lightning.predict import load_predictor

    predictor = load_predictor(export_dir, backend="torch")
    for n in (1, 5):  # batch sizes and padded lengths the graph was not traced with
        inputs = real_batch(predictor, held_out_receipts(n, seed=7 + n))
        for index in range(2):
            member = LayoutLMForTokenClassification.from_pretrained(export_dir / f"member-{index}").eval()
            with torch.no_grad():
                want = member(**inputs).logits.numpy()
            session = onnx_session(export_dir / f"member-{index}" / "model.onnx", threads=1)
            got = session.run(["logits"], {k: v.numpy() for k, v in inputs.items()})[0]
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-4)


def test_checkpoint_export_and_onnx_decode_the_same_fields(run_dir, export_dir):
    from receipt_lightning.export.onnx_runtime import OnnxTokenClassifier
    from receipt_lightning.predict import load_predictor

    receipts = held_out_receipts(12)
    predictors = {
        "checkpoint": load_predictor(run_dir),
        "export": load_predictor(export_dir, backend="torch"),
        "onnx": load_predictor(export_dir),  # auto: ONNX on the CPU when the export has it
    }
    assert isinstance(predictors["onnx"].model, OnnxTokenClassifier)
    records = {name: p.predict_records(receipts, batch_size=4) for name, p in predictors.items()}
    fields = {
        name: [{k: v for k, v in r.items() if k != "details"} for r in recs] for name, recs in records.items()
    }
    assert fields["checkpoint"] == fields["export"] == fields["onnx"]
    assert sum(len(f) - 1 for f in fields["checkpoint"]) > 0, "the tiny model decoded no field at all"
    for a, b in zip(records["checkpoint"], records["onnx"], strict=True):
        for field, detail in a["details"].items():
            assert detail["confidence"] == pytest.approx(b["details"][field]["confidence"], abs=1e-4)


# ---------------------------------------------------------------- model card, refusals
def test_the_model_card_states_data_split_command_metrics_use_and_limits(run_dir, export_dir):
    card = (export_dir / "README.md").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "python -m receipt_lightning.train +experiment=smoke run_id=tiny data.n_train=48" in card
    assert "48 for training and 8 for validation" in card
    assert f"| `val/field_f1` | {summary['metrics']['val/field_f1']:.4f} |" in card
    for heading in ("## Data and split", "## Training", "## Metrics", "## Intended use", "## Limits"):
        assert heading in card


def test_export_refuses_to_replace_what_it_did_not_write(run_dir, tmp_path):
    from receipt_lightning.export.writer import export_model

    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an empty directory"):
        export_model(run_dir, target)
    with pytest.raises(InputError, match="refusing to replace"):
        export_model(run_dir, target, overwrite=True)
    assert (target / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temporary directory left behind


def test_a_damaged_export_is_refused_with_the_file_named(export_dir, tmp_path):
    from receipt_lightning.predict import load_predictor

    copy = tmp_path / "copy"
    shutil.copytree(export_dir, copy)
    ensemble = json.loads((copy / "ensemble.json").read_text())
    ensemble["members"] = ["../../etc"]
    (copy / "ensemble.json").write_text(json.dumps(ensemble))
    with pytest.raises(InputError, match="ensemble.json.*relative path inside"):
        load_predictor(copy)


# ---------------------------------------------------------------- S3
def test_export_to_s3_uploads_the_checked_directory(aws, run_dir, capsys):
    from receipt_lightning.aws.session import client
    from receipt_lightning.cli import main

    client("s3").create_bucket(Bucket="models")
    assert main(["export", str(run_dir), "--to", "s3://models/receipts/v1"]) == 0
    keys = {o["Key"] for o in client("s3").list_objects_v2(Bucket="models")["Contents"]}
    assert {
        "receipts/v1/ensemble.json",
        "receipts/v1/member-1/model.safetensors",
        "receipts/v1/README.md",
    } <= keys
    assert main(["export", str(run_dir), "--to", "s3://no-such-bucket/x"]) == 1
    assert "s3://no-such-bucket: 404" in capsys.readouterr().err
    assert main(["export", str(run_dir), "--to", "s3://Bad_Bucket/x"]) == 1


# ---------------------------------------------------------------- warm start
def test_warm_start_from_an_export_or_a_run_loads_every_member(run_dir, export_dir):
    from receipt_lightning.export.checkpoint import read_checkpoint
    from receipt_lightning.model.ensemble import classifier_from_config
    from receipt_lightning.warm_start import warm_start

    contents = read_checkpoint(run_dir)
    for source in (export_dir, run_dir):
        fresh = classifier_from_config(contents.hf_config, 2)
        done = warm_start(fresh, source, contents.label_list)
        assert done["head"] is True
        for key, value in contents.state_dict.items():
            torch.testing.assert_close(fresh.state_dict()[key], value)
    # A single model from an ensemble: member 0.
    single = classifier_from_config(contents.hf_config, 1)
    warm_start(single, export_dir, contents.label_list)
    torch.testing.assert_close(
        single.state_dict()["classifier.weight"], contents.state_dict["members.0.classifier.weight"]
    )


def test_warm_start_with_new_labels_keeps_the_body_and_starts_a_fresh_head(run_dir, export_dir):
    from receipt_lightning.export.checkpoint import read_checkpoint
    from receipt_lightning.model.backbone import build_model
    from receipt_lightning.warm_start import warm_start

    contents = read_checkpoint(run_dir)
    labels = ["O", "B-total", "I-total"]
    sizes = {
        k: contents.hf_config[k]
        for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
    }
    model = build_model(labels, "random", **sizes)
    head_before = model.classifier.weight.detach().clone()
    assert warm_start(model, export_dir, labels)["head"] is False
    torch.testing.assert_close(model.classifier.weight, head_before)
    key = "layoutlm.encoder.layer.1.output.dense.weight"
    torch.testing.assert_close(model.state_dict()[key], contents.state_dict[f"members.0.{key}"])
    wider = build_model(labels, "random", **{**sizes, "intermediate_size": 96})
    with pytest.raises(FatalError, match="different architecture"):
        warm_start(wider, export_dir, labels)


@pytest.mark.slow
def test_a_new_run_starts_from_an_exported_directory(export_dir, tmp_path):
    """Through the real entry point: ``model.pretrained=DIR``; the run's first validation is
    the exported model's, not a random model's."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1", RL_SHARED_ROOT=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "receipt_lightning.train", "+experiment=smoke", "run_id=warm", "data.n_train=8",
         "data.n_val=8", "data.batch_size=8", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
         "model.ensemble_size=2", "logger=none", "model.learning_rate=0", f"model.pretrained={export_dir}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warm start" in proc.stdout + proc.stderr
    from receipt_lightning.export.checkpoint import read_checkpoint

    after = read_checkpoint(tmp_path / "runs" / "warm")
    before = read_checkpoint(Path(export_dir).parent / "runs" / "tiny")
    assert after.hyper_parameters["pretrained"] == str(export_dir)
    key = "members.1.layoutlm.encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(after.state_dict[key], before.state_dict[key])  # learning rate 0
