"""The polling thread: notices, unreachable services (one log line), garbage (ignored)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from receipt_lightning.aws.imds import IMDSClient
from receipt_lightning.aws.imds_stub import IMDSStub
from receipt_lightning.training.spot.poller import NoticePoller
from tests.support.spot_tiny import wait_for


@pytest.fixture
def stub():
    with IMDSStub() as s:
        yield s


def make_poller(endpoint, notices, timeout_s=0.3, **kw):
    return NoticePoller(IMDSClient(endpoint, timeout_s=timeout_s), 0.05, notices.append, **kw)


def test_notice_is_reported_once_and_polling_ends(stub):
    notices = []
    poller = make_poller(stub.endpoint, notices)
    poller.start()
    assert wait_for(lambda: stub.count("GET", "/latest/meta-data/spot/instance-action") >= 2)
    stub.set_notice("stop", "2026-11-29T12:00:00Z")
    assert wait_for(lambda: notices)
    assert wait_for(lambda: not poller.running)
    assert notices[0]["reason"] == "spot-interruption" and notices[0]["action"] == "stop"
    assert len(notices) == 1


def test_rebalance_counts_only_when_configured(stub):
    stub.set_rebalance("2026-11-29T12:00:00Z")
    ignored, taken = [], []
    p1 = make_poller(stub.endpoint, ignored)
    p2 = make_poller(stub.endpoint, taken, rebalance_as_notice=True)
    p1.start(), p2.start()
    assert wait_for(lambda: taken)
    time.sleep(0.2)
    p1.stop(), p2.stop()
    assert taken[0]["reason"] == "rebalance-recommendation" and not ignored


def test_unreachable_service_disables_polling_with_one_line(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{s.getsockname()[1]}"
    poller = make_poller(endpoint, [])
    with caplog.at_level(logging.DEBUG, logger="receipt_lightning.training.spot.poller"):
        poller.start()
        assert wait_for(lambda: not poller.running)
    lines = [r for r in caplog.records if r.name == "receipt_lightning.training.spot.poller"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and "polling off" in lines[0].getMessage()
    assert poller.disabled_reason


def test_garbage_is_logged_and_polling_continues(stub, caplog):
    stub.set_mode("garbage")
    poller = make_poller(stub.endpoint, [])
    with caplog.at_level(logging.WARNING, logger="receipt_lightning.training.spot.poller"):
        poller.start()
        assert wait_for(lambda: stub.count("GET", "/latest/meta-data/spot/instance-action") >= 6)
        assert poller.running
        stub.set_mode("ok")
        stub.set_notice()
        assert wait_for(lambda: not poller.running)
    warnings = [r for r in caplog.records if "bad metadata answer" in r.getMessage()]
    assert 1 <= len(warnings) <= 3  # the first few only


def test_stop_is_bounded_while_the_service_hangs(stub):
    stub.set_mode("hang")
    poller = make_poller(stub.endpoint, [], timeout_s=0.5)
    poller.start()
    time.sleep(0.1)  # inside the hanging PUT now
    start = time.monotonic()
    poller.stop()
    assert time.monotonic() - start < 2.0
    assert wait_for(lambda: not poller.running, 3.0)


def test_thread_is_a_daemon(stub):
    poller = make_poller(stub.endpoint, [])
    poller.start()
    assert any(t.name == "spot-notice-poller" and t.daemon for t in threading.enumerate())
    poller.stop()
