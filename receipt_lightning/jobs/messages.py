"""The job message on the queue: a small versioned JSON document.

The job record in DynamoDB is the source of truth; the message only says "job X needs a worker"
and carries what a worker needs to start it (overrides, dataset name). ``delivery`` counts the
messages ever sent for the job and is part of the FIFO deduplication id, so a re-send after an
interruption is a new message (a fresh receive count) rather than a deduplicated copy.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field

from receipt_lightning.errors import FatalError

SCHEMA_VERSION = 1
# Far below SQS's 256 KiB: a job is a few hundred bytes; anything this big is not ours.
MAX_BODY_BYTES = 64 * 1024
MAX_OVERRIDES = 64
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")  # also the FIFO MessageGroupId and run_id
# The same rules submit applies (jobs.job_config.DataConfig, sweeps.ids.SWEEP_ID): a message is
# vetted field by field before anything is composed, so no field reaches Hydra unchecked.
DATA_FORMATS: tuple[str, ...] = ("synthetic", "sroie", "jsonl")
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # one directory, never ".."
SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
# Stored reasons (job record, dead-letter attribute, log) are cut to this many characters: one
# hostile message must not grow a 400 KB DynamoDB item or flood a log.
MAX_REASON_CHARS = 1000


class PoisonMessage(FatalError):
    """A message no worker can ever run; it goes to the dead-letter queue at once."""

    def __init__(self, reason: str, job_id: str | None = None):
        reason = short_reason(reason)
        super().__init__(reason)
        self.reason = reason
        self.job_id = job_id


@dataclass
class JobMessage:
    job_id: str  # run_id of the training run, jobs-table key, FIFO message group
    overrides: list[str]  # Hydra overrides, validated by jobs.overrides on both ends
    priority: str = "normal"  # high | normal | low: which queue it went to
    dataset: str | None = None  # directory under <efs root>/datasets/, resolved by the worker
    data_format: str | None = None  # synthetic | sroie | jsonl; None = detect from the directory
    delivery: int = 1  # 1 for the first send, +1 for every re-send of the same job
    sweep_id: str | None = None  # the sweep this job belongs to, if any
    submitted_at: float = field(default_factory=time.time)  # seconds since the epoch
    schema_version: int = SCHEMA_VERSION

    def dedup_id(self) -> str:
        """FIFO deduplication id: same job and delivery = same message."""
        return f"{self.job_id}-d{self.delivery}"

    def encode(self) -> str:
        body = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        if len(body.encode()) > MAX_BODY_BYTES:
            raise PoisonMessage(
                f"message is {len(body.encode())} bytes, over the {MAX_BODY_BYTES}-byte limit"
            )
        return body


def short_reason(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` cut to ``limit`` characters (with a marker saying how much was cut)."""
    if len(text) <= limit:
        return text
    tail = f" ... [{len(text) - limit} more characters]"
    return text[: max(0, limit - len(tail))] + tail


def vet_fields(data: dict, job_id: str | None) -> None:
    """Check the optional fields of a message; ``PoisonMessage`` names the first bad one. Submit
    and the worker both run this, so a field a worker accepts is one submit would have sent."""
    dataset, fmt, sweep_id = data.get("dataset"), data.get("data_format"), data.get("sweep_id")
    for key, value in (("dataset", dataset), ("data_format", fmt), ("sweep_id", sweep_id)):
        if value is not None and not isinstance(value, str):
            raise PoisonMessage(f"{key} must be a string", job_id)
    if dataset is not None and not DATASET_NAME.match(dataset):
        raise PoisonMessage(
            f"dataset {dataset[:200]!r} must be one directory name (letters, digits, . _ -; no '/' or '..')",
            job_id,
        )
    if fmt is not None and fmt not in DATA_FORMATS:
        raise PoisonMessage(f"data_format {fmt[:200]!r} must be one of {', '.join(DATA_FORMATS)}", job_id)
    if sweep_id is not None and not SWEEP_ID.match(sweep_id):
        raise PoisonMessage(f"sweep_id {sweep_id[:200]!r} must match {SWEEP_ID.pattern}", job_id)


def new_job_id() -> str:
    return "job-" + uuid.uuid4().hex[:16]


def decode(body: str, group_id: str | None = None) -> JobMessage:
    """Parse and check a message body; raise ``PoisonMessage`` naming what is wrong."""
    size = len(body.encode("utf-8", errors="replace"))
    if size > MAX_BODY_BYTES:
        raise PoisonMessage(f"body is {size} bytes, over the {MAX_BODY_BYTES}-byte limit", group_id)
    try:
        data = json.loads(body)
    except ValueError as err:
        raise PoisonMessage(f"body is not JSON: {err}", group_id) from None
    if not isinstance(data, dict):
        raise PoisonMessage("body is not a JSON object", group_id)
    job_id = data.get("job_id") if isinstance(data.get("job_id"), str) else group_id
    if job_id is not None and not JOB_ID.match(job_id):
        job_id = None  # never a key to write a record under
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise PoisonMessage(
            f"unknown schema_version {version!r} (this worker reads {SCHEMA_VERSION})", job_id
        )
    known = {f for f in JobMessage.__dataclass_fields__}
    unknown = sorted(set(data) - known)
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise PoisonMessage(f"{len(unknown)} unknown field(s): {shown}", job_id)
    if not isinstance(data.get("job_id"), str) or not JOB_ID.match(data["job_id"]):
        raise PoisonMessage(f"job_id {str(data.get('job_id'))[:100]!r} must match {JOB_ID.pattern}", job_id)
    if group_id is not None and group_id != data["job_id"]:
        raise PoisonMessage(f"message group {group_id[:100]!r} differs from job_id {data['job_id']!r}", job_id)
    overrides = data.get("overrides")
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise PoisonMessage("overrides must be a list of strings", job_id)
    if len(overrides) > MAX_OVERRIDES:
        raise PoisonMessage(f"{len(overrides)} overrides, over the limit of {MAX_OVERRIDES}", job_id)
    if data.get("priority", "normal") not in ("high", "normal", "low"):
        raise PoisonMessage(f"priority {str(data.get('priority'))[:40]!r} is not high, normal or low", job_id)
    delivery = data.get("delivery", 1)
    if not isinstance(delivery, int) or isinstance(delivery, bool) or not 1 <= delivery < 10**9:
        raise PoisonMessage(f"delivery {str(delivery)[:40]!r} must be a positive integer", job_id)
    for key in ("dataset", "data_format", "sweep_id"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise PoisonMessage(f"{key} must be a string", job_id)
    # Their values are vetted by ``vet_fields`` in admission, once the message is known to be the
    # job's own (a refused own message marks the job REJECTED; a forged copy changes nothing).
    submitted = data.get("submitted_at", 0)
    if not isinstance(submitted, (int, float)) or isinstance(submitted, bool) or not 0 <= submitted < 1e11:
        # NaN fails the comparison; a 400-digit int compares without a float conversion.
        raise PoisonMessage("submitted_at must be a number of seconds since the epoch", job_id)
    return JobMessage(**data)
