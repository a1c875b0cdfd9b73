"""Whether this CPU computes bf16 natively, read from ``/proc/cpuinfo`` (Linux): bf16 autocast
(``trainer=cpu_bf16``, the SROIE experiment) is 1.5-1.9x faster than fp32 where it is native and
slower than fp32 where it is emulated, so a run planned for 12 minutes could take over 20.
Also the choice behind ``trainer=auto``: the device and the precision it runs natively."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipt_lightning.errors import FatalError

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


# `trainer=auto` (conf/trainer/auto.yaml): accelerator and precision chosen for the machine.
AUTO = "auto"
# CUDA compute capability from which bf16 runs natively on tensor cores (Ampere: A100, A10G, L4...).
BF16_GPU_MAJOR = 8
# From here fp16 runs on tensor cores (Volta V100 7.0, Turing T4 7.5); bf16 there is emulated.
FP16_GPU_MAJOR = 7


@dataclass(frozen=True)
class DeviceFacts:
    """What the choice of ``trainer=auto`` depends on (injected in tests)."""

    gpu_capabilities: tuple[tuple[int, int], ...] = ()  # (major, minor) of each visible CUDA GPU; () = none
    gpu_name: str | None = None  # name of GPU 0, for the log line
    cpu_flags: frozenset[str] | None = None  # /proc/cpuinfo flags; None = unknown (not Linux)


@dataclass(frozen=True)
class DeviceChoice:
    """The accelerator and Lightning precision ``trainer=auto`` resolves to, and why."""

    accelerator: str  # "gpu" | "cpu"
    precision: str  # "bf16-mixed" | "16-mixed" | "32-true"
    reason: str  # one line for the log


def device_facts(cpuinfo: str | Path = "/proc/cpuinfo") -> DeviceFacts:
    """This machine's facts: CUDA GPUs through torch, CPU flags from ``cpuinfo``."""
    import torch

    caps: tuple[tuple[int, int], ...] = ()
    name = None
    if torch.cuda.is_available():
        caps = tuple(tuple(torch.cuda.get_device_capability(i)) for i in range(torch.cuda.device_count()))
        name = torch.cuda.get_device_name(0)
    flags = cpu_flags(cpuinfo)
    return DeviceFacts(caps, name, frozenset(flags) if flags is not None else None)


def choose_device(facts: DeviceFacts) -> DeviceChoice:
    """The GPU when there is one, in the precision it runs natively (bf16-mixed from compute
    capability 8.0, 16-mixed on 7.x such as T4 and V100, fp32 below); else the CPU, with bf16
    autocast where its flags show native bf16, fp32 elsewhere. Several GPUs of mixed kinds: the
    oldest decides (one precision for the whole run)."""
    if facts.gpu_capabilities:
        major, minor = min(facts.gpu_capabilities)
        what = f"GPU {facts.gpu_name or '0'} (compute capability {major}.{minor})"
        if major >= BF16_GPU_MAJOR:
            return DeviceChoice("gpu", "bf16-mixed", f"{what}: native bf16")
        if major >= FP16_GPU_MAJOR:
            return DeviceChoice("gpu", "16-mixed", f"{what}: fp16 tensor cores, bf16 would be emulated")
        return DeviceChoice("gpu", "32-true", f"{what}: no fp16/bf16 tensor cores")
    if facts.cpu_flags and facts.cpu_flags & NATIVE_BF16_FLAGS:
        found = " and ".join(sorted(facts.cpu_flags & NATIVE_BF16_FLAGS))
        return DeviceChoice("cpu", "bf16-mixed", f"no GPU; CPU with native bf16 ({found}): bf16 autocast")
    if facts.cpu_flags is None:
        return DeviceChoice("cpu", "32-true", "no GPU; CPU flags unknown: fp32")
    return DeviceChoice("cpu", "32-true", "no GPU; CPU without native bf16: fp32")


def resolve_auto_trainer(trainer: dict[str, Any], facts: DeviceFacts | None = None) -> dict[str, Any]:
    """``trainer`` with ``accelerator: auto`` / ``precision: auto`` replaced by the choice for this
    machine (logged once); explicit values stay. On a GPU, ``deterministic`` becomes False as with
    ``trainer=gpu`` (several CUDA kernels have no deterministic variant)."""
    if trainer.get("accelerator") != AUTO and trainer.get("precision") != AUTO:
        return trainer
    if trainer.get("accelerator") not in (AUTO, "cpu", "gpu", "cuda"):
        raise FatalError(
            f"trainer.precision=auto needs trainer.accelerator auto, cpu or gpu, got {trainer.get('accelerator')!r}"
        )
    facts = facts or device_facts()
    if trainer.get("accelerator") == "cpu":
        facts = DeviceFacts(cpu_flags=facts.cpu_flags)
    choice = choose_device(facts)
    out = dict(trainer)
    if out.get("accelerator") == AUTO:
        out["accelerator"] = choice.accelerator
    if out.get("precision") == AUTO:
        out["precision"] = choice.precision
    if out["accelerator"] in ("gpu", "cuda"):
        out["deterministic"] = False
    log.info("trainer=auto: accelerator %s, precision %s (%s)", out["accelerator"], out["precision"], choice.reason)
    return out
