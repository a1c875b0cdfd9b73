"""Items of the metrics table (see ``receipt_lightning.aws.resources``): keys, encoding, decoding.

One table holds every run; partition key ``run_id``, sort key ``sk``:

- ``m#<name>#<step:010d>``: one metric point (``step``, ``epoch``, ``wall_time`` in seconds since
  the Unix epoch, and ``value`` as a number; the name is read from the key: every attribute costs
  the writer thread CPU time per point). Keyed by name *and* step, so the train,
  validation and epoch metrics Lightning logs under one step never overwrite each other, a
  replayed step after a resume overwrites its own earlier point (idempotent), and a query on the
  prefix ``m#<name>#`` returns one series in step order (the step is zero-padded).
- ``e#<ms since epoch:013d>#<seq:06d>``: one log event (``level``, ``kind``, ``message``,
  ``attrs``), in time order.
- ``hparams``: the hyperparameters as a map; ``run``: the run's status record.

DynamoDB numbers cannot be NaN or infinite and must lie within 1e-130..9.99e125 in magnitude.
Such values are stored as the string attribute ``value_str`` ("NaN", "Infinity", "-Infinity"
or the float's repr) with ``nonfinite = True`` instead of ``value``; ``float()`` reads all back.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from argparse import Namespace
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import Any

METRIC_PREFIX = "m#"
EVENT_PREFIX = "e#"
HPARAMS_SK = "hparams"
RUN_SK = "run"
STATUSES: tuple[str, ...] = ("RUNNING", "COMPLETED", "FAILED", "INTERRUPTED")

# DynamoDB's number range (magnitude); outside it the service rejects the whole batch.
_DDB_MIN = 1e-130
# The largest double below 1e126 (DynamoDB's bound is exclusive: 9.99...9E+125 with 38 nines);
# the literal 9.9999999999999999e125 rounds *to* 1e126, which the service refuses.
_DDB_MAX = math.nextafter(1e126, 0.0)


@dataclass(frozen=True)
class MetricPoint:
    """One point of a metric series as read back."""

    name: str
    step: int
    value: float
    epoch: int | None = None
    wall_time: float | None = None  # seconds since the Unix epoch


@dataclass(frozen=True)
class LogEvent:
    """One log event as read back."""

    time_ms: int  # milliseconds since the Unix epoch
    seq: int
    level: str
    kind: str
    message: str
    attrs: dict[str, Any] = field(default_factory=dict)


def metric_sk(name: str, step: int) -> str:
    return f"{METRIC_PREFIX}{name}#{step:010d}"


def event_sk(time_ms: int, seq: int) -> str:
    return f"{EVENT_PREFIX}{time_ms:013d}#{seq % 1_000_000:06d}"


def encode_number(value: float | int) -> tuple[Decimal | None, str | None]:
    """``(Decimal, None)`` when DynamoDB accepts the number, else ``(None, string)``."""
    if isinstance(value, bool):
        return Decimal(int(value)), None
    if isinstance(value, int):
        if abs(value) < 10**38:  # DynamoDB keeps 38 significant digits
            return Decimal(value), None
        return None, str(value)
    if math.isnan(value):
        return None, "NaN"
    if math.isinf(value):
        return None, "Infinity" if value > 0 else "-Infinity"
    if value != 0.0 and not (_DDB_MIN <= abs(value) <= _DDB_MAX):
        return None, repr(value)
    # repr is the shortest string that reads back as the same float (<= 17 digits).
    return Decimal(repr(value)), None


def metric_item(
    run_id: str, name: str, value: float, step: int, epoch: int | None, wall_time: float
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "run_id": run_id,
        "sk": metric_sk(name, step),
        "step": step,
        "wall_time": Decimal(f"{wall_time:.3f}"),  # seconds, millisecond precision
    }
    if epoch is not None:
        item["epoch"] = int(epoch)
    number, text = encode_number(value)
    if number is not None:
        item["value"] = number
    else:
        item["value_str"] = text
        item["nonfinite"] = True
    return item


MAX_MESSAGE_CHARS = 32_000  # keeps an event far below DynamoDB's 400 KB item limit


def event_item(run_id: str, seq: int, level: str, kind: str, message: str, attrs: Any) -> dict[str, Any]:
    """A log event stamped now; ``attrs`` already storable (``to_dynamo``)."""
    return {
        "run_id": run_id,
        "sk": event_sk(int(time.time() * 1000), seq),
        "level": str(level).upper(),
        "kind": str(kind),
        "message": str(message)[:MAX_MESSAGE_CHARS],
        "attrs": attrs,
    }


def to_plain(obj: Any, _depth: int = 0) -> Any:
    """JSON-able containers (dict, list, str, int, float, bool, None) from a config or hparams:
    DictConfig/ListConfig, Namespace, dataclasses, tensors, numpy values, paths, enums, classes
    and callables (by name). Anything else becomes its ``str``; never raises."""
    if _depth > 32:  # a self-referencing structure; stop rather than recurse forever
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if _is_omegaconf(obj):
        return to_plain(_omegaconf_container(obj), _depth + 1)
    if isinstance(obj, Namespace):
        obj = vars(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, _depth + 1) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_plain(v, _depth + 1) for v in obj), key=repr)
    if isinstance(obj, enum.Enum):
        return to_plain(obj.value, _depth + 1)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, Decimal):
        return float(obj) if obj != obj.to_integral_value() else int(obj)
    if hasattr(obj, "tolist") and callable(obj.tolist):  # torch tensors, numpy arrays and scalars
        try:
            return to_plain(obj.tolist(), _depth + 1)
        except (TypeError, ValueError, RuntimeError):  # e.g. a meta tensor; fall back to its name
            return str(obj)
    if isinstance(obj, type) or callable(obj):
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}".lstrip(".")
    return str(obj)


def _is_omegaconf(obj: Any) -> bool:
    return type(obj).__module__.startswith("omegaconf")


def _omegaconf_container(obj: Any) -> Any:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(obj, resolve=True)
    except OmegaConfBaseException:
        # An interpolation that cannot resolve here (e.g. ${hydra:...} outside a Hydra app):
        # keep the unresolved "${...}" text rather than lose the whole config.
        return OmegaConf.to_container(obj, resolve=False)


def to_dynamo(obj: Any) -> Any:
    """A plain value (see ``to_plain``) made storable: floats to ``Decimal``, numbers DynamoDB
    rejects to strings."""
    if isinstance(obj, dict):
        return {k: to_dynamo(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_dynamo(v) for v in obj]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        number, text = encode_number(obj)
        return number if number is not None else text
    return obj


def from_dynamo(obj: Any) -> Any:
    """Inverse of ``to_dynamo`` for reading: ``Decimal`` to int or float, sets to sorted lists."""
    if isinstance(obj, dict):
        return {k: from_dynamo(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_dynamo(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(from_dynamo(v) for v in obj)
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    return obj


def metric_name(sk: str) -> str:
    """The metric name of a ``m#<name>#<step>`` key (names may contain "#")."""
    return sk[len(METRIC_PREFIX) :].rsplit("#", 1)[0]


def decode_point(item: Mapping[str, Any]) -> MetricPoint:
    """A metric item (already deserialized to Python values) as a ``MetricPoint``."""
    value = float(item["value"]) if "value" in item else float(item["value_str"])
    epoch = item.get("epoch")
    wall = item.get("wall_time")
    return MetricPoint(
        name=metric_name(str(item["sk"])),
        step=int(item["step"]),
        value=value,
        epoch=int(epoch) if epoch is not None else None,
        wall_time=float(wall) if wall is not None else None,
    )


def decode_event(item: Mapping[str, Any]) -> LogEvent:
    _, ms, seq = str(item["sk"]).split("#", 2)
    return LogEvent(
        time_ms=int(ms),
        seq=int(seq),
        level=str(item.get("level", "INFO")),
        kind=str(item.get("kind", "")),
        message=str(item.get("message", "")),
        attrs=from_dynamo(dict(item.get("attrs") or {})),
    )
