"""Is this process on an EC2 instance? Answered from local DMI (SMBIOS) files only.

Never by probing the network: asking 169.254.169.254 off EC2 costs a timeout and sends packets
where they have no business going. AWS documents these markers ("Identify EC2 Linux instances"):
``sys_vendor`` / ``bios_vendor`` "Amazon EC2" on Nitro, ``board_asset_tag`` holding the instance
id (``i-...``), and a ``product_uuid`` starting with "ec2" (on Xen instances; possibly with the
first field byte-swapped, little-endian). ``product_uuid`` is often readable by root only; an
unreadable file is simply no evidence.

``RL_DMI_DIR`` overrides the directory (tests point it at a missing one, so they are "not EC2").
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DMI_DIR = "/sys/devices/virtual/dmi/id"
DMI_DIR_ENV = "RL_DMI_DIR"


def dmi_dir() -> Path:
    """The DMI directory: ``$RL_DMI_DIR`` or ``/sys/devices/virtual/dmi/id``."""
    return Path(os.environ.get(DMI_DIR_ENV) or DEFAULT_DMI_DIR)


def read_dmi(name: str, directory: Path | None = None) -> str | None:
    """One DMI field, stripped; ``None`` when missing, unreadable or empty."""
    path = (directory or dmi_dir()) / name
    try:
        value = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        # Missing (not Linux, container without /sys) or root-only (product_uuid): no evidence.
        return None
    return value or None


def ec2_evidence(directory: Path | None = None) -> str | None:
    """Which DMI field says "EC2" (e.g. ``"sys_vendor='Amazon EC2'"``), or ``None``."""
    directory = directory or dmi_dir()
    checks = (
        ("sys_vendor", lambda v: v == "Amazon EC2"),
        ("board_asset_tag", lambda v: v.startswith("i-")),
        ("bios_vendor", lambda v: v.startswith("Amazon")),
        ("product_uuid", _is_ec2_uuid),
    )
    for name, matches in checks:
        value = read_dmi(name, directory)
        if value is not None and matches(value):
            return f"{name}={value!r}"
    return None


def is_ec2(directory: Path | None = None) -> bool:
    return ec2_evidence(directory) is not None


def _is_ec2_uuid(value: str) -> bool:
    uuid = value.lower()
    if uuid.startswith("ec2"):
        return True
    # Little-endian SMBIOS reverses the bytes of the first field: "EC2AE145-..." reads as
    # "45E12AEC-..."; undo the swap on those 8 hex digits and look again.
    first = uuid.split("-", 1)[0]
    if len(first) != 8:
        return False
    swapped = "".join(first[i : i + 2] for i in (6, 4, 2, 0))
    return swapped.startswith("ec2")
