"""Load test of a running ``receipt-lightning serve``: N requests, C at a time, from JSONL
receipts, on loopback; prints throughput and p50/p99 latency. Bounded: N requests and a wall-time
cap, never an open-ended loop.

    python -m benchmarks.serve_load --url http://127.0.0.1:8080 --input receipts.jsonl \
        [--requests 200] [--concurrency 8] [--max-seconds 60]

Start the server first, e.g. ``receipt-lightning serve EXPORT_DIR --port 8080``. Only loopback
addresses are accepted (the test is for this machine's server).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def load_test(url: str, bodies: Sequence[bytes], requests: int, concurrency: int, max_seconds: float) -> dict:
    """POST ``bodies`` (cycled) to ``url``/v1/extract; one keep-alive connection per worker."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"load tests run against loopback only, not {parts.hostname!r}")
    local = threading.local()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            return
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=max_seconds)
        started = time.perf_counter()
        conn.request(
            "POST", "/v1/extract", body=bodies[i % len(bodies)], headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses[response.status] = statuses.get(response.status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "concurrency": concurrency,
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(latencies) / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "statuses": statuses,
    }


def bodies_from_jsonl(path: str) -> list[bytes]:
    """Request bodies: each JSONL line's words, boxes and page size (labels and keys dropped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                keep = {k: obj[k] for k in ("id", "words", "bboxes", "width", "height") if k in obj}
                out.append(json.dumps(keep).encode())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--input", required=True, help="a JSONL file of receipts")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=60.0)
    args = p.parse_args()
    result = load_test(
        args.url, bodies_from_jsonl(args.input), args.requests, args.concurrency, args.max_seconds
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
