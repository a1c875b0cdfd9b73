"""Override strings from a queue are code-adjacent: check them before Hydra ever composes them.

Hydra lets an override set ``_target_`` (import and call anything), delete keys, add nodes, read
environment variables through ``${oc.env:...}`` and redirect its own output; its block-list is no
security boundary. So a job may only *change* keys on an allow-list and pick options of a few
config groups, and after composing every ``_target_`` must come from an allow-listed package.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipt_lightning.jobs.messages import PoisonMessage

# Keys a job may change (plain `key=value`), the lead's Hydra config keys.
ALLOWED_KEYS: frozenset[str] = frozenset(
    {
        "data.batch_size",
        "data.max_samples",
        "data.num_workers",
        "data.n_train",
        "data.n_val",
        "data.max_length",
        "data.val_fraction",
        "data.dev_fold",
        "data.eval_batch_size",
        "model.learning_rate",
        "model.weight_decay",
        "model.warmup_ratio",
        "trainer.max_epochs",
        "trainer.max_steps",
        "checkpoint.every_n_train_steps",
        "checkpoint.every_n_minutes",
        "seed",
        "time_budget_minutes",
    }
)


@dataclass(frozen=True)
class Bound:
    """The values an allowed key takes: a number of ``kind`` in [``low``, ``high``], or null when
    ``nullable``. Refused at submit time and again on the worker, naming the bound, so a value
    that cannot run never costs a trainer start (nor three retries)."""

    kind: type  # int (bools and floats refused) or float (ints accepted; NaN and inf refused)
    low: float
    high: float
    nullable: bool = False  # null keeps the config's meaning ("all", "derived")
    also: tuple[int, ...] = ()  # extra exact values allowed (-1 = "none" for max_steps)

    def describe(self) -> str:
        kind = "an integer" if self.kind is int else "a number"
        extra = "".join(f" or {v}" for v in self.also) + (" or null" if self.nullable else "")
        return f"{kind} in [{_number(self.low)}, {_number(self.high)}]{extra}"

    def admits(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return value in self.also or self.low <= value <= self.high


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


# Every key on the allow-list has a bound (a test checks): sizes a worker can hold, rates that
# can train, durations that end.
BOUNDS: dict[str, Bound] = {
    "data.batch_size": Bound(int, 1, 4096),  # receipts per step per device
    "data.eval_batch_size": Bound(int, 1, 4096),
    "data.max_samples": Bound(int, 1, 10_000_000, nullable=True),  # training receipts
    "data.num_workers": Bound(int, 0, 32),  # DataLoader processes (a g5.xlarge has 4 vCPUs)
    "data.n_train": Bound(int, 1, 1_000_000, nullable=True),  # synthetic receipts
    "data.n_val": Bound(int, 1, 100_000, nullable=True),
    "data.max_length": Bound(int, 16, 512),  # LayoutLM has 512 positions
    # 0: no validation split, the final fit on every receipt (with data.dev_fold: cross-validation)
    "data.val_fraction": Bound(float, 0.0, 0.9),
    "data.dev_fold": Bound(int, 0, 10),  # 0: none; K: train without fold K, score it (SROIE, scans)
    "model.learning_rate": Bound(float, 1e-8, 1.0),
    "model.weight_decay": Bound(float, 0.0, 1.0),
    "model.warmup_ratio": Bound(float, 0.0, 1.0),
    "trainer.max_epochs": Bound(int, 1, 10_000),
    "trainer.max_steps": Bound(int, 1, 10_000_000, also=(-1,)),  # -1: derived from max_epochs
    "checkpoint.every_n_train_steps": Bound(int, 1, 1_000_000),
    "checkpoint.every_n_minutes": Bound(float, 0.0, 1440.0, nullable=True),
    "seed": Bound(int, 0, 2**32 - 1),
    "time_budget_minutes": Bound(float, 1.0, 10_080.0, nullable=True),  # a week at most
}
# Config groups a job may choose, with their options when fixed; `experiment` options are the
# files under conf/experiment/ (`experiment=NAME`, or `+experiment=NAME` where the primary config
# does not list the group).
ALLOWED_GROUPS: dict[str, tuple[str, ...] | None] = {
    "data": ("synthetic", "sroie", "sroie_images", "jsonl"),
    "model": ("layoutlm_tiny", "layoutlm_minilm", "layoutlm_base"),
    "trainer": ("auto", "cpu", "cpu_bf16", "gpu", "ddp"),
    "experiment": None,
}
ADDABLE: frozenset[str] = frozenset({"experiment"})
# Set by the worker itself; a message that sets them is rejected, not silently overridden.
WORKER_KEYS: frozenset[str] = frozenset({"run_id", "paths.root", "data.root", "spot.metadata_endpoint"})
# `_target_`s a composed config may name: a module path prefix (ending in ".") or an exact name.
TARGET_PREFIXES: tuple[str, ...] = (
    "receipt_lightning.",
    "lightning.pytorch.Trainer",
    "lightning.pytorch.callbacks.",
    "lightning.pytorch.loggers.",
    "lightning.pytorch.strategies.",
    "lightning.pytorch.plugins.",
    "torch.optim.",
)
_OPTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_PRIMITIVES = (int, float, str, bool, type(None))


def _options(group: str, root: Path) -> tuple[str, ...] | None:
    fixed = ALLOWED_GROUPS[group]
    if fixed is not None:
        return fixed
    folder = root / group
    return tuple(sorted(p.stem for p in folder.glob("*.yaml"))) if folder.is_dir() else ()


def check_override(text: str, parsed: Any, *, root: Path, extra_keys: Iterable[str] = ()) -> None:
    """Raise ``PoisonMessage`` naming why ``text`` (parsed by Hydra as ``parsed``) is refused."""
    from hydra.core.override_parser.types import OverrideType

    key = parsed.key_or_group
    if parsed.is_sweep_override():
        raise PoisonMessage(f"override {text!r}: sweeps are not allowed in a job (one job per combination)")
    if parsed.package is not None:
        raise PoisonMessage(f"override {text!r}: package overrides (@) are not allowed")
    if key == "hydra" or key.startswith("hydra.") or key.startswith("hydra/"):
        raise PoisonMessage(f"override {text!r}: keys under hydra are not allowed")
    if any(seg.startswith("_") for seg in re.split(r"[./]", key)):
        raise PoisonMessage(
            f"override {text!r}: '_'-prefixed keys (_target_, _partial_, ...) are not allowed"
        )
    if parsed.type == OverrideType.DEL:
        raise PoisonMessage(f"override {text!r}: deleting keys (~) is not allowed")
    if parsed.type == OverrideType.FORCE_ADD:
        raise PoisonMessage(f"override {text!r}: force-add (++) is not allowed")
    if parsed.type == OverrideType.ADD and key not in ADDABLE:
        raise PoisonMessage(f"override {text!r}: adding keys (+) is allowed only for +experiment")
    if key in WORKER_KEYS:
        raise PoisonMessage(f"override {text!r}: {key} is set by the worker")
    value = parsed.value()
    if key in ALLOWED_GROUPS:
        options = _options(key, root)
        if not isinstance(value, str) or not _OPTION.match(value) or (options and value not in options):
            raise PoisonMessage(
                f"override {text!r}: {key} must be one of {', '.join(options or ('<none>',))}"
            )
        return
    if key not in ALLOWED_KEYS and key not in set(extra_keys):
        raise PoisonMessage(f"override {text!r}: key {key!r} is not on the allow-list")
    if not isinstance(value, _PRIMITIVES):
        raise PoisonMessage(f"override {text!r}: value must be a number, string, boolean or null")
    bound = BOUNDS.get(key)
    if bound is not None and not bound.admits(value):
        raise PoisonMessage(f"override {text!r}: {key} must be {bound.describe()}")


def validate_overrides(
    overrides: Sequence[str], *, root: Path | None = None, extra_keys: Iterable[str] = ()
) -> list[str]:
    """Check every override; return them unchanged or raise ``PoisonMessage`` for the first bad one."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    if root is None:
        from receipt_lightning.configs import conf_dir

        root = conf_dir()
    parser = OverridesParser.create()
    seen: set[str] = set()
    for text in overrides:
        if not isinstance(text, str) or not text or len(text) > 1024:
            raise PoisonMessage(f"override {text!r}: must be a non-empty string of at most 1024 characters")
        if "${" in text or "\\$" in text:
            raise PoisonMessage(f"override {text!r}: interpolations (${{...}}) are not allowed")
        try:
            parsed = parser.parse_overrides([text])[0]
        except HydraException as err:
            raise PoisonMessage(f"override {text!r}: cannot parse: {str(err).splitlines()[0]}") from None
        check_override(text, parsed, root=root, extra_keys=extra_keys)
        if parsed.key_or_group in seen:
            raise PoisonMessage(f"override {text!r}: key {parsed.key_or_group!r} is set twice")
        seen.add(parsed.key_or_group)
    return list(overrides)


def override_key(text: str) -> str:
    """The key or group an override names (``+experiment=x`` -> ``experiment``), for messages."""
    key = text.split("=", 1)[0].lstrip("+~")
    return key if re.fullmatch(r"[A-Za-z0-9_./@-]{1,64}", key) else "<unparsable>"


def targets(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (config path, ``_target_`` value) in a plain container."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "_target_":
                found.append((path or "<root>", str(v)))
            else:
                found += targets(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += targets(v, f"{path}[{i}]")
    return found


def check_targets(cfg: Any, prefixes: Sequence[str] = TARGET_PREFIXES) -> None:
    """Raise ``PoisonMessage`` if a composed config names a ``_target_`` outside ``prefixes``."""
    from omegaconf import DictConfig, OmegaConf

    tree = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    exact = {p for p in prefixes if not p.endswith(".")}
    starts = tuple(p for p in prefixes if p.endswith("."))
    for where, target in targets(tree):
        if target not in exact and not target.startswith(starts):
            raise PoisonMessage(f"composed config: {where}._target_={target!r} is not on the allow-list")


def compose(overrides: Sequence[str]) -> Any:
    """Compose the trainer's config the way the trainer will (its ``compose_config``)."""
    from receipt_lightning.configs import compose as compose_config

    return compose_config(list(overrides))
