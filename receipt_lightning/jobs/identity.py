"""Who is this worker: instance id, type and lifecycle.

On EC2 (decided from DMI files only, ``aws.ec2_detect``) the metadata service answers; elsewhere
the id is ``local-<hostname>-<uuid>`` with the uuid persisted under ``~/.cache`` so a restarted
worker on the same machine keeps its id. Each worker process adds its pid to form the worker id,
the lease owner and registry key, so two workers on one machine never share a lease.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from pathlib import Path

from receipt_lightning.jobs.leases import Holder

log = logging.getLogger(__name__)
ID_FILE_ENV = "RL_INSTANCE_ID_FILE"


def local_instance_id(path: Path | None = None) -> str:
    """A stable id for a machine that is not an EC2 instance."""
    default = (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "receipt-lightning" / "instance-id"
    )
    path = path or Path(os.environ.get(ID_FILE_ENV) or default)
    try:
        text = path.read_text().strip()
        if text:
            return text
    except OSError:
        pass  # first run on this machine (or unreadable): make and try to keep a new id
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40] or "host"
    ident = f"local-{host}-{uuid.uuid4().hex[:8]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(ident + "\n")
        tmp.replace(path)
    except OSError as err:
        log.warning("cannot persist the instance id at %s (%s); it changes with every start", path, err)
    return ident


def detect_holder(metadata_endpoint: str | None = None, instance_id: str | None = None) -> Holder:
    """This worker's identity. ``instance_id`` forces the id; an explicit ``metadata_endpoint``
    (a stub off EC2) is asked like the real service."""
    from receipt_lightning.aws.ec2_detect import is_ec2

    pid = os.getpid()
    if instance_id:
        return Holder(f"{instance_id}/{pid}", instance_id, "local", "local")
    from receipt_lightning.aws.imds_config import default_endpoint

    endpoint = metadata_endpoint or (default_endpoint() if is_ec2() else None)
    if endpoint:
        from receipt_lightning.aws.imds import IMDSClient
        from receipt_lightning.errors import RetryableError

        client = IMDSClient(endpoint, timeout_s=2.0)
        try:
            iid = client.instance_id() or local_instance_id()
            itype = client.instance_type() or "unknown"
            life = client.instance_life_cycle() or "on-demand"
            return Holder(f"{iid}/{pid}", iid, itype, "spot" if life == "spot" else "on-demand")
        except RetryableError as err:
            # EC2 without a reachable metadata service (hop limit, disabled): still run jobs.
            log.warning("on EC2 but the metadata service did not answer (%s); using a local id", err)
    iid = local_instance_id()
    return Holder(f"{iid}/{pid}", iid, "local", "local")
