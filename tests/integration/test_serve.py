"""``receipt-lightning serve`` as a user runs it: a real server process on 127.0.0.1, a real
HTTP client. Correct fields, bad inputs answered 4xx without killing the server, structured
access logs, and a bounded load test (throughput and p50/p99 printed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.support.tiny_run import held_out_receipts, tiny_export

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("onnxruntime")


def body_of(receipt, **extra) -> dict:
    return {"id": receipt.id, "words": receipt.words, "bboxes": [list(b) for b in receipt.boxes],
            "width": receipt.width, "height": receipt.height, **extra}  # fmt: skip


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.getbasetemp() / "tiny"
    root.mkdir(exist_ok=True)
    return tiny_export(root)


@pytest.fixture(scope="module")
def server(export_dir, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "stderr.log"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "receipt_lightning.cli", "serve", str(export_dir), "--port", str(port),
             "--max-words", "300", "--max-body-bytes", "200000", "--threads", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "server did not come up in 120 s: " + log_path.read_text()[-3000:]
        time.sleep(0.5)
    yield url, log_path
    proc.terminate()
    proc.wait(timeout=30)


def test_extract_gives_the_fields_predict_gives(server, export_dir):
    from receipt_lightning.predict import load_predictor

    url, _ = server
    receipts = held_out_receipts(6)
    expected = load_predictor(export_dir).predict_records(receipts)
    for receipt, want in zip(receipts, expected, strict=True):
        response = requests.post(f"{url}/v1/extract", json=body_of(receipt), timeout=30)
        assert response.status_code == 200, response.text
        got = response.json()
        assert {k: v for k, v in got.items() if k != "details"} == {
            k: v for k, v in want.items() if k != "details"
        }
        for detail in got["details"].values():
            assert 0.0 <= detail["confidence"] <= 1.0
            assert detail["boxes"] and all(len(b) == 4 for b in detail["boxes"])
        assert response.headers["X-Request-Id"]
    health = requests.get(f"{url}/healthz", timeout=5).json()
    assert health["status"] == "ok" and health["backend"] == "onnx" and health["receipts"] >= 6


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b'{"words": ["a", ', 400, "malformed_json"),
        (b"\xff\xfe not utf-8", 400, "bad_encoding"),
        (b"[1, 2]", 422, "invalid_receipt"),
        (json.dumps({"words": ["a"] * 301, "bboxes": [[0, 0, 1, 1]] * 301}).encode(), 413, "too_many_words"),
        (
            json.dumps({"words": ["a", "b"], "bboxes": [[0, 0, 1, 1], [0, 0, 1]]}).encode(),
            422,
            "invalid_receipt",
        ),
        (json.dumps({"words": ["a", "b"], "bboxes": [[0, 0, 1, 1]]}).encode(), 422, "invalid_receipt"),
        (json.dumps({"words": ["a"], "bboxes": [[5, 0, 1, 1]]}).encode(), 422, "invalid_receipt"),
        (json.dumps({"words": ["a"], "bboxes": [["x", 0, 1, 1]]}).encode(), 422, "invalid_receipt"),
        (
            json.dumps({"words": ["a"], "bboxes": [[0, 0, 1, 1]], "width": -3}).encode(),
            422,
            "invalid_receipt",
        ),
        (json.dumps({"words": ["a" * 500], "bboxes": [[0, 0, 1, 1]]}).encode(), 422, "word_too_long"),
        (json.dumps({"words": [], "bboxes": []}).encode(), 422, "invalid_receipt"),
        (b"x" * 300_000, 413, "body_too_large"),
    ],
    ids=[
        "malformed",
        "not-utf8",
        "not-object",
        "too-many-words",
        "box-of-3",
        "lengths-differ",
        "x0>x1",
        "box-not-numbers",
        "negative-width",
        "giant-word",
        "no-words",
        "huge-body",
    ],  # fmt: skip
)
def test_bad_input_is_answered_4xx_with_a_json_error_and_the_server_lives(server, data, status, code):
    url, _ = server
    response = requests.post(
        f"{url}/v1/extract", data=data, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert len(error["message"]) <= 300  # never the body echoed back
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200


def test_a_chunked_body_is_cut_off_at_the_limit(server):
    url, _ = server

    def chunks():
        for _ in range(100):  # 100 x 10 kB, no Content-Length: the server must count
            yield b" " * 10_000

    response = requests.post(
        f"{url}/v1/extract", data=chunks(), headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"


def test_other_content_types_and_raw_garbage_on_the_socket(server):
    url, _ = server
    response = requests.post(
        f"{url}/v1/extract", data="words=a", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert response.status_code == 415
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200


def test_access_log_lines_are_json(server):
    url, log_path = server
    requests.post(f"{url}/v1/extract", data=b"{", headers={"Content-Type": "application/json"}, timeout=5)
    request_id = requests.get(f"{url}/healthz", timeout=5).headers["X-Request-Id"]
    time.sleep(0.3)
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    mine = [x for x in lines if x["request_id"] == request_id]
    assert len(mine) == 1 and mine[0]["path"] == "/healthz" and mine[0]["status"] == 200
    assert {"ts", "request_id", "method", "path", "status", "ms", "client", "bytes_in"} <= set(mine[0])
    assert any(x["path"] == "/v1/extract" and x["status"] == 400 and x["bytes_in"] == 1 for x in lines)


def test_load_200_requests_8_concurrent(server):
    from benchmarks.serve_load import load_test

    url, _ = server
    bodies = [json.dumps(body_of(r)).encode() for r in held_out_receipts(20, seed=11)]
    before = requests.get(f"{url}/healthz", timeout=5).json()["batches"]
    result = load_test(url, bodies, requests=200, concurrency=8, max_seconds=30)
    print("\nserve load:", json.dumps(result))
    assert result["statuses"] == {200: 200}, result
    assert result["wall_s"] < 30
    batches = requests.get(f"{url}/healthz", timeout=5).json()["batches"] - before
    print(f"serve load: {batches} batches for 200 requests")
    assert batches < 200  # concurrent requests shared forward passes
