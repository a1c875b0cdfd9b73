"""EC2 detection from DMI files only (a temporary directory stands in for /sys/.../dmi/id)."""

from __future__ import annotations

import pytest

from receipt_lightning.aws import ec2_detect


def write_dmi(tmp_path, **fields):
    for name, value in fields.items():
        (tmp_path / name).write_text(value + "\n")
    return tmp_path


def test_tests_run_with_a_missing_dmi_dir():
    # tests/conftest.py sets RL_DMI_DIR to a missing directory: never "on EC2" by accident.
    assert not ec2_detect.is_ec2()


@pytest.mark.parametrize(
    "fields",
    [
        {"sys_vendor": "Amazon EC2"},
        {"board_asset_tag": "i-0123456789abcdef0"},
        {"bios_vendor": "Amazon EC2"},
        {"product_uuid": "EC2E1916-9099-7CAF-FD21-012345ABCDEF"},
        {"product_uuid": "45E12AEC-DCD1-B213-94ED-012345ABCDEF"},  # little-endian first field
    ],
)
def test_each_marker_says_ec2(tmp_path, fields):
    assert ec2_detect.is_ec2(write_dmi(tmp_path, **fields))


def test_other_machines_are_not_ec2(tmp_path):
    d = write_dmi(
        tmp_path,
        sys_vendor="QEMU",
        board_asset_tag="",
        bios_vendor="SeaBIOS",
        product_uuid="4C4C4544-0042-3510-8052-B4C04F4E4D32",
    )
    assert ec2_detect.ec2_evidence(d) is None


def test_unreadable_file_is_no_evidence(tmp_path):
    (tmp_path / "product_uuid").mkdir()  # reading a directory fails like a root-only file
    assert ec2_detect.read_dmi("product_uuid", tmp_path) is None
    assert not ec2_detect.is_ec2(tmp_path)


def test_env_var_overrides_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("RL_DMI_DIR", str(write_dmi(tmp_path, sys_vendor="Amazon EC2")))
    assert ec2_detect.ec2_evidence() == "sys_vendor='Amazon EC2'"
