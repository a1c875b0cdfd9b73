"""Sweep ids, job ids and the parameter space of a sweep: pure functions, standard library only.

Resubmitting a sweep must add no jobs, so both ids are derived, never random: the sweep id from
the set of its combinations (order-free: ``lr=1,2`` and ``lr=2,1`` are the same sweep), and each
job id from (sweep id, the job's sorted overrides). The job record's conditional create then
turns a resubmission into a no-op.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence

from receipt_lightning.errors import InputError

# A sweep id names a directory (hydra.sweep.dir) and prefixes its job ids, which must match
# jobs.messages.JOB_ID (80 characters): 48 + "-" + 12 hex digits leaves room.
SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
SWEEP_PREFIX = "sweep-"
_HASH_CHARS = 12  # hex digits of sha256 in derived ids: 48 bits, collisions need ~16M sweeps
# Keys a sweep's command line may carry that are not the job's: the worker sets run_id, and the
# sweep id is the sweep's, not the trainer's.
SWEEP_ONLY_KEYS: frozenset[str] = frozenset({"run_id", "sweep_id"})


def override_key(override: str) -> str:
    """``+a.b=1`` -> ``a.b`` (the key without Hydra's +/++/~ prefix)."""
    return override.split("=", 1)[0].lstrip("+~")


def override_value(override: str) -> str:
    return override.split("=", 1)[1] if "=" in override else ""


def check_sweep_id(sweep_id: str, source: str = "sweep_id") -> str:
    if not isinstance(sweep_id, str) or not SWEEP_ID.match(sweep_id):
        raise InputError(
            f"sweep id {sweep_id!r} must be 1-48 letters, digits, '_' or '-' (starting with a letter or digit)",
            source=source,
        )
    return sweep_id


def _digest(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]


def canonical(overrides: Iterable[str]) -> list[str]:
    """A job's overrides in a canonical order (sorted by key, then text)."""
    return sorted(overrides, key=lambda o: (override_key(o), o))


def derive_sweep_id(combinations: Iterable[Sequence[str]]) -> str:
    """``sweep-<12 hex>`` from the set of combinations (each canonicalised), order-free."""
    unique = sorted({json.dumps(canonical(c)) for c in combinations})
    return SWEEP_PREFIX + _digest(unique)


def job_id_for(sweep_id: str, overrides: Sequence[str]) -> str:
    """``<sweep id>-<12 hex of (sweep id, sorted overrides)>``: the same trial, the same id."""
    return f"{sweep_id}-{_digest([sweep_id, canonical(overrides)])}"


def split_sweep_keys(overrides: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(the job's overrides, {key: value} of the sweep-only keys that were removed)."""
    job, removed = [], {}
    for o in overrides:
        key = override_key(o)
        if key in SWEEP_ONLY_KEYS:
            removed[key] = override_value(o)
        else:
            job.append(o)
    return job, removed


def parameter_space(combinations: Sequence[Sequence[str]]) -> tuple[dict[str, list[str]], list[str]]:
    """({swept key: its values in first-seen order}, [overrides every combination shares]).

    A key is swept when its value differs between combinations; a key present in only some
    combinations counts as swept too (its absent value is not listed)."""
    values: dict[str, list[str]] = {}
    text: dict[str, set[str]] = {}
    for combo in combinations:
        for o in combo:
            key = override_key(o)
            text.setdefault(key, set()).add(o)
            seen = values.setdefault(key, [])
            if override_value(o) not in seen:
                seen.append(override_value(o))
    n = len(combinations)
    counts = {k: sum(1 for c in combinations if any(override_key(o) == k for o in c)) for k in values}
    swept = {k: v for k, v in values.items() if len(text[k]) > 1 or counts[k] < n}
    fixed = [next(iter(text[k])) for k in values if k not in swept]
    return swept, fixed


def trial_params(overrides: Sequence[str], swept: Iterable[str]) -> dict[str, str]:
    """{swept key: value} of one trial (what distinguishes it in a table)."""
    keys = set(swept)
    return {override_key(o): override_value(o) for o in overrides if override_key(o) in keys}
