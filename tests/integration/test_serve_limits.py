"""The server's time and queue limits, with a stand-in predictor whose speed the test controls
(uvicorn in a thread on 127.0.0.1, a real HTTP client): a slow prediction is a 504 at the time
limit, a full queue a 503 at once, and neither blocks the event loop (``/healthz`` answers while
the model is busy)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import free_port

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

BODY = {
    "words": ["TOTAL", "9.00"],
    "bboxes": [[10, 20, 60, 32], [300, 20, 340, 32]],
    "width": 400,
    "height": 900,
}


class SlowPredictor:
    """Answers every receipt with a fixed record after ``delay`` seconds per batch."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.batch_sizes: list[int] = []

    def predict_records(self, receipts, batch_size=16):
        self.batch_sizes.append(len(receipts))
        time.sleep(self.delay)
        return [{"id": r.id, "total": "9.00", "details": {}} for r in receipts]


@pytest.fixture
def start_server():
    servers = []

    def start(predictor, **limits):
        from receipt_lightning.serve.app import create_app
        from receipt_lightning.serve.limits import ServeLimits

        port = free_port()
        app = create_app(predictor, ServeLimits(**limits), {"model": "stand-in"})
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        servers.append((server, thread))
        return url

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_slow_prediction_is_a_504_and_the_loop_stays_free(start_server):
    url = start_server(SlowPredictor(delay=3.0), request_timeout_s=0.5)
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        slow = pool.submit(requests.post, f"{url}/v1/extract", json=BODY, timeout=10)
        time.sleep(0.1)
        health_started = time.monotonic()
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        # Queued behind the prediction it would take its remaining 2.9 s; 2 s leaves room for load.
        assert time.monotonic() - health_started < 2.0
        response = slow.result()
    assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    assert 0.4 < time.monotonic() - started < 2.5  # the limit, not the 3 s prediction


def test_a_full_queue_is_a_503_at_once_and_waiting_requests_are_batched(start_server):
    predictor = SlowPredictor(delay=0.6)
    url = start_server(predictor, max_pending=2, max_batch=8, request_timeout_s=10)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(requests.post, f"{url}/v1/extract", json=BODY, timeout=20) for _ in range(8)]
        statuses = sorted(f.result().status_code for f in futures)
    assert 503 in statuses and 200 in statuses, statuses
    assert set(statuses) == {200, 503}
    # Requests that waited while the first batch ran went through together.
    assert max(predictor.batch_sizes) >= 2, predictor.batch_sizes
