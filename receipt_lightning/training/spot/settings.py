"""The ``spot`` config group: ``SpotConfig`` (its keys, defaults and units, once; Hydra's
ConfigStore holds it as ``spot/settings``, which ``conf/spot/default.yaml`` extends) and its
validation into ``SpotSettings``, what ``build_spot_callback`` needs.

``enabled``: ``auto`` (poll only where the DMI files say EC2), ``true`` or ``false``.
``metadata_endpoint``: ``null`` means the real one (``http://169.254.169.254``, or what
``AWS_EC2_METADATA_SERVICE_ENDPOINT[_MODE]`` say; none with ``AWS_EC2_METADATA_DISABLED``), used only when
``enabled`` resolves true; an explicit URL turns polling on (unless ``enabled: false``); tests
point it at a stub on 127.0.0.1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from receipt_lightning.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class SpotConfig:
    # auto: poll the instance metadata service only where the local DMI files say "EC2" (never
    # probes the network); true / false force it. SIGTERM is handled either way (handle_sigterm).
    # Typed Any: a bool or one of the strings auto, true, false (checked by parse_spot_config).
    enabled: Any = "auto"
    # null: the real service, http://169.254.169.254, used only when `enabled` resolves true.
    # An explicit http:// URL turns polling on (tests point it at a stub on 127.0.0.1).
    metadata_endpoint: str | None = None
    # Seconds between polls of spot/instance-action (AWS recommends 5; the notice comes 120 s ahead).
    poll_interval_s: float = 5.0
    # Also stop on a rebalance recommendation (an earlier, softer warning than the 2-minute notice).
    rebalance_as_notice: bool = False
    # Stop with a checkpoint on SIGTERM (SageMaker, AWS Batch, Kubernetes, docker stop).
    handle_sigterm: bool = True
    # Seconds per metadata request (connect and each read); the polling thread is the only waiter.
    timeout_s: float = 1.0


@dataclass(frozen=True)
class SpotSettings:
    endpoint: str | None  # None: no metadata polling
    poll_interval_s: float
    timeout_s: float
    rebalance_as_notice: bool
    handle_sigterm: bool


def parse_spot_config(
    cfg: SpotConfig | Mapping[str, Any], on_ec2: Callable[[], str | None] | None = None
) -> SpotSettings:
    """Validate ``cfg`` (the ``spot`` group) and decide whether to poll; ``on_ec2`` returns the
    DMI evidence of EC2 or ``None`` (default: ``receipt_lightning.aws.ec2_detect.ec2_evidence``)."""
    if isinstance(cfg, SpotConfig):
        cfg = asdict(cfg)
    known = [f.name for f in fields(SpotConfig)]
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise InputError(f"spot.{unknown[0]}: unknown key (known: {', '.join(known)})")
    merged = asdict(SpotConfig(**dict(cfg)))
    enabled = _enabled(merged["enabled"])
    endpoint = merged["metadata_endpoint"]
    if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith("http://")):
        raise InputError(f"spot.metadata_endpoint: {endpoint!r} is not an http:// URL (or null)")
    settings = SpotSettings(
        endpoint=None,
        poll_interval_s=_positive(merged, "poll_interval_s"),
        timeout_s=_positive(merged, "timeout_s"),
        rebalance_as_notice=_bool(merged, "rebalance_as_notice"),
        handle_sigterm=_bool(merged, "handle_sigterm"),
    )
    return replace(settings, endpoint=resolve_endpoint(enabled, endpoint, on_ec2))


def resolve_endpoint(
    enabled: bool | str, endpoint: str | None, on_ec2: Callable[[], str | None] | None = None
) -> str | None:
    """The endpoint to poll, or ``None``: false wins; an explicit endpoint turns polling on;
    true polls the real service; auto polls it only if the DMI files say EC2."""
    if enabled is False:
        return None
    if endpoint is not None:
        return endpoint
    from receipt_lightning.aws.imds_config import default_endpoint

    # The real service, as botocore finds it: AWS_EC2_METADATA_SERVICE_ENDPOINT[_MODE], or none
    # at all with AWS_EC2_METADATA_DISABLED=true.
    real = default_endpoint()
    if real is None:
        log.info("spot: AWS_EC2_METADATA_DISABLED=true; metadata polling off")
        return None
    if enabled is True:
        return real
    if on_ec2 is None:
        from receipt_lightning.aws.ec2_detect import ec2_evidence

        on_ec2 = ec2_evidence
    evidence = on_ec2()
    if evidence is None:
        log.info("spot: not an EC2 instance (no DMI evidence); metadata polling off")
        return None
    log.info("spot: EC2 instance (%s); polling %s", evidence, real)
    return real


def _enabled(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("auto", "true", "false"):
        return {"auto": "auto", "true": True, "false": False}[value.lower()]
    raise InputError(f"spot.enabled: {value!r}, expected auto, true or false")


def _positive(cfg: Mapping[str, Any], key: str) -> float:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"spot.{key}: {value!r}, expected a positive number of seconds")
    return float(value)


def _bool(cfg: Mapping[str, Any], key: str) -> bool:
    value = cfg[key]
    if not isinstance(value, bool):
        raise InputError(f"spot.{key}: {value!r}, expected true or false")
    return value
