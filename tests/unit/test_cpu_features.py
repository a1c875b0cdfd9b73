"""bf16 on a CPU that only emulates it is slower than fp32: training says so before it starts."""

from __future__ import annotations

import logging

from receipt_lightning.training.precision import cpu_flags, warn_if_bf16_is_emulated

CPUINFO = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 {extra}\n\nprocessor\t: 1\n"


def test_emulated_bf16_is_named_with_the_fp32_fallback(tmp_path, caplog):
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text(CPUINFO.format(extra="avx512f"))
    new.write_text(CPUINFO.format(extra="avx512f avx512_bf16"))
    assert cpu_flags(old) == {"fpu", "sse2", "avx2", "avx512f"}
    with caplog.at_level(logging.WARNING):
        assert warn_if_bf16_is_emulated("cpu", "bf16-mixed", old)
    assert "trainer=cpu" in caplog.text and "avx512_bf16" in caplog.text
    caplog.clear()
    assert not warn_if_bf16_is_emulated("cpu", "bf16-mixed", new)
    assert not warn_if_bf16_is_emulated("cpu", "32-true", old)
    assert not warn_if_bf16_is_emulated("gpu", "bf16-mixed", old)
    # No /proc/cpuinfo (macOS) or no flags line: unknown, so no warning.
    assert cpu_flags(tmp_path / "missing") is None
    assert not warn_if_bf16_is_emulated("cpu", "bf16-mixed", tmp_path / "missing")
    assert not caplog.text
