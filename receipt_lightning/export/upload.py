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
    from boto3.exceptions import S3UploadFailedError
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
        except (S3UploadFailedError, ClientError, BotoCoreError) as err:
            raise _upload_error(err, f"s3://{bucket}/{key}", url) from err
        keys.append(key)
    return keys


def check_bucket(url: str) -> None:
    """Fail before a long export when the bucket is missing or not ours to write."""
    from botocore.exceptions import BotoCoreError, ClientError

    from receipt_lightning.aws.session import client

    bucket, _ = parse_s3_url(url)
    try:
        client("s3").head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as err:
        raise _upload_error(err, f"s3://{bucket}", url) from err


def _upload_error(err: Exception, target: str, url: str) -> Exception:
    """A missing bucket or a refusal is the user's to fix (fatal); anything else may pass."""
    from botocore.exceptions import ClientError

    cause = err if isinstance(err, ClientError) else err.__cause__ or err.__context__
    code = cause.response.get("Error", {}).get("Code", "") if isinstance(cause, ClientError) else ""
    if code in ("NoSuchBucket", "AccessDenied", "403", "404"):
        return InputError(f"cannot write {target}: {code}", source=url)
    return RetryableError(f"upload to {target} failed: {err}")
