"""EC2 instance metadata (IMDSv2) client, standard library only.

IMDSv2: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds`` returns a session
token; every ``GET`` carries it in ``X-aws-ec2-metadata-token``. A 404 means "no such item" (for
``spot/instance-action``: no interruption notice). The client never goes through a proxy (the
metadata address is link-local) and uses short timeouts, so a caller on a polling thread is never
held for long. Nothing here runs at import time; nothing here is contacted unless a method is
called, and the default endpoint is used only when the caller passes it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from receipt_lightning.aws.imds_errors import MetadataGarbage, MetadataUnavailable
from receipt_lightning.errors import InputError

DEFAULT_ENDPOINT = "http://169.254.169.254"
TOKEN_PATH = "/latest/api/token"
INSTANCE_ACTION_PATH = "/latest/meta-data/spot/instance-action"
REBALANCE_PATH = "/latest/meta-data/events/recommendations/rebalance"
INSTANCE_ID_PATH = "/latest/meta-data/instance-id"
INSTANCE_TYPE_PATH = "/latest/meta-data/instance-type"
LIFE_CYCLE_PATH = "/latest/meta-data/instance-life-cycle"
# "InService", or "Terminated" once Auto Scaling scales this instance in (lifecycle hook waiting).
TARGET_LIFECYCLE_STATE_PATH = "/latest/meta-data/autoscaling/target-lifecycle-state"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
# Metadata answers are tiny (a notice is ~60 bytes); never read more than this from a
# misbehaving server (bytes).
MAX_BODY_BYTES = 64 * 1024
# Actions AWS documents for spot/instance-action.
SPOT_ACTIONS = ("terminate", "stop", "hibernate")


def parse_instance_action(body: str) -> dict[str, str]:
    """``{"action": ..., "time": ...}`` from the body of ``spot/instance-action``; raises
    ``MetadataGarbage`` naming the path and the missing or bad field."""
    doc = _json_object(body, INSTANCE_ACTION_PATH)
    action, when = doc.get("action"), doc.get("time")
    if action not in SPOT_ACTIONS:
        raise MetadataGarbage(
            f"{INSTANCE_ACTION_PATH}: field 'action' is {action!r}, expected one of {SPOT_ACTIONS}"
        )
    if not isinstance(when, str) or not when:
        raise MetadataGarbage(
            f"{INSTANCE_ACTION_PATH}: field 'time' is {when!r}, expected an ISO 8601 string"
        )
    return {"action": action, "time": when}


def parse_rebalance(body: str) -> str:
    """The ``noticeTime`` of a rebalance recommendation."""
    when = _json_object(body, REBALANCE_PATH).get("noticeTime")
    if not isinstance(when, str) or not when:
        raise MetadataGarbage(
            f"{REBALANCE_PATH}: field 'noticeTime' is {when!r}, expected an ISO 8601 string"
        )
    return when


def _json_object(body: str, path: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as err:
        raise MetadataGarbage(f"{path}: body is not JSON ({err}): {body[:80]!r}") from err
    if not isinstance(doc, dict):
        raise MetadataGarbage(f"{path}: body is JSON {type(doc).__name__}, expected an object: {body[:80]!r}")
    return doc


class IMDSClient:
    """IMDSv2 client with a cached session token (refreshed before it expires, and once on 401).

    ``timeout_s`` bounds the connect and each read (seconds). Thread-safe: the token is guarded
    by a lock, requests themselves share nothing.
    """

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, timeout_s: float = 1.0, token_ttl_s: int = 21600):
        if not endpoint.startswith("http://"):
            # IMDS speaks plain HTTP on a link-local address; anything else is a config mistake.
            raise InputError(f"metadata endpoint {endpoint!r}: expected an http:// URL")
        if not 1 <= token_ttl_s <= 21600:
            raise InputError(f"token_ttl_s={token_ttl_s}: IMDSv2 accepts 1..21600 seconds")
        if not timeout_s > 0:
            raise InputError(f"timeout_s={timeout_s}: expected a positive number of seconds")
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.token_ttl_s = int(token_ttl_s)
        self._token: str | None = None
        self._token_expires = 0.0  # time.monotonic() seconds
        self._lock = threading.Lock()
        # An empty ProxyHandler: never send metadata requests to an HTTP(S)_PROXY.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def spot_instance_action(self) -> dict[str, str] | None:
        """The pending Spot interruption ``{"action", "time"}``, or ``None`` (404: no notice)."""
        body = self.get(INSTANCE_ACTION_PATH)
        return None if body is None else parse_instance_action(body)

    def rebalance_recommendation(self) -> str | None:
        """The rebalance recommendation's ``noticeTime``, or ``None`` when there is none."""
        body = self.get(REBALANCE_PATH)
        return None if body is None else parse_rebalance(body)

    def instance_id(self) -> str | None:
        return self._text(INSTANCE_ID_PATH)

    def instance_type(self) -> str | None:
        return self._text(INSTANCE_TYPE_PATH)

    def target_lifecycle_state(self) -> str | None:
        """Auto Scaling's target state for this instance (``"Terminated"``: being scaled in)."""
        return self._text(TARGET_LIFECYCLE_STATE_PATH)

    def instance_life_cycle(self) -> str | None:
        """``"spot"``, ``"on-demand"`` (or ``"scheduled"``), as the instance reports it."""
        return self._text(LIFE_CYCLE_PATH)

    def get(self, path: str) -> str | None:
        """Body of ``GET path`` (text), ``None`` on 404. One token refresh on 401."""
        for attempt in (0, 1):
            status, body = self._request("GET", path, {TOKEN_HEADER: self.token()})
            if status == 401 and attempt == 0:
                self.invalidate_token()  # expired, or the service restarted: fetch a new one
                continue
            if status == 404:
                return None
            if status != 200:
                raise MetadataGarbage(f"GET {path}: HTTP {status}: {body[:80]!r}")
            return body
        raise MetadataGarbage(f"GET {path}: HTTP 401 even with a fresh token")

    def token(self) -> str:
        """The session token, fetched with ``PUT /latest/api/token`` when missing or near expiry."""
        with self._lock:
            # Refresh at 90 % of the TTL so a token never expires between check and use.
            if self._token is not None and time.monotonic() < self._token_expires:
                return self._token
            status, body = self._request("PUT", TOKEN_PATH, {TTL_HEADER: str(self.token_ttl_s)})
            if status != 200 or not body.strip():
                # No token means no IMDSv2 here (IMDS disabled, or something else on the port).
                raise MetadataUnavailable(f"PUT {TOKEN_PATH}: HTTP {status}: {body[:80]!r}")
            self._token = body.strip()
            self._token_expires = time.monotonic() + 0.9 * self.token_ttl_s
            return self._token

    def invalidate_token(self) -> None:
        with self._lock:
            self._token = None

    def _text(self, path: str) -> str | None:
        body = self.get(path)
        return None if body is None else body.strip() or None

    def _request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
        req = urllib.request.Request(self.endpoint + path, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                return resp.status, _decode(resp.read(MAX_BODY_BYTES))
        except urllib.error.HTTPError as err:
            # An HTTP answer (404, 401, 5xx): the service is there; the caller decides.
            with err:
                return err.code, _decode(err.read(MAX_BODY_BYTES) if err.fp else b"")
        except OSError as err:
            # URLError, TimeoutError, ConnectionError are all OSError: refused, unreachable, timed
            # out, reset mid-answer. No usable service.
            reason = getattr(err, "reason", err)
            raise MetadataUnavailable(f"{method} {self.endpoint}{path}: {reason}") from err
        except http.client.HTTPException as err:
            # Something answered, but not with HTTP (bad status line, broken framing).
            raise MetadataGarbage(f"{method} {self.endpoint}{path}: not an HTTP answer: {err!r}") from err


def _decode(raw: bytes) -> str:
    # Metadata is ASCII; replace rather than fail so garbage is reported, not raised as UnicodeError.
    return raw.decode("utf-8", errors="replace")
