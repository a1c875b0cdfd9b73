"""Shared fixtures. AWS traffic goes only to moto's server on 127.0.0.1; credentials are dummies
so boto3 never asks the EC2 metadata service (169.254.169.254) for any."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

# Before anything imports boto3 or torch.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # Tests decide for themselves whether they are "on EC2"; never probe the real DMI files.
        "RL_DMI_DIR": "/nonexistent-dmi",
    }
)
# OCR results (docs/ocr.md) go to a cache of this session, never the user's ~/.cache; point the
# variable at a warm cache to skip re-reading the shared scans.
os.environ.setdefault("RECEIPT_LIGHTNING_OCR_CACHE", tempfile.mkdtemp(prefix="rl-test-ocr-cache-"))
os.environ.pop("AWS_PROFILE", None)
# A test that reaches boto3 without the `aws` fixture (moto) must fail on loopback, never send a
# request to AWS: port 9 (discard) on 127.0.0.1 refuses at once. The fixture overrides it.
os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"

REPO_ROOT = Path(__file__).resolve().parents[1]
# Child processes (trainers, workers, test apps run as `python -m tests.support.X`) import the
# test helpers from the repository root.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
SROIE_DIR = (REPO_ROOT.parent / "shared" / "datasets" / "sroie").resolve()


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """moto's real HTTP server on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """Point boto3 (in this process and in children) at moto; fresh session per test."""
    import requests

    from receipt_lightning.aws.session import reset_session

    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    reset_session()
    yield moto_server
    reset_session()


@pytest.fixture(scope="session")
def sroie_dir() -> Path:
    if not (SROIE_DIR / "box").is_dir():
        pytest.skip(f"SROIE receipts not found at {SROIE_DIR} (see README: ../shared/datasets/sroie)")
    return SROIE_DIR
