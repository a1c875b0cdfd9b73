"""The ``checkpoint`` config group as a typed dataclass: its keys, defaults and units live here
once, ``conf/checkpoint/default.yaml`` only extends it (Hydra's ConfigStore holds it as
``checkpoint/settings``, registered by ``hydra_plugins.receipt_lightning_configs``), and
``CheckpointSettings.from_mapping`` checks what the types cannot (ranges, the pair of triggers).

Stdlib only: Hydra imports it at start-up through the plugin scan, before anything heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from receipt_lightning.errors import InputError


@dataclass
class CheckpointSettings:
    # Save every N optimizer steps (0: no step trigger). Bounds the steps a hard kill loses.
    every_n_train_steps: int = 100
    # Also save when this many wall-clock minutes passed since the last save (null: no time
    # trigger). Bounds the time a hard kill loses when steps are slow.
    every_n_minutes: float | None = 10.0
    # Keep the newest K complete checkpoints (>= 1); the best one (see monitor) is kept as well.
    keep_last_k: int = 3
    # Write checkpoints in a background thread (training goes on; at most one save in flight,
    # errors raised at the next save or at teardown, always drained before exit). Costs one
    # extra copy of the model + optimizer state in host memory while a save is in flight.
    async_save: bool = False
    # Metric that picks the best checkpoint, kept by retention (null: no best checkpoint;
    # conf/checkpoint/default.yaml sets val/f1).
    monitor: str | None = None
    # "max" when a higher monitor value is better, "min" when lower is better.
    mode: str = "max"
    # When the best checkpoint is written: true at the train epoch end, false at validation
    # end, null lets Lightning decide. Any of them resumes exactly (checkpointing/exact_resume.py).
    save_on_train_epoch_end: bool | None = None
    # Write <run_dir>/progress.json every N optimizer steps: how work lost is measured on the
    # next resume (a lower bound at this resolution).
    progress_every_n_steps: int = 10

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> CheckpointSettings:
        """The settings from ``cfg`` (the composed ``checkpoint`` group, or any subset of its
        keys: the rest take the defaults above), validated; ``InputError`` names the key."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(cfg) - set(known))
        if unknown:
            raise InputError(
                f"unknown key(s) {unknown}; expected some of {sorted(known)}", source="checkpoint"
            )
        settings = cls(**dict(cfg))
        settings.validate()
        return settings

    def validate(self) -> None:
        values = asdict(self)

        def check(key: str, ok: bool, expected: str) -> None:
            if not ok:
                raise InputError(f"{key} must be {expected}, got {values[key]!r}", source=f"checkpoint.{key}")

        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        minutes = self.every_n_minutes
        check(
            "every_n_train_steps",
            is_int(self.every_n_train_steps) and self.every_n_train_steps >= 0,
            "an int >= 0",
        )
        check(
            "every_n_minutes",
            minutes is None or (is_int(minutes) or isinstance(minutes, float)) and minutes > 0,
            "null or > 0",
        )
        check("keep_last_k", is_int(self.keep_last_k) and self.keep_last_k >= 1, "an int >= 1")
        check("async_save", isinstance(self.async_save, bool), "true or false")
        check("monitor", self.monitor is None or isinstance(self.monitor, str), "null or a metric name")
        check("mode", self.mode in ("min", "max"), "'min' or 'max'")
        check(
            "save_on_train_epoch_end",
            self.save_on_train_epoch_end in (None, True, False),
            "null, true or false",
        )
        check(
            "progress_every_n_steps",
            is_int(self.progress_every_n_steps) and self.progress_every_n_steps >= 1,
            "an int >= 1",
        )
        if self.every_n_train_steps == 0 and minutes is None:
            raise InputError(
                "every_n_train_steps is 0 and every_n_minutes is null: nothing would bound the work a kill loses",
                source="checkpoint",
            )
