"""Mount the stack's EFS file system (amazon-efs-utils: TLS, IAM, the access points).

The launch template mounts it at boot (launch/ec2_user_data.sh); ``start-worker --mount-efs`` does
the same for a worker started by hand, and does nothing when the directories are mounted already.
The file system and access point ids come from the stack's outputs (``--stack``) or
``RL_EFS_ID`` / ``RL_EFS_AP_DATASETS`` / ``RL_EFS_AP_RUNS``; without access points the file
system root is mounted at ``root`` read-write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from receipt_lightning.errors import FatalError, InputError


def _mount(fs_id: str, target: Path, options: list[str]) -> None:
    if os.path.ismount(target):
        return
    target.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mount",
        "-t",
        "efs",
        "-o",
        ",".join(["_netdev", "noresvport", "tls", "iam", *options]),
        f"{fs_id}:/",
        str(target),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise FatalError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[:500]}")


def mount_efs(
    fs_id: str | None, root: Path, datasets_ap: str | None = None, runs_ap: str | None = None
) -> Path:
    """Mount ``fs_id`` under ``root`` (datasets/ read-only and runs/ with access points, else the
    whole file system at ``root``); returns ``root``. Access points default from the environment."""
    if not fs_id:
        raise InputError(
            "--mount-efs needs the file system id: pass --stack NAME (its FileSystemId output) or set RL_EFS_ID"
        )
    if shutil.which("mount.efs") is None and not Path("/sbin/mount.efs").exists():
        raise FatalError("--mount-efs needs amazon-efs-utils (mount.efs); install it or use --efs-root DIR")
    datasets_ap = datasets_ap or os.environ.get("RL_EFS_AP_DATASETS")
    runs_ap = runs_ap or os.environ.get("RL_EFS_AP_RUNS")
    if datasets_ap and runs_ap:
        _mount(fs_id, root / "datasets", ["ro", f"accesspoint={datasets_ap}"])
        _mount(fs_id, root / "runs", [f"accesspoint={runs_ap}"])
    else:
        _mount(fs_id, root, [])
    return root
