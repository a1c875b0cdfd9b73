"""Whether this CPU computes bf16 natively, read from ``/proc/cpuinfo`` (Linux): bf16 autocast
(``trainer=cpu_bf16``, the SROIE experiment) is 1.5-1.9x faster than fp32 where it is native and
slower than fp32 where it is emulated, so a run planned for 12 minutes could take over 20."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

# AVX512_BF16 (Intel Cooper Lake, AMD Zen 4 and newer) or AMX (Intel Sapphire Rapids and newer).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str] | None:
    """The first processor's feature flags; None where the file is absent or has none."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def warn_if_bf16_is_emulated(accelerator: str, precision: str, cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Log a warning (and return True) for bf16 on a CPU whose flags lack native bf16."""
    if accelerator != "cpu" or not str(precision).startswith("bf16"):
        return False
    flags = cpu_flags(cpuinfo)
    if flags is None or flags & NATIVE_BF16_FLAGS:
        return False
    log.warning(
        "trainer precision %s on a CPU without native bf16 (no %s in %s): bf16 is emulated and "
        "slower than fp32; use trainer=cpu (for SROIE: trainer=cpu model.ensemble_size=1)",
        precision,
        " or ".join(sorted(NATIVE_BF16_FLAGS)),
        cpuinfo,
    )
    return True
