"""Guard rails of a job: ``max_runtime_s``, ``max_interruptions``, the no-progress watchdog.

Each is a job setting: defaults in ``conf/jobs/guards.yaml``, a job file's ``guards:`` section or
submit-job's flags override them, and the values are stored on the job record at submission
(``guards``), where every worker reads them (the record, not the message, is the source of
truth). The worker enforces them (jobs/stops.py); this module holds the settings and the
measurements: runtime used, and the trainer's last reported step.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipt_lightning.errors import InputError

log = logging.getLogger(__name__)
GUARDS_FILE = ("jobs", "guards.yaml")  # under the Hydra config folder
PROGRESS_FILE = "progress.json"  # <run dir>/progress.json, training/checkpointing/progress.py


@dataclass(frozen=True)
class GuardSettings:
    max_runtime_s: float | None = None  # wall seconds over all attempts since the last retry; None: no limit
    max_interruptions: int | None = None  # interruptions allowed; one more -> FAILED; None: no limit
    stall_timeout_s: float | None = None  # seconds without a new step -> stalled; None: no watchdog
    stall_grace_s: float = 120.0  # seconds from the watchdog's SIGTERM to its SIGKILL

    @classmethod
    def from_dict(cls, data: Any, source: str = "guards") -> GuardSettings:
        """Settings from a mapping; unknown keys and bad values raise ``InputError`` naming them."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise InputError("must be a mapping of guard settings", source=source)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"unknown guard {unknown[0]!r} (known: {', '.join(sorted(known))})", source=source
            )
        return cls().replace(source=source, **data)

    def replace(self, source: str = "guards", **changes: Any) -> GuardSettings:
        out = dataclasses.replace(self, **changes)
        out.validate(source)
        return out

    def validate(self, source: str = "guards") -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None and f.name != "stall_grace_s":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise InputError(f"{f.name} = {v!r}: expected a positive number or null", source=source)
            if f.name == "max_interruptions" and int(v) != v:
                raise InputError(f"max_interruptions = {v!r}: expected a whole number", source=source)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def defaults(cls, path: str | Path | None = None) -> GuardSettings:
        """``conf/jobs/guards.yaml`` (or ``path``)."""
        import yaml

        if path is None:
            from receipt_lightning.configs import conf_dir

            path = conf_dir().joinpath(*GUARDS_FILE)
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as err:
            raise InputError(f"cannot read guard defaults: {err.strerror}", source=str(path)) from None
        return cls.from_dict(doc or {}, source=str(path))

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> GuardSettings:
        """The job's settings; a job submitted before guards existed gets today's defaults."""
        stored = job.get("guards")
        if isinstance(stored, dict):
            try:
                return cls.from_dict(stored, source=f"job {job.get('job_id')} guards")
            except InputError as err:
                # Vetted at submission; a record edited since must not stop the worker: the
                # defaults apply and the log says why.
                log.warning("%s; using the defaults of conf/jobs/guards.yaml", err)
        return cls.defaults()


def runtime_used_s(job: dict[str, Any], now: float | None = None) -> float:
    """Wall seconds the job's attempts ran since its last retry (a running attempt counts up to
    ``now``)."""
    now = time.time() if now is None else now
    first = int(job.get("runtime_from_attempt") or 0)
    # An attempt without an end ran until its lease expired (its worker vanished) or runs still.
    expires = job.get("lease_expires")
    open_end = min(now, float(expires)) if isinstance(expires, (int, float)) and expires else now
    total = 0.0
    for a in (job.get("attempts") or [])[first:]:
        start = a.get("started_at")
        if not isinstance(start, (int, float)):
            continue
        end = a.get("ended_at") if isinstance(a.get("ended_at"), (int, float)) else open_end
        total += max(0.0, float(end) - float(start))
    return total


class StallWatchdog:
    """Watches ``<run dir>/progress.json``: progress is a new (attempt, step) pair in it.

    The clock starts with the attempt, so a trainer that never reports a step (hung while
    loading) is caught as well. Reads the file at most every ``check_s`` seconds.
    """

    def __init__(self, run_dir: Path, timeout_s: float | None, started_at: float, check_s: float = 1.0):
        self.path = Path(run_dir) / PROGRESS_FILE
        self.timeout_s = timeout_s  # None: never stalled
        self.check_s = check_s  # seconds between reads of the progress file
        self.last_change = started_at  # time.time() of the last progress seen
        self.token: tuple[Any, Any] | None = None  # (attempt id, global step) last seen
        self.progress: dict[str, Any] = {}  # the newest record of this attempt
        self.samples: list[tuple[float, int]] = []  # (time, step) of this attempt, for the rate
        self._started_at = started_at
        self._next_read = 0.0

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None  # not written yet, or replaced between stat and read: look again later
        return data if isinstance(data, dict) else None

    def poll(self, now: float) -> bool:
        """True when no new step was reported for ``timeout_s``."""
        if now >= self._next_read:
            self._next_read = now + self.check_s
            data = self._read()
            if data is not None:
                token = (data.get("attempt_id"), data.get("global_step"))
                if self.token is None:
                    self.token = token  # the previous attempt's last record: not progress
                    fresh = float(data.get("time_unix") or 0) >= self._started_at
                else:
                    fresh = token != self.token
                if fresh:
                    self.token, self.last_change = token, now
                    self.progress = data
                    if isinstance(data.get("global_step"), int):
                        self.samples = [*self.samples[-49:], (now, data["global_step"])]
        return self.timeout_s is not None and now - self.last_change > self.timeout_s

    def summary(self) -> dict[str, Any]:
        """Progress for the job record: step, epoch, total steps, measured steps per second."""
        p = self.progress
        out: dict[str, Any] = {}
        for key in ("global_step", "epoch", "total_steps"):
            if isinstance(p.get(key), int):
                out[key] = p[key]
        if len(self.samples) >= 2:
            (t0, s0), (t1, s1) = self.samples[0], self.samples[-1]
            if t1 > t0 and s1 > s0:
                out["steps_per_s"] = (s1 - s0) / (t1 - t0)
        if out:
            out["reported_at"] = self.last_change
        return out
