"""Which metadata endpoint to use, from the environment botocore reads too.

- ``AWS_EC2_METADATA_DISABLED=true``: no metadata service at all (no Spot or scale-in polling,
  identity from the local id);
- ``AWS_EC2_METADATA_SERVICE_ENDPOINT``: this endpoint (``http://host:port``; an IPv6 host is
  written in brackets);
- ``AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE``: ``IPv4`` (default, ``http://169.254.169.254``) or
  ``IPv6`` (``http://[fd00:ec2::254]``, the instance's IPv6 IMDS address).

botocore spells these the same way; the variable wins over the AWS config file's
``ec2_metadata_service_endpoint[_mode]``, which is not read here (the worker runs on the instance,
where the environment is what the unit file sets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from receipt_lightning.errors import InputError

IPV4_ENDPOINT = "http://169.254.169.254"
IPV6_ENDPOINT = "http://[fd00:ec2::254]"
DISABLED_ENV = "AWS_EC2_METADATA_DISABLED"
ENDPOINT_ENV = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
MODE_ENV = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"


def metadata_disabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(DISABLED_ENV, "").strip().lower() == "true"


def default_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """The metadata endpoint the environment asks for; None when it is disabled."""
    env = os.environ if env is None else env
    if metadata_disabled(env):
        return None
    explicit = env.get(ENDPOINT_ENV, "").strip()
    if explicit:
        if not explicit.startswith("http://"):
            raise InputError(
                f"{explicit!r}: expected an http:// URL (IMDS speaks plain HTTP)", source=ENDPOINT_ENV
            )
        return explicit.rstrip("/")
    mode = env.get(MODE_ENV, "").strip() or "IPv4"
    if mode.lower() == "ipv4":
        return IPV4_ENDPOINT
    if mode.lower() == "ipv6":
        return IPV6_ENDPOINT
    raise InputError(f"{mode!r}: expected IPv4 or IPv6", source=MODE_ENV)
