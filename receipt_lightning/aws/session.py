"""boto3 clients made per call from one lazily created session; never at import time.

boto3 itself honours ``AWS_ENDPOINT_URL`` (used to point everything at moto's server in tests
and in ``receipt-lightning dev-stack``), ``AWS_DEFAULT_REGION`` and the credential variables.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_session = None
_settings: dict[str, str] = {}  # region_name / profile_name given by --region / --profile


def session():
    """The process-wide boto3 session, created on first use (boto3 sessions are not cheap)."""
    global _session
    with _lock:
        if _session is None:
            import boto3

            _session = boto3.session.Session(**_settings)
        return _session


def configure(region: str | None = None, profile: str | None = None) -> None:
    """Use ``region`` and ``profile`` for every client from now on (``--region``/``--profile``).
    They are also exported (AWS_DEFAULT_REGION, AWS_PROFILE) so the processes a command starts,
    a worker's trainers, talk to the same account and region."""
    import os

    global _session
    with _lock:
        if region:
            _settings["region_name"] = os.environ["AWS_DEFAULT_REGION"] = region
        if profile:
            _settings["profile_name"] = os.environ["AWS_PROFILE"] = profile
        _session = None


def reset_session() -> None:
    """Forget the cached session (tests change the environment between servers)."""
    global _session
    with _lock:
        _session = None


def client(service: str, **kwargs: Any):
    """A new client for ``service``. Clients are thread-safe, sessions are not: the session is
    used under the lock only to build the client."""
    from botocore.config import Config

    config = kwargs.pop("config", None) or Config(
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    sess = session()
    with _lock:
        return sess.client(service, config=config, **kwargs)


def resource(service: str, **kwargs: Any):
    sess = session()
    with _lock:
        return sess.resource(service, **kwargs)
