"""The throughput benchmark: its arithmetic, its plan, the HF collator's bbox padding, and a smoke
of both sides (tiny model, synthetic receipts, a few steps; no SROIE needed)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from benchmarks.trainer_compare.options import add_arguments, parse_variant
from benchmarks.trainer_compare.stats import (
    gpu_peak_tflops,
    median_figures,
    model_flops_utilisation,
    ratio,
    run_figures,
)
from receipt_lightning.errors import InputError


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_run_figures_leave_out_warmup_and_count_real_tokens():
    # 4 steps ending at t = 1, 2, 4, 6 s; warmup 1 -> steps 2..4 over 5 s.
    ends = [1.0, 2.0, 4.0, 6.0]
    batches = [{"samples": 8, "tokens": 800, "padded": 1000}] + [
        {"samples": 4, "tokens": 300, "padded": 400}
    ] * 3
    f = run_figures(ends, batches, warmup=1, mean_window_tokens=100.0, cpu_ends=[2.0, 4.0, 8.0, 12.0])
    assert f["samples_per_s"] == pytest.approx(12 / 5)
    assert f["tokens_per_s"] == pytest.approx(900 / 5)
    assert f["epoch_samples_per_s"] == pytest.approx(900 / 5 / 100)
    assert f["median_step_s"] == pytest.approx(2.0)  # intervals 1, 2, 2
    assert f["padding_fraction"] == pytest.approx(0.25)
    assert f["timed_steps"] == 3
    assert f["samples_per_cpu_s"] == pytest.approx(900 / 10 / 100)  # 10 CPU-s for 900 tokens


def test_run_figures_need_enough_steps_and_batches():
    one = {"samples": 1, "tokens": 1, "padded": 1}
    with pytest.raises(ValueError, match="warmup"):
        run_figures([1.0, 2.0], [one] * 2, warmup=1, mean_window_tokens=1)
    with pytest.raises(ValueError, match="warmup must be >= 1"):
        run_figures([1.0, 2.0, 3.0], [one] * 3, warmup=0, mean_window_tokens=1)
    with pytest.raises(ValueError, match="batches"):
        run_figures([1.0, 2.0, 3.0], [], warmup=1, mean_window_tokens=1)


def test_mfu_is_six_params_tokens_over_peak():
    # 100M params, 10k tokens/s: 6e12 FLOP/s of a 60 TFLOP/s device = 10 %.
    assert model_flops_utilisation(100_000_000, 10_000, 60.0) == pytest.approx(0.10)
    with pytest.raises(ValueError):
        model_flops_utilisation(1, 1, 0)


def test_gpu_peak_table_prefers_the_specific_name():
    assert gpu_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert gpu_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert gpu_peak_tflops("NVIDIA A10G") == 70.0
    assert gpu_peak_tflops("NVIDIA A100-SXM4-40GB") == 312.0
    assert gpu_peak_tflops("Some Future GPU") is None


def test_median_figures_and_ratio():
    runs = [
        {"samples_per_s": s, "epoch_samples_per_s": s, "samples_per_cpu_s": s, "tokens_per_s": 10 * s, "median_step_s": 1 / s,
         "peak_rss_mib": 100.0, "padding_fraction": 0.1, "mfu": 0.2 * s}
        for s in (1.0, 3.0, 2.0)
    ]  # fmt: skip
    m = median_figures(runs)
    assert m["samples_per_s"] == 2.0 and m["tokens_per_s"] == 20.0 and m["repeats"] == 3
    assert m["samples_per_cpu_s"] == 2.0
    assert m["mfu"] == pytest.approx(0.4)
    assert ratio(2.6, 2.0) == pytest.approx(1.3)


def test_variants_combine_and_reject_typos():
    overrides, switches = parse_variant("bf16+nondet+threads1")
    assert overrides == ["trainer.precision=bf16-mixed", "deterministic=false"]
    assert switches == {"threads": 1}
    assert parse_variant("ours") == ([], {})
    with pytest.raises(ValueError, match="bf61"):
        parse_variant("bf61")


def test_plan_alternates_sides_over_repeats():
    from benchmarks.trainer_compare.runner import plan

    runs = plan(["ours", "bf16"], repeats=2)
    assert [(r, v) for r, _, v in runs] == [
        (0, "hf-trainer"), (0, "ours"), (0, "bf16"), (1, "bf16"), (1, "ours"), (1, "hf-trainer"),
    ]  # fmt: skip


def test_missing_sroie_is_a_clear_error(tmp_path):
    from benchmarks.trainer_compare.runner import common_overrides

    with pytest.raises(InputError, match="SROIE receipts not found"):
        common_overrides(parse("--root", str(tmp_path / "nope")))
    assert "data=synthetic" in common_overrides(parse("--data", "synthetic"))


def test_command_module_stays_free_of_torch():
    code = (
        "import sys, argparse; from benchmarks.trainer_compare.options import add_arguments; "
        "add_arguments(argparse.ArgumentParser()); "
        "assert not {'torch', 'transformers', 'lightning'} & set(sys.modules), 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hf_collator_pads_boxes_like_tokens():
    from benchmarks.trainer_compare.hf_collator import LayoutTokenCollator
    from receipt_lightning.model.backbone import MINILM, load_tokenizer

    collator = LayoutTokenCollator(load_tokenizer(MINILM))
    batch = collator(
        [
            {
                "input_ids": [101, 7, 102],
                "bbox": [[0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]],
                "labels": [-100, 1, -100],
            },
            {"input_ids": [101, 102], "bbox": [[0, 0, 0, 0], [0, 0, 0, 0]], "labels": [-100, -100]},
        ]
    )
    assert batch["bbox"].shape == (2, 3, 4)
    assert batch["bbox"][0, 1].tolist() == [1, 2, 3, 4]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"][1].tolist() == [-100, -100, -100]
    assert collator.records == [{"samples": 2, "tokens": 5, "padded": 6}]


def smoke_spec(side: str) -> dict:
    from benchmarks.trainer_compare.runner import common_overrides, side_spec

    args = parse("--data", "synthetic", "--model", "layoutlm_tiny", "--n-train", "12", "--n-val", "4",
                 "--steps", "4", "--warmup", "1", "--batch-size", "4", "--threads", "1")  # fmt: skip
    return side_spec(args, 0, side, "ours" if side == "ours" else "hf-trainer", common_overrides(args))


def test_both_sides_train_the_same_model_in_process():
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate (pip install accelerate)")
    from benchmarks.trainer_compare.worker import run_side

    ours, hf = run_side(smoke_spec("ours")), run_side(smoke_spec("hf"))
    assert ours["init_weights"] == hf["init_weights"]
    assert ours["n_params"] == hf["n_params"]
    for r in (ours, hf):
        assert r["steps_run"] == 4 and r["timed_steps"] == 3
        assert r["samples_per_s"] > 0 and r["tokens_per_s"] > 0 and r["peak_rss_mib"] > 0
        assert r["threads"] == 1 and r["mfu"] is None  # no GPU, no --peak-tflops
    assert ours["group_by_length"] and not hf["group_by_length"]


@pytest.mark.slow
def test_runner_end_to_end_in_subprocesses(tmp_path, capsys):
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate (pip install accelerate)")
    import json

    from benchmarks.trainer_compare.runner import run

    out = tmp_path / "bench.json"
    args = parse("--data", "synthetic", "--model", "layoutlm_tiny", "--n-train", "12", "--n-val", "4",
                 "--steps", "4", "--warmup", "1", "--batch-size", "4", "--threads", "1", "--repeats", "1",
                 "--json", str(out))  # fmt: skip
    assert run(args) == 0
    text = capsys.readouterr().out
    assert (
        "hf-trainer" in text
        and "ours" in text
        and "same initial weights on both sides in every repeat: yes" in text
    )
    assert set(json.loads(out.read_text())["runs"]) == {"hf-trainer", "ours"}
