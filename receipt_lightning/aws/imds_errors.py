"""Errors of the instance metadata client (``receipt_lightning.aws.imds``).

Both are ``RetryableError``: the metadata service is local to the instance and a bad answer now
says nothing about the next one. Callers tell them apart because they react differently: an
unreachable service (not on EC2, or a container behind a hop limit of 1) turns polling off; a
garbage answer is logged and the next poll tries again.
"""

from __future__ import annotations

from receipt_lightning.errors import RetryableError


class MetadataUnavailable(RetryableError):
    """No answer: connection refused, timed out, or the token request failed."""


class MetadataGarbage(RetryableError):
    """An answer that is not what IMDSv2 documents (unexpected status, unparseable body)."""
