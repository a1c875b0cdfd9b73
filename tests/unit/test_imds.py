"""IMDSv2 client against the local stub (receipt_lightning.aws.imds_stub) on 127.0.0.1."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest

from receipt_lightning.aws import imds
from receipt_lightning.aws.imds import IMDSClient, parse_instance_action, parse_rebalance
from receipt_lightning.aws.imds_errors import MetadataGarbage, MetadataUnavailable
from receipt_lightning.aws.imds_stub import IMDSStub
from receipt_lightning.errors import InputError


@pytest.fixture
def stub():
    with IMDSStub() as s:
        yield s


def closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connection refused


def test_no_notice_is_none_and_uses_a_token(stub):
    client = IMDSClient(stub.endpoint, timeout_s=1.0)
    assert client.spot_instance_action() is None
    assert stub.requests == [("PUT", imds.TOKEN_PATH), ("GET", imds.INSTANCE_ACTION_PATH)]


def test_notice_is_parsed(stub):
    stub.set_notice("terminate", "2026-11-29T12:00:00Z")
    assert IMDSClient(stub.endpoint).spot_instance_action() == {
        "action": "terminate",
        "time": "2026-11-29T12:00:00Z",
    }


def test_token_is_cached_across_requests(stub):
    client = IMDSClient(stub.endpoint)
    for _ in range(3):
        client.spot_instance_action()
    assert stub.count("PUT", imds.TOKEN_PATH) == 1
    assert stub.count("GET", imds.INSTANCE_ACTION_PATH) == 3


def test_get_without_token_is_401(stub):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(stub.endpoint + imds.INSTANCE_ACTION_PATH, timeout=2)  # noqa: S310 (loopback)
    assert err.value.code == 401


def test_revoked_token_is_refreshed_once(stub):
    client = IMDSClient(stub.endpoint)
    assert client.instance_id() == "i-0123456789abcdef0"
    stub.revoke_tokens()  # the service restarted: the cached token now gets 401
    assert client.instance_type() == "g5.xlarge"
    assert stub.count("PUT", imds.TOKEN_PATH) == 2


def test_identity_lookups(stub):
    client = IMDSClient(stub.endpoint)
    assert (client.instance_id(), client.instance_type(), client.instance_life_cycle()) == (
        "i-0123456789abcdef0",
        "g5.xlarge",
        "spot",
    )


def test_rebalance_recommendation(stub):
    client = IMDSClient(stub.endpoint)
    assert client.rebalance_recommendation() is None
    stub.set_rebalance("2026-11-29T12:00:00Z")
    assert client.rebalance_recommendation() == "2026-11-29T12:00:00Z"


def test_refused_connection_is_unavailable_quickly():
    start = time.monotonic()
    with pytest.raises(MetadataUnavailable):
        IMDSClient(closed_port_endpoint(), timeout_s=1.0).spot_instance_action()
    assert time.monotonic() - start < 2.0


def test_hanging_service_times_out(stub):
    stub.set_mode("hang")
    start = time.monotonic()
    with pytest.raises(MetadataUnavailable):
        IMDSClient(stub.endpoint, timeout_s=0.2).spot_instance_action()
    assert time.monotonic() - start < 2.0  # one PUT that times out after 0.2 s


def test_garbage_answer_is_metadata_garbage(stub):
    stub.set_mode("garbage")
    with pytest.raises(MetadataGarbage, match="instance-action"):
        IMDSClient(stub.endpoint).spot_instance_action()


def test_server_error_is_metadata_garbage(stub, monkeypatch):
    monkeypatch.setattr(stub, "_answer", lambda m, p, h: (200, "tok") if m == "PUT" else (503, "busy"))
    with pytest.raises(MetadataGarbage, match="HTTP 503"):
        IMDSClient(stub.endpoint).spot_instance_action()


def test_proxy_variables_are_ignored(stub, monkeypatch):
    # A proxy at a closed port: the request would be refused if urllib went through it.
    for var in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, closed_port_endpoint())
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert IMDSClient(stub.endpoint).spot_instance_action() is None


@pytest.mark.parametrize(
    "body, field",
    [
        ("not json", "not JSON"),
        ("[1, 2]", "expected an object"),
        ('{"action": "explode", "time": "2026-11-29T12:00:00Z"}', "'action'"),
        ('{"action": "stop"}', "'time'"),
    ],
)
def test_parse_instance_action_rejects_garbage(body, field):
    with pytest.raises(MetadataGarbage, match=field):
        parse_instance_action(body)


def test_parse_rebalance_needs_notice_time():
    assert parse_rebalance('{"noticeTime": "2026-11-29T12:00:00Z"}') == "2026-11-29T12:00:00Z"
    with pytest.raises(MetadataGarbage, match="noticeTime"):
        parse_rebalance("{}")


def test_bad_endpoint_is_an_input_error():
    with pytest.raises(InputError, match="http://"):
        IMDSClient("https://169.254.169.254")
