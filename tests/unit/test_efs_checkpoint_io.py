"""EFSCheckpointIO and resume discovery: atomic verified saves, weights_only loads, retention,
async errors, SIGKILL during saves, corrupt/partial fallback, config validation, work lost."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import signal
import time
from collections import OrderedDict

import numpy as np
import pytest
import torch
from lightning.fabric.utilities.data import AttributeDict
from omegaconf import OmegaConf

from receipt_lightning.errors import FatalError, InputError
from receipt_lightning.runs import checkpoint_name as step_file_name
from receipt_lightning.training.checkpointing.builder import (
    build_checkpointing,
    find_resume_checkpoint,
    resume_info,
)
from receipt_lightning.training.checkpointing.efs_checkpoint_io import CheckpointCorruptError, EFSCheckpointIO
from receipt_lightning.training.checkpointing.files import (
    read_sidecar,
    save_verified,
    write_sidecar,
)
from receipt_lightning.training.checkpointing.progress import Attempt


def state(step: int, size: int = 64) -> dict:
    return {"global_step": step, "state_dict": OrderedDict(w=torch.full((size,), float(step)))}


def save(io: EFSCheckpointIO, d, step: int, size: int = 64) -> str:
    path = os.path.join(d, step_file_name(step))
    io.save_checkpoint(state(step, size), path)
    return path


def ckpt_names(d) -> list[str]:
    return sorted(os.listdir(d))


def test_save_is_verified_and_loads_with_weights_only(tmp_path):
    io = EFSCheckpointIO(keep_last_k=2)
    path = save(io, tmp_path, 5)
    assert ckpt_names(tmp_path) == ["step-00000005.ckpt", "step-00000005.ckpt.sha256"]
    loaded = io.load_checkpoint(path)
    assert loaded["global_step"] == 5 and torch.equal(loaded["state_dict"]["w"], torch.full((64,), 5.0))


def test_lightning_and_hydra_types_become_weights_only_safe(tmp_path):
    io = EFSCheckpointIO()
    ckpt = {
        "hyper_parameters": AttributeDict(cfg=OmegaConf.create({"lr": 0.1, "x": "${lr}", "l": [1, 2]})),
        "np": {"arr": np.arange(3, dtype=np.uint32), "f": np.float64(0.5), "b": np.bool_(True)},
        "param": torch.nn.Parameter(torch.ones(2)),
        "misc": (1, {2, 3}, b"x", None, torch.float16, torch.device("cpu")),
    }
    path = os.path.join(tmp_path, step_file_name(1))
    io.save_checkpoint(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["hyper_parameters"] == {"cfg": {"lr": 0.1, "x": 0.1, "l": [1, 2]}}
    assert (
        loaded["np"]["arr"].tolist() == [0, 1, 2] and loaded["np"]["f"] == 0.5 and loaded["np"]["b"] is True
    )
    assert type(loaded["param"]) is torch.Tensor


def test_unsafe_value_is_refused_at_save_naming_the_key(tmp_path):
    class Opaque:
        pass

    with pytest.raises(FatalError, match=r"checkpoint\['hyper_parameters'\]\['model'\].*Opaque"):
        EFSCheckpointIO().save_checkpoint(
            {"hyper_parameters": {"model": Opaque()}}, str(tmp_path / "step-00000001.ckpt")
        )
    assert not list(tmp_path.iterdir())


class _Marker:
    """Unpickling this would create a marker file: a stand-in for arbitrary code execution."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("format", ["torch_zip", "legacy_pickle"])
def test_malicious_pickle_is_refused_not_executed(tmp_path, format):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "step-00000009.ckpt")
    payload = {"state_dict": {}, "evil": _Marker(str(marker))}
    # The attacker controls the directory, so the sidecar matches: the hash check passes and
    # weights_only must be what refuses it.
    save_verified(
        path, lambda f: torch.save(payload, f, _use_new_zipfile_serialization=(format == "torch_zip"))
    )
    assert not marker.exists()
    with pytest.raises(CheckpointCorruptError, match="step-00000009.ckpt.*weights_only"):
        EFSCheckpointIO().load_checkpoint(path, weights_only=False)
    assert not marker.exists()


def test_flipped_byte_falls_back_to_previous_with_a_warning(tmp_path, caplog):
    io = EFSCheckpointIO(keep_last_k=3)
    older = save(io, tmp_path, 10)
    newest = save(io, tmp_path, 20)
    with open(newest, "r+b") as f:
        f.seek(os.path.getsize(newest) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))
    with caplog.at_level(logging.WARNING):
        assert find_resume_checkpoint(str(tmp_path)) == older
    assert "step-00000020.ckpt" in caplog.text
    with pytest.raises(CheckpointCorruptError, match="step-00000020.ckpt"):
        io.load_checkpoint(newest)


def test_partial_save_without_sidecar_is_skipped(tmp_path, caplog):
    io = EFSCheckpointIO()
    older = save(io, tmp_path, 1)
    partial = save(io, tmp_path, 2)
    os.unlink(partial + ".sha256")  # killed between the rename and the sidecar
    with caplog.at_level(logging.WARNING):
        assert find_resume_checkpoint(str(tmp_path)) == older
    assert "step-00000002.ckpt" in caplog.text and "partial" in caplog.text
    assert find_resume_checkpoint(str(tmp_path / "missing")) is None


def test_overwriting_a_path_keeps_it_valid_at_every_point(tmp_path, monkeypatch):
    io = EFSCheckpointIO()
    path = save(io, tmp_path, 3)
    old_bytes = open(path, "rb").read()

    real_replace = os.replace

    def crash(src, dst):  # die right before the checkpoint's rename, after its sidecar lists both hashes
        if dst == path:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint(state(3, size=128), path)
    monkeypatch.undo()
    assert open(path, "rb").read() == old_bytes and len(read_sidecar(path)) == 2
    assert find_resume_checkpoint(str(tmp_path)) == path
    assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")] == []
    io.save_checkpoint(state(3, size=128), path)
    assert len(read_sidecar(path)) == 1 and io.load_checkpoint(path)["state_dict"]["w"].numel() == 128


def test_retention_keeps_last_k_and_best_and_removes_sidecars(tmp_path):
    best = {"path": ""}
    io = EFSCheckpointIO(keep_last_k=2, protected=lambda: [best["path"]])
    for step in range(1, 7):
        path = save(io, tmp_path, step)
        if step == 2:
            best["path"] = path
    names = ckpt_names(tmp_path)
    assert names == [f"step-0000000{s}.ckpt{x}" for s in (2, 5, 6) for x in ("", ".sha256")]
    io.remove_checkpoint(os.path.join(tmp_path, "step-00000006.ckpt"))  # newest: refused
    io.remove_checkpoint(best["path"])  # still protected: refused
    assert ckpt_names(tmp_path) == names
    best["path"] = ""
    io.remove_checkpoint(os.path.join(tmp_path, "step-00000002.ckpt"))  # no longer best
    assert "step-00000002.ckpt" not in ckpt_names(tmp_path) and "step-00000002.ckpt.sha256" not in ckpt_names(
        tmp_path
    )


def test_retention_never_counts_a_corrupt_newer_file_against_the_last_valid(tmp_path):
    io = EFSCheckpointIO(keep_last_k=1)
    save(io, tmp_path, 1)
    (tmp_path / "step-00000009.ckpt").write_bytes(b"partial")  # no sidecar: another writer died
    kept = save(io, tmp_path, 2)
    assert find_resume_checkpoint(str(tmp_path)) == kept
    assert "step-00000009.ckpt" in ckpt_names(tmp_path)  # newer than anything kept: not ours to delete


def test_async_save_is_durable_after_drain_and_errors_surface(tmp_path):
    io = EFSCheckpointIO(async_save=True)
    live = state(4)
    path = os.path.join(tmp_path, step_file_name(4))
    io.save_checkpoint(live, path)
    live["state_dict"]["w"].add_(100)  # training goes on mutating the tensors
    io.drain()
    assert not io.save_in_flight
    assert torch.equal(io.load_checkpoint(path)["state_dict"]["w"], torch.full((64,), 4.0))

    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    io.save_checkpoint(state(5), str(blocker / "step-00000005.ckpt"))  # fails in the background
    with pytest.raises(OSError):
        io.save_checkpoint(state(6), os.path.join(tmp_path, step_file_name(6)))  # ...raised here
    io.save_checkpoint(state(5), str(blocker / "step-00000005.ckpt"))
    with pytest.raises(OSError):
        io.teardown()  # ...or at teardown, which drains first
    assert io._executor is None


def _save_forever(ckpt_dir: str, use_async: bool, seed: int) -> None:
    io = EFSCheckpointIO(keep_last_k=2, async_save=use_async)
    rng = random.Random(seed)
    step = 0
    while True:
        step += 1
        io.save_checkpoint(
            state(step, size=rng.randint(50_000, 400_000)), os.path.join(ckpt_dir, step_file_name(step))
        )


def test_sigkill_during_saves_never_leaves_a_loadable_looking_bad_checkpoint(tmp_path):
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(1234)
    returned = interrupted = 0
    for i in range(20):
        ckpt_dir = tmp_path / f"run{i}"
        ckpt_dir.mkdir()
        proc = ctx.Process(target=_save_forever, args=(str(ckpt_dir), i % 2 == 1, i), daemon=True)
        proc.start()
        time.sleep(rng.uniform(0.0, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        names = os.listdir(ckpt_dir)
        # a temporary file, or a checkpoint without its sidecar: the kill landed inside a save
        interrupted += any(
            n.startswith(".tmp-") or (n.endswith(".ckpt") and n + ".sha256" not in names) for n in names
        )
        found = find_resume_checkpoint(str(ckpt_dir))
        if found is None:
            continue
        returned += 1
        loaded = EFSCheckpointIO().load_checkpoint(found)
        step = loaded["global_step"]
        assert found.endswith(step_file_name(step))
        assert torch.equal(loaded["state_dict"]["w"], torch.full_like(loaded["state_dict"]["w"], float(step)))
    assert returned >= 5  # most kills land after at least one durable save
    assert interrupted >= 3  # and many inside a save: the test is not vacuous


def test_build_checkpointing_validates_config_and_cleans_temp_files(tmp_path):
    ckpt_dir = tmp_path / "checkpoints"
    ckpt_dir.mkdir()
    (ckpt_dir / ".tmp-step-00000003.ckpt.123.abcd").write_bytes(b"half")
    io, callbacks = build_checkpointing(
        {"keep_last_k": 2, "monitor": "val/f1"}, str(ckpt_dir), attempt=Attempt.start()
    )
    assert os.listdir(ckpt_dir) == []
    assert io.keep_last_k == 2
    names = [type(c).__name__ for c in callbacks]
    assert names == [
        "ResumeFixes",
        "RNGStateCallback",
        "CadenceCheckpoint",
        "ModelCheckpoint",
        "ProgressRecorder",
    ]
    with pytest.raises(InputError, match="every_n_steps"):
        build_checkpointing({"every_n_steps": 5}, str(ckpt_dir), attempt=Attempt.start())
    with pytest.raises(InputError, match="checkpoint.keep_last_k"):
        build_checkpointing({"keep_last_k": 0}, str(ckpt_dir), attempt=Attempt.start())
    with pytest.raises(InputError, match="nothing would bound"):
        build_checkpointing(
            {"every_n_train_steps": 0, "every_n_minutes": None}, str(ckpt_dir), attempt=Attempt.start()
        )


def test_resume_info_accounts_the_work_lost(tmp_path):
    ckpt_dir = tmp_path / "checkpoints"
    io = EFSCheckpointIO()
    path = save(io, ckpt_dir, 100)
    saved = os.path.getmtime(path)
    progress = {"global_step": 130, "time_unix": saved + 42.0, "attempt_started_unix": saved - 500}
    (tmp_path / "progress.json").write_text(json.dumps(progress))
    attempt = Attempt(id="new", started_unix=saved + 100.0)
    info = resume_info(str(tmp_path), path, attempt)
    assert info["checkpoint_step"] == 100 and info["steps_lost"] == 30
    assert info["seconds_lost"] == pytest.approx(42.0, abs=0.01)
    assert info["downtime_s"] == pytest.approx(58.0, abs=0.01)  # last progress to this attempt's start
    fresh = resume_info(str(tmp_path / "elsewhere"), None, attempt)
    assert fresh["resumed"] is False and fresh["steps_lost"] is None


def test_sidecar_lists_sha256sum_compatible_lines(tmp_path):
    path = str(tmp_path / "step-00000001.ckpt")
    write_sidecar(path, ["ab" * 32])
    assert open(path + ".sha256").read() == f"{'ab' * 32}  step-00000001.ckpt\n"


def _fit_boring(tmp_path, ckpt_cfg: dict, max_steps: int) -> list[str]:
    import lightning.pytorch as pl
    from lightning.pytorch.demos.boring_classes import BoringModel

    ckpt_dir = str(tmp_path / "checkpoints")
    io, callbacks = build_checkpointing(
        {"keep_last_k": 50, "monitor": None, **ckpt_cfg}, ckpt_dir, attempt=Attempt.start()
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        limit_val_batches=0,
        plugins=[io],
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(BoringModel())
    return sorted(n for n in os.listdir(ckpt_dir) if n.endswith(".ckpt"))


def test_cadence_saves_by_steps(tmp_path):
    assert _fit_boring(tmp_path, {"every_n_train_steps": 2, "every_n_minutes": None}, 7) == [
        f"step-0000000{s}.ckpt" for s in (2, 4, 6)
    ]
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["global_step"] == 7 and progress["finished"] is True


def test_cadence_saves_by_minutes_as_well(tmp_path):
    # a step trigger that never fires and a time trigger (1e-6 min = 60 us) that always does
    names = _fit_boring(tmp_path, {"every_n_train_steps": 1000, "every_n_minutes": 1e-6}, 4)
    assert names == [f"step-0000000{s}.ckpt" for s in (1, 2, 3, 4)]


def test_resume_info_reads_the_previous_attempt_even_after_this_one_recorded(tmp_path):
    from types import SimpleNamespace

    from receipt_lightning.training.checkpointing.progress import ProgressRecorder

    path = save(EFSCheckpointIO(), tmp_path / "checkpoints", 10)
    previous = {"attempt_id": "old", "global_step": 14, "time_unix": os.path.getmtime(path) + 5.0}
    (tmp_path / "progress.json").write_text(json.dumps(previous))
    attempt = Attempt.start()
    recorder = ProgressRecorder(str(tmp_path), every_n_steps=1, attempt=attempt)
    trainer = SimpleNamespace(is_global_zero=True, global_step=12, current_epoch=0)
    recorder.on_train_batch_end(trainer, None, None, None, 0)  # this attempt records its own progress
    recorded = json.loads((tmp_path / "progress.json").read_text())
    assert recorded["global_step"] == 12 and recorded["attempt_id"] == attempt.id
    assert recorded["attempt_started_unix"] == attempt.started_unix
    info = resume_info(str(tmp_path), path, attempt)
    assert info["previous_progress_step"] == 14 and info["steps_lost"] == 4
