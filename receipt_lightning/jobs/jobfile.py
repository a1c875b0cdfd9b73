"""Job files (``conf/jobs/*.yaml``): model, training and data sections, optional overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.job_config import DEFAULT_MODEL, DataConfig, TrainingConfig, from_dict

KNOWN_KEYS = ("model", "priority", "training", "data", "overrides", "guards")


@dataclass
class JobSpec:
    model: str  # model_name of submit_training_job; default layoutlm_minilm
    training: TrainingConfig
    data: DataConfig
    overrides: list[str] = field(default_factory=list)  # extra Hydra overrides, applied last
    priority: str | None = None  # None: the command line's or "normal"
    guards: dict = field(default_factory=dict)  # guard rails over conf/jobs/guards.yaml (jobs/guards.py)


def load_job_file(path: str | Path) -> JobSpec:
    """Parse and check a job file; errors name the file and the key."""
    import yaml

    source = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise InputError(f"cannot read job file: {err.strerror}", source=source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(f"not YAML: {getattr(err, 'problem', err)}", source=source,
                         line=mark.line + 1 if mark else None) from None  # fmt: skip
    if not isinstance(doc, dict):
        raise InputError("a job file is a mapping with model, training and data", source=source)
    unknown = sorted(set(doc) - set(KNOWN_KEYS))
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} (known: {', '.join(KNOWN_KEYS)})", source=source)
    model = doc.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise InputError("key 'model' must name a model (e.g. layoutlm_tiny)", source=source)
    overrides = doc.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise InputError("key 'overrides' must be a list of strings", source=source)
    training = from_dict(TrainingConfig, doc.get("training"), "training", source)
    data = from_dict(DataConfig, doc.get("data"), "data", source)
    try:
        training.validate()
        data.validate()
    except InputError as err:
        raise InputError(str(err), source=source) from None
    priority = doc.get("priority")
    if priority is not None and priority not in ("high", "normal", "low"):
        raise InputError(f"key 'priority' must be high, normal or low, got {priority!r}", source=source)
    from receipt_lightning.jobs.guards import GuardSettings

    guards = doc.get("guards") or {}
    GuardSettings.from_dict(guards, source=f"{source}: guards")  # vetted now, stored at submission
    return JobSpec(model, training, data, overrides, priority, dict(guards))
