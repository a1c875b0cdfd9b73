"""`trainer=auto`: the device and the precision it runs natively, chosen from injected facts."""

from __future__ import annotations

import logging

import pytest

from receipt_lightning.configs import compose
from receipt_lightning.errors import FatalError
from receipt_lightning.jobs.admission import admit
from receipt_lightning.jobs.messages import JobMessage
from receipt_lightning.jobs.submit import with_default_trainer
from receipt_lightning.training.precision import DeviceFacts, choose_device, resolve_auto_trainer

PLAIN_CPU = frozenset({"fpu", "avx2", "avx512f"})
BF16_CPU = PLAIN_CPU | {"avx512_bf16"}


@pytest.mark.parametrize(
    ("facts", "accelerator", "precision"),
    [
        (DeviceFacts(((8, 0),), "NVIDIA A100", PLAIN_CPU), "gpu", "bf16-mixed"),
        (DeviceFacts(((9, 0),), "NVIDIA H100", BF16_CPU), "gpu", "bf16-mixed"),
        (DeviceFacts(((8, 6),), "NVIDIA A10G", PLAIN_CPU), "gpu", "bf16-mixed"),
        (DeviceFacts(((7, 5),), "Tesla T4", BF16_CPU), "gpu", "16-mixed"),  # g4dn
        (DeviceFacts(((7, 0),), "Tesla V100", PLAIN_CPU), "gpu", "16-mixed"),  # p3
        (DeviceFacts(((6, 0),), "Tesla P100", PLAIN_CPU), "gpu", "32-true"),
        (DeviceFacts(((8, 0), (7, 0)), "mixed", PLAIN_CPU), "gpu", "16-mixed"),  # the oldest decides
        (DeviceFacts((), None, BF16_CPU), "cpu", "bf16-mixed"),
        (DeviceFacts((), None, PLAIN_CPU | {"amx_bf16"}), "cpu", "bf16-mixed"),
        (DeviceFacts((), None, PLAIN_CPU), "cpu", "32-true"),
        (DeviceFacts((), None, None), "cpu", "32-true"),  # no /proc/cpuinfo: fp32
    ],
)
def test_choice_per_machine(facts, accelerator, precision):
    choice = choose_device(facts)
    assert (choice.accelerator, choice.precision) == (accelerator, precision)
    assert choice.reason


def test_auto_keys_resolved_once_and_logged_explicit_ones_kept(caplog):
    t4 = DeviceFacts(((7, 5),), "Tesla T4", PLAIN_CPU)
    auto = compose(["trainer=auto"], hydra_config=False).trainer
    from omegaconf import OmegaConf

    trainer = OmegaConf.to_container(auto, resolve=True)
    assert (trainer["accelerator"], trainer["precision"]) == ("auto", "auto")
    with caplog.at_level(logging.INFO, logger="receipt_lightning.training.precision"):
        out = resolve_auto_trainer(trainer, t4)
    assert (out["accelerator"], out["precision"], out["deterministic"]) == ("gpu", "16-mixed", False)
    assert caplog.text.count("trainer=auto") == 1 and "Tesla T4" in caplog.text
    # An explicit precision stays; so does an explicit CPU (the GPU is then not considered).
    kept = resolve_auto_trainer({**trainer, "precision": "32-true"}, t4)
    assert (kept["accelerator"], kept["precision"]) == ("gpu", "32-true")
    cpu = resolve_auto_trainer({**trainer, "accelerator": "cpu"}, DeviceFacts(((8, 0),), "A100", BF16_CPU))
    assert (cpu["accelerator"], cpu["precision"], cpu["deterministic"]) == ("cpu", "bf16-mixed", True)
    # Any other trainer passes through untouched, without a log line.
    caplog.clear()
    plain = OmegaConf.to_container(compose(["trainer=gpu"], hydra_config=False).trainer, resolve=True)
    assert resolve_auto_trainer(plain, t4) == plain and not caplog.text
    with pytest.raises(FatalError, match="accelerator"):
        resolve_auto_trainer({**trainer, "accelerator": "tpu"}, t4)


def test_queued_jobs_default_to_auto_unless_they_name_a_trainer(tmp_path):
    args = admit(JobMessage(job_id="j", overrides=with_default_trainer(["experiment=smoke"])), tmp_path)
    assert args[0] == "trainer=auto"
    cfg = compose(args, hydra_config=False)  # the command-line choice wins over the experiment's trainer
    assert cfg.trainer.precision == "auto"
    named = with_default_trainer(["experiment=smoke", "trainer=cpu"])
    assert named == ["experiment=smoke", "trainer=cpu"]
    assert compose(admit(JobMessage(job_id="j", overrides=named), tmp_path), hydra_config=False).trainer.precision == "32-true"
