"""Queue a sweep: every combination becomes one job through ``jobs.submit.submit_overrides`` (the
path ``submit-job`` takes), then the sweep is recorded in the sweeps table.

Jobs first, record second: a crash in between leaves jobs that carry their ``sweep_id``, and the
next submission of the same sweep (same ids) records it without adding jobs. Every combination is
validated before anything is queued, so a sweep with one bad override queues nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from receipt_lightning.aws.resources import PRIORITIES, StackNames
from receipt_lightning.errors import InputError
from receipt_lightning.sweeps.ids import (
    check_sweep_id,
    derive_sweep_id,
    job_id_for,
    parameter_space,
    split_sweep_keys,
)

log = logging.getLogger(__name__)


@dataclass
class SweepSubmission:
    sweep_id: str
    job_ids: list[str]  # one per combination, in submission order
    new_jobs: int  # jobs this call created (0 when the sweep was submitted before)
    parameter_space: dict[str, list[str]]  # swept key -> values
    fixed_overrides: list[str]  # overrides every job shares
    trials: dict[str, list[str]] = field(default_factory=dict)  # job id -> its overrides


def prepare(
    combinations: Sequence[Sequence[str]], sweep_id: str | None = None
) -> tuple[str, dict[str, list[str]]]:
    """(sweep id, {job id: job overrides}) for the combinations Hydra's sweeper produced.

    ``run_id`` (the worker sets it to the job id) and ``sweep_id`` are removed from each job; a
    ``sweep_id`` on the command line names the sweep unless ``sweep_id`` is given (then they
    must agree)."""
    jobs: list[list[str]] = []
    named: set[str] = set()
    for combo in combinations:
        overrides, removed = split_sweep_keys(list(combo))
        if "sweep_id" in removed:
            named.add(removed["sweep_id"])
        jobs.append(overrides)
    if len(named) > 1:
        raise InputError(f"one sweep, one sweep_id: got {', '.join(sorted(named))}", source="+sweep_id")
    given = next(iter(named), None)
    if sweep_id and given and sweep_id != given:
        raise InputError(
            f"+sweep_id={given} differs from hydra.launcher.sweep_id={sweep_id}", source="+sweep_id"
        )
    sid = check_sweep_id(sweep_id or given) if (sweep_id or given) else derive_sweep_id(jobs)
    trials: dict[str, list[str]] = {}
    for overrides in jobs:
        trials.setdefault(job_id_for(sid, overrides), overrides)
    return sid, trials


def submit_sweep(
    combinations: Sequence[Sequence[str]],
    *,
    names: StackNames,
    sweep_id: str | None = None,
    priority: str = "normal",
    queue_url: str | None = None,
    metric: str = "val/f1",
    mode: str = "max",
    **attributes: str | None,
) -> SweepSubmission:
    """Queue one job per combination (existing ones are left alone) and record the sweep."""
    from receipt_lightning.jobs.messages import PoisonMessage
    from receipt_lightning.jobs.overrides import validate_overrides
    from receipt_lightning.jobs.records import JobStore
    from receipt_lightning.jobs.submit import submit_overrides
    from receipt_lightning.sweeps.records import SweepStore

    if priority not in PRIORITIES:
        raise InputError(f"priority {priority!r} must be one of {', '.join(PRIORITIES)}", source="priority")
    if mode not in ("max", "min"):
        raise InputError(f"mode {mode!r} must be max or min", source="hydra.launcher.mode")
    sid, trials = prepare(combinations, sweep_id)
    for overrides in trials.values():
        try:
            validate_overrides(overrides)
        except PoisonMessage as err:
            raise InputError(f"trial {' '.join(overrides)}: {err}") from None
    sweeps = SweepStore(names.sweeps_table)  # fail on a missing table before queueing anything
    store = JobStore(names.jobs_table or "")
    new = 0
    for job_id, overrides in trials.items():
        # Check-then-skip only decides what we report; submit_overrides itself is idempotent
        # (conditional create), and it completes a job whose earlier send never happened.
        existed = store.get(job_id) is not None
        submit_overrides(
            overrides, priority=priority, job_id=job_id, sweep_id=sid, names=names, queue_url=queue_url
        )
        new += 0 if existed else 1
    space, fixed = parameter_space(list(trials.values()))
    sweeps.record(
        sid, trials, parameter_space=space, fixed_overrides=fixed,
        priority=priority, metric=metric, mode=mode, **attributes,
    )  # fmt: skip
    log.debug("sweep %s: %d jobs (%d new)", sid, len(trials), new)
    return SweepSubmission(sid, list(trials), new, space, fixed, trials)
