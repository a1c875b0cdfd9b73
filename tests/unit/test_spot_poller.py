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


def test_worker_setting_keeps_polling_an_unreachable_service(stub):
    """``give_up_if_unreachable=False`` (the worker, given its endpoint): a service that does not
    answer yet is polled again, and a notice once it answers is taken."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    notices = []
    poller = make_poller(dead, notices, give_up_if_unreachable=False)
    poller.start()
    time.sleep(0.3)  # several refused polls
    assert poller.running and poller.disabled_reason is None
    poller.client = IMDSClient(stub.endpoint, timeout_s=0.3)  # the service comes up
    stub.set_notice("stop", "2026-11-29T12:00:00Z")
    assert wait_for(lambda: notices) and wait_for(lambda: not poller.running)
    assert notices[0]["action"] == "stop"


def test_worker_spot_watch_drains_through_the_one_poller(stub):
    from receipt_lightning.jobs.spot_watch import SpotWatch

    watch = SpotWatch(stub.endpoint, poll_s=0.05).start()
    try:
        assert wait_for(lambda: stub.count("GET", "/latest/meta-data/spot/instance-action") >= 1)
        assert not watch.drain.is_set()
        stub.set_notice("terminate", "2026-11-29T12:00:00Z")
        assert wait_for(watch.drain.is_set)
        # the registry's spot_notice keeps its shape; the reason names the notice
        assert watch.notice == {"action": "terminate", "time": "2026-11-29T12:00:00Z"}
        assert watch.reason == "Spot terminate notice for 2026-11-29T12:00:00Z"
        watch.trigger("signal SIGTERM")  # a later trigger does not overwrite the first reason
        assert watch.reason.startswith("Spot terminate")
    finally:
        watch.stop()
    idle = SpotWatch(None).start()  # no endpoint: nothing polls, trigger still drains
    idle.trigger("signal SIGTERM")
    assert idle.drain.is_set() and idle.notice is None and idle.reason == "signal SIGTERM"
    idle.stop()
