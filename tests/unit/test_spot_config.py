"""The `spot` config group: validation and when metadata polling is on."""

from __future__ import annotations

from dataclasses import asdict, fields

import pytest
from omegaconf import OmegaConf

from receipt_lightning.aws.imds import DEFAULT_ENDPOINT
from receipt_lightning.configs import compose
from receipt_lightning.errors import InputError
from receipt_lightning.training.spot.callback import SpotInterruptionCallback, build_spot_callback
from receipt_lightning.training.spot.settings import SpotConfig, parse_spot_config, resolve_endpoint

STUB = "http://127.0.0.1:9"


def on_ec2():
    return "sys_vendor='Amazon EC2'"


def not_ec2():
    return None


def composed_spot(*overrides: str) -> dict:
    return OmegaConf.to_container(compose(list(overrides), hydra_config=False).spot, resolve=True)


def test_composed_group_is_the_dataclass():
    # conf/spot/default.yaml extends the SpotConfig schema registered in Hydra's ConfigStore.
    assert composed_spot() == asdict(SpotConfig())
    assert [f.name for f in fields(SpotConfig)] == list(composed_spot())


def test_composing_checks_types_against_the_dataclass():
    with pytest.raises(Exception, match="poll_interval_s"):
        composed_spot("spot.poll_interval_s=often")


def test_default_off_ec2_does_not_poll_but_handles_sigterm():
    cb = build_spot_callback(composed_spot())  # RL_DMI_DIR: not EC2 in tests
    assert isinstance(cb, SpotInterruptionCallback)
    assert cb.endpoint is None and cb._relay is not None


@pytest.mark.parametrize(
    "enabled, endpoint, detector, expected",
    [
        ("auto", None, not_ec2, None),
        ("auto", None, on_ec2, DEFAULT_ENDPOINT),
        ("auto", STUB, not_ec2, STUB),
        (True, None, not_ec2, DEFAULT_ENDPOINT),
        (True, STUB, not_ec2, STUB),
        (False, STUB, on_ec2, None),
        (False, None, on_ec2, None),
    ],
)
def test_resolve_endpoint(enabled, endpoint, detector, expected, monkeypatch):
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)  # set for every test by conftest
    assert resolve_endpoint(enabled, endpoint, detector) == expected


def test_resolve_endpoint_honours_botocores_metadata_variables(monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert resolve_endpoint(True, None, on_ec2) is None and resolve_endpoint("auto", None, on_ec2) is None
    assert resolve_endpoint(True, STUB, on_ec2) == STUB  # an explicit endpoint still wins
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")
    assert resolve_endpoint("auto", None, on_ec2) == "http://[fd00:ec2::254]"
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/")
    assert resolve_endpoint(True, None, not_ec2) == "http://127.0.0.1:9"


def test_string_booleans_and_numbers():
    s = parse_spot_config({"enabled": "false", "poll_interval_s": 0.05, "timeout_s": 2}, not_ec2)
    assert s.endpoint is None and s.poll_interval_s == 0.05 and s.timeout_s == 2.0


@pytest.mark.parametrize(
    "cfg, key",
    [
        ({"enabled": "maybe"}, "spot.enabled"),
        ({"poll_interval_s": 0}, "spot.poll_interval_s"),
        ({"timeout_s": "1"}, "spot.timeout_s"),
        ({"handle_sigterm": "yes"}, "spot.handle_sigterm"),
        ({"metadata_endpoint": "169.254.169.254"}, "spot.metadata_endpoint"),
        ({"poll_intervall_s": 5}, "spot.poll_intervall_s"),
    ],
)
def test_bad_values_name_the_key(cfg, key):
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        parse_spot_config(cfg, not_ec2)
