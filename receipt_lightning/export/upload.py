"""``--to s3://bucket/prefix``: the exported directory is written locally first (checked), then
uploaded file by file under the prefix; ``ensemble.json`` goes last, so a reader that waits for
it never sees a half-uploaded model."""

from __future__ import annotations

import re
from pathlib import Path

from receipt_lightning.errors import InputError, RetryableError
from receipt_lightning.export.layout import ENSEMBLE_FILE

# S3 bucket names: 3-63 of lowercase letters, digits, dots and hyphens (AWS naming rules).
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def is_s3_url(target: str) -> bool:
    return target.startswith("s3://")


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (bucket, "some/prefix"); the prefix may be empty."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not BUCKET.match(bucket):
        raise InputError(f"not a valid S3 bucket name: {bucket!r}", source=url)
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise InputError("the prefix has an empty, '.' or '..' part", source=url)
    return bucket, prefix


def upload_dir(local: str | Path, url: str) -> list[str]:
    """Upload every file of ``local`` under ``url``; returns the keys written."""
    from botocore.exceptions import BotoCoreError, ClientError

    from receipt_lightning.aws.session import client

    bucket, prefix = parse_s3_url(url)
    root = Path(local)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name == ENSEMBLE_FILE and p.parent == root)  # the marker last
    s3 = client("s3")
    keys = []
    for path in files:
        key = "/".join(filter(None, [prefix, path.relative_to(root).as_posix()]))
        try:
            s3.upload_file(str(path), bucket, key)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "AccessDenied", "403", "404"):
                raise InputError(f"cannot upload to s3://{bucket}/{key}: {code}", source=url) from err
            raise RetryableError(f"upload of {path} to s3://{bucket}/{key} failed: {err}") from err
        except BotoCoreError as err:
            raise RetryableError(f"upload of {path} to s3://{bucket}/{key} failed: {err}") from err
        keys.append(key)
    return keys
