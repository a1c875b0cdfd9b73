"""Submitting jobs: write the job record first, then send the message.

Record first, so a worker never receives a message for a job it cannot find, and a crash between
the two leaves a QUEUED job without ``sent_at`` that the next submit of the same id completes.
Submitting an existing job id again sends nothing (sweeps derive job ids from their overrides).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from receipt_lightning.aws.resources import PRIORITIES, StackNames, resolve_names
from receipt_lightning.errors import InputError
from receipt_lightning.jobs import queues
from receipt_lightning.jobs.job_config import (
    DEFAULT_MODEL,
    DataConfig,
    TrainingConfig,
    job_overrides,
    to_dict,
)
from receipt_lightning.jobs.messages import JOB_ID, JobMessage, PoisonMessage, new_job_id, vet_fields
from receipt_lightning.jobs.overrides import validate_overrides
from receipt_lightning.jobs.records import QUEUED, JobStore, UpdateBuilder

# A queued job that names no trainer gets this one: the instance that runs it decides device and
# precision (conf/trainer/auto.yaml), so one job file trains on a GPU instance and a laptop alike.
DEFAULT_TRAINER = "trainer=auto"


def with_default_trainer(overrides: Sequence[str]) -> list[str]:
    """``overrides``, plus ``trainer=auto`` first unless they choose a trainer themselves."""
    named = any(o.split("=", 1)[0].lstrip("+") == "trainer" for o in overrides)
    return list(overrides) if named else [DEFAULT_TRAINER, *overrides]


def _queue_url(names: StackNames, priority: str, queue_url: str | None) -> str:
    if priority not in PRIORITIES:
        raise InputError(f"priority {priority!r} must be one of {', '.join(PRIORITIES)}")
    url = queue_url or names.queue_urls.get(priority)
    if not url:
        var = {"high": "RL_QUEUE_URL_HIGH", "normal": "RL_QUEUE_URL", "low": "RL_QUEUE_URL_LOW"}[priority]
        raise InputError(f"no queue for priority {priority!r}: pass --queue-url or --stack, or set {var}")
    return url


def submit_overrides(
    overrides: Sequence[str],
    *,
    priority: str = "normal",
    job_id: str | None = None,
    sweep_id: str | None = None,
    names: StackNames | None = None,
    queue_url: str | None = None,
    dataset: str | None = None,
    data_format: str | None = None,
    config: dict[str, Any] | None = None,
    dynamo_table: str | None = None,
    guards: dict[str, Any] | None = None,
) -> str:
    """Queue one training run given as Hydra overrides; returns its job id (= run_id). A job
    that chooses no trainer gets ``trainer=auto`` (recorded with its overrides). ``guards``
    overrides the guard rails of conf/jobs/guards.yaml (max_runtime_s, ...)."""
    from receipt_lightning.jobs.guards import GuardSettings

    overrides = with_default_trainer(overrides)
    names = names or resolve_names()
    url = _queue_url(names, priority, queue_url)
    table = dynamo_table or names.jobs_table
    if not table:
        raise InputError(
            "no jobs table: pass --dynamo-table or --stack (submit-job), dynamo_table= or "
            "names=resolve_names(STACK) (submit_training_job), or set RL_JOBS_TABLE"
        )
    job_id = job_id or new_job_id()
    if not JOB_ID.match(job_id):
        raise InputError(f"job id {job_id!r} must match {JOB_ID.pattern}")
    try:
        vet_fields({"dataset": dataset, "data_format": data_format, "sweep_id": sweep_id}, job_id)
        validate_overrides(list(overrides))
    except PoisonMessage as err:
        raise InputError(str(err)) from None
    if dataset is not None:
        DataConfig(dataset_name=dataset, data_format=data_format).validate()
    store = JobStore(table)
    msg = JobMessage(
        job_id=job_id,
        overrides=list(overrides),
        priority=priority,
        dataset=dataset,
        data_format=data_format,
        sweep_id=sweep_id,
    )
    msg.encode()  # size check before anything is written
    guard_settings = GuardSettings.defaults().replace(source="guards", **(guards or {}))
    record = {
        "job_id": job_id,
        "status": QUEUED,
        "priority": priority,
        "overrides": list(overrides),
        "config": config or {},
        "dataset": dataset,
        "data_format": data_format,
        "sweep_id": sweep_id,
        "queue_url": url,
        "submitted_at": msg.submitted_at,
        "delivery": 1,
        "failures": 0,
        "guards": guard_settings.to_dict(),
    }
    if not store.create({k: v for k, v in record.items() if v is not None}):
        existing = store.get(job_id) or {}
        if existing.get("sent_at") or existing.get("status") != QUEUED:
            return job_id  # already queued (or run): resubmitting adds nothing
        msg = replace(msg, submitted_at=float(existing.get("submitted_at", msg.submitted_at)))
    message_id = queues.send(url, msg)
    store.update(job_id, UpdateBuilder().set("sent_at", time.time()).set("message_id", message_id))
    return job_id


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(base: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``base`` then ``extra``, an ``extra`` override replacing a ``base`` one with the same key."""
    replaced = {_key(o) for o in extra}
    return [o for o in base if _key(o) not in replaced] + list(extra)


def submit_training_job(
    model_name: str = DEFAULT_MODEL,
    training_config: TrainingConfig | None = None,
    data_config: DataConfig | None = None,
    queue_url: str | None = None,
    priority: str = "normal",
    *,
    dynamo_table: str | None = None,
    overrides: Sequence[str] = (),
    job_id: str | None = None,
    sweep_id: str | None = None,
    names: StackNames | None = None,
    guards: dict[str, Any] | None = None,
) -> str:
    """The receipt-trainer API: queue a job from a model name and the two config dataclasses.
    Extra ``overrides`` come last and win. Returns the job id. Unset: ``layoutlm_minilm`` (the
    pretrained text encoder), the experiment's training settings, synthetic receipts unless
    ``data_config.dataset_name`` names a dataset; the worker's machine picks device and precision
    (``trainer=auto``) unless ``training_config.trainer`` names one."""
    training_config = training_config or TrainingConfig()
    data_config = data_config or DataConfig()
    mapped = merge_overrides(job_overrides(model_name, training_config, data_config), overrides)
    config = {
        "model": model_name,
        "training": to_dict(training_config),
        "data": to_dict(data_config),
        "overrides": list(overrides),
    }
    return submit_overrides(
        mapped,
        priority=priority,
        job_id=job_id,
        sweep_id=sweep_id,
        names=names,
        queue_url=queue_url,
        dataset=data_config.dataset_name,
        data_format=data_config.data_format,
        config=config,
        dynamo_table=dynamo_table,
        guards=guards,
    )
