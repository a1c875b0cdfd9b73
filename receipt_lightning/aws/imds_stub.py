"""A local stand-in for the EC2 instance metadata service (IMDSv2), on 127.0.0.1 only.

For tests, benchmarks and the dev stack: serves the token, ``spot/instance-action``, the rebalance
recommendation and the instance identity the worker registry reads. IMDSv2-only like a hardened
instance: a GET without a valid token gets 401. ``mode`` makes it misbehave on purpose:
``"ok"``; ``"hang"`` (accepts, never answers until stopped); ``"garbage"`` (every GET answers 200
with a body that is not what AWS documents).
"""

from __future__ import annotations

import http.server
import json
import secrets
import threading
import time
from typing import Any

from receipt_lightning.aws import imds
from receipt_lightning.errors import InputError

MODES = ("ok", "hang", "garbage")


class IMDSStub:
    """Start with ``start()`` (or as a context manager); ``endpoint`` is its base URL."""

    def __init__(
        self,
        *,
        instance_id: str = "i-0123456789abcdef0",
        instance_type: str = "g5.xlarge",
        life_cycle: str = "spot",
    ):
        self.identity = {
            imds.INSTANCE_ID_PATH: instance_id,
            imds.INSTANCE_TYPE_PATH: instance_type,
            imds.LIFE_CYCLE_PATH: life_cycle,
        }
        self.mode = "ok"
        self.notice: dict[str, str] | None = None
        self.notice_set_monotonic: float | None = None  # when set_notice ran (time.monotonic(), s)
        self.rebalance: str | None = None
        self.requests: list[tuple[str, str]] = []  # (method, path), for assertions
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._release = threading.Event()  # frees "hang" handlers at stop()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise InputError("IMDSStub: not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> IMDSStub:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="imds-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> IMDSStub:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise InputError(f"IMDSStub mode {mode!r}: expected one of {MODES}")
        self.mode = mode

    def set_notice(self, action: str = "terminate", when: str | None = None) -> None:
        """Make ``spot/instance-action`` answer, as EC2 does 2 minutes before reclaiming."""
        when = when or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        with self._lock:
            self.notice = {"action": action, "time": when}
            self.notice_set_monotonic = time.monotonic()

    def set_rebalance(self, when: str | None = None) -> None:
        self.rebalance = when or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def revoke_tokens(self) -> None:
        """Forget every token issued (as after a metadata service restart)."""
        with self._lock:
            self._tokens.clear()

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r == (method, path))

    # -- request handling (called from the server's threads) --

    def _answer(self, method: str, path: str, headers: Any) -> tuple[int, str] | None:
        """(status, body), or ``None`` to hang."""
        with self._lock:
            self.requests.append((method, path))
        if self.mode == "hang":
            return None
        if method == "PUT":
            return self._put(path, headers)
        with self._lock:
            if headers.get(imds.TOKEN_HEADER) not in self._tokens:
                return 401, ""
        if self.mode == "garbage":
            return 200, "<html>\x00not metadata}{"
        if path == imds.INSTANCE_ACTION_PATH:
            return (200, json.dumps(self.notice)) if self.notice else (404, "Not Found")
        if path == imds.REBALANCE_PATH:
            return (200, json.dumps({"noticeTime": self.rebalance})) if self.rebalance else (404, "Not Found")
        if path in self.identity:
            return 200, self.identity[path]
        return 404, "Not Found"

    def _put(self, path: str, headers: Any) -> tuple[int, str]:
        if path != imds.TOKEN_PATH:
            return 405, ""
        ttl = headers.get(imds.TTL_HEADER, "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return 400, "Missing or invalid TTL"
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        return 200, token

    def _hang(self) -> None:
        self._release.wait(timeout=600)  # bounded even if stop() is never called


def _handler_for(stub: IMDSStub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            answer = stub._answer(self.command, self.path, self.headers)
            if answer is None:
                stub._hang()
                return
            status, body = answer
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = _serve  # noqa: N815 (http.server's naming)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # quiet: tests assert on stub.requests instead

    return Handler
