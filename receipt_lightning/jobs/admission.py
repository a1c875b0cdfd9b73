"""Admit a job on the worker: validate its overrides, resolve its dataset, compose and vet.

Everything here runs before a lease is taken or a trainer started; any refusal is a
``PoisonMessage`` whose text is recorded on the job and on the dead-letter message.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from receipt_lightning.data.sources import detect_source
from receipt_lightning.errors import InputError
from receipt_lightning.jobs.messages import JobMessage, PoisonMessage, vet_fields
from receipt_lightning.jobs.overrides import check_targets, compose, override_key, validate_overrides

# Targets Hydra's own node may name (launchers, sweepers, job logging), never settable by a job.
HYDRA_TARGET_PREFIXES: tuple[str, ...] = ("hydra.", "hydra_plugins.", "logging.")
TRAINING_SPLITS = ("train", "val")  # what the datamodule loads (data.sources.load_split)


def detect_format(path: Path) -> str:
    """The data group option for a dataset folder, by ``data.sources.detect_source``'s rule (the
    one ``predict`` uses) with what training reads: both splits, and labels. A dataset that
    cannot be trained on is refused here, before any trainer starts."""
    try:
        return detect_source(path, splits=TRAINING_SPLITS)
    except InputError as err:
        raise PoisonMessage(str(err)) from None  # names the folder and what it lacks


def dataset_overrides(msg: JobMessage, root: Path) -> list[str]:
    """``data=<format> data.root=<root>/datasets/<name>`` for a job naming a dataset; a missing
    dataset is fatal at once (no retry can make it appear)."""
    if msg.dataset is None:
        return []
    path = root / "datasets" / msg.dataset
    if not path.is_dir():
        raise PoisonMessage(f"dataset {msg.dataset!r} not found: no directory {path}")
    fmt = msg.data_format or detect_format(path)
    chosen = [o for o in msg.overrides if o.startswith("data=")]
    head = [] if chosen else [f"data={fmt}"]
    # The worker's own overrides pass the same checks as the job's (data= is a group option).
    validate_overrides(head)
    return [*head, f"data.root={path}"]


def composition_reason(err: BaseException, overrides: Iterable[str]) -> str:
    """What a refused composition records: the error class and the keys the job set. Never the
    error's text: it may quote a value Hydra resolved (an environment variable, a file)."""
    keys = sorted({override_key(o) for o in overrides})
    named = ", ".join(keys[:20]) if keys else "none"
    return f"config does not compose ({type(err).__name__}); keys the job sets: {named}"


def admit(
    msg: JobMessage,
    root: Path,
    *,
    compose_check: bool = True,
    extra_keys: Iterable[str] = (),
    worker_args: Iterable[str] = (),
) -> list[str]:
    """The trainer's argument list for ``msg`` (overrides, then the worker's own keys), or
    ``PoisonMessage`` saying why the job may not run."""
    vet_fields(
        {"dataset": msg.dataset, "data_format": msg.data_format, "sweep_id": msg.sweep_id}, msg.job_id
    )
    validate_overrides(msg.overrides, extra_keys=extra_keys)
    args = [
        *msg.overrides,
        *dataset_overrides(msg, root),
        f"run_id={msg.job_id}",
        f"paths.root={root}",
        *worker_args,
    ]
    if compose_check:
        try:
            cfg = compose(args)
        except Exception as err:  # noqa: BLE001 - any composition error is the job's fault: refuse it
            raise PoisonMessage(composition_reason(err, msg.overrides)) from None
        from omegaconf import OmegaConf

        tree = OmegaConf.to_container(cfg, resolve=False)
        hydra_node = tree.pop("hydra", None)
        check_targets(tree)
        check_targets(hydra_node or {}, HYDRA_TARGET_PREFIXES)
    return args
