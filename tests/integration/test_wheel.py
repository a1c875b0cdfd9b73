"""The wheel is complete: built from the sources, installed (not editable) into a fresh venv, and
used from a directory outside the source tree, it trains, composes the SQS launcher and runs a
queued job through a real worker to COMPLETED, as a CloudFormation worker does
(``launch/ec2_user_data.sh`` installs the package with pip, not in place).

The fresh venv borrows the test venv's third-party packages (torch, lightning, ...) through a
``.pth`` line instead of installing them again; a plain path line in a ``.pth`` file processes no
``.pth`` file of that folder, so the editable install of this checkout stays invisible there.
Every child runs with PYTHONPATH cleared, from a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support.queue_support import make_stack, wait_for

REPO = Path(__file__).resolve().parents[2]
# What the wheel is built from: only these, so a file the build needs from elsewhere fails here.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "receipt_lightning", "conf", "launch")
TINY = ("data.n_train=16", "data.n_val=4", "data.batch_size=8", "trainer.max_steps=2", "trainer.max_epochs=1")

pytestmark = pytest.mark.slow


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RL_TRAINER_CMD", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv holding the wheel built from this checkout."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, src / name)
    dist = base / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=600, env=_clean_env())  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("receipt_lightning-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "borrowed-test-venv.pth").write_text("\n".join(sorted(ours)) + "\n")
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                             capture_output=True, text=True, timeout=600, env=_clean_env())  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    return venv / "bin"


def _run(
    bin_dir: Path, cwd: Path, *cmd: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    exe = str(bin_dir / cmd[0]) if (bin_dir / cmd[0]).exists() else cmd[0]
    return subprocess.run([exe, *cmd[1:]], cwd=cwd, env=_clean_env(**env), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_the_installed_copy_is_imported_and_carries_its_configs(installed, tmp_path):
    code = ("import receipt_lightning, hydra_plugins.sqs_launcher as s; from receipt_lightning.configs import conf_dir;"
            "from receipt_lightning.aws.dev_stack import template_path;"
            "print(receipt_lightning.__file__); print(s.__file__); print(conf_dir()); print(template_path())")  # fmt: skip
    proc = _run(installed, tmp_path, "python", "-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    package, plugin, conf, template = proc.stdout.split()
    venv = str(installed.parent)
    assert all(p.startswith(venv) for p in (package, plugin, conf, template)), proc.stdout
    assert not package.startswith(str(REPO)) and Path(conf, "train.yaml").is_file()
    groups = {p.parent.name for p in Path(conf).glob("*/*.yaml")}
    assert {"data", "model", "trainer", "experiment", "jobs", "logger"} <= groups
    assert Path(conf, "jobs", "prices.yaml").is_file() and Path(conf, "hydra", "default.yaml").is_file()
    # hydra/launcher=sqs and the checkpoint/spot schemas are dataclasses registered by plugins
    # (no YAML copies): both plugins come with the wheel.
    plugins = Path(plugin).parents[1]
    assert (plugins / "receipt_lightning_configs" / "__init__.py").is_file(), sorted(plugins.iterdir())
    for script in ("receipt-lightning", "receipt-trainer"):
        proc = _run(installed, tmp_path, script, "--version")
        assert proc.returncode == 0 and "0." in proc.stdout, (script, proc.stdout, proc.stderr[-2000:])


def test_installed_dev_stack_deploys_the_packaged_template(installed, tmp_path):
    import signal
    import time

    from tests.conftest import free_port

    env_file = tmp_path / "root" / "dev-stack.env"
    cmd = [str(installed / "receipt-lightning"), "dev-stack", "--port", str(free_port()), "--root", "root"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert env_file.exists(), proc.stderr.read()[-3000:] if proc.poll() is not None else "no env file"
        assert "export RL_JOBS_TABLE=dev-jobs" in env_file.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert "dev stack stopped" in proc.stderr.read()


def test_installed_wheel_trains_the_smoke_experiment(installed, tmp_path):
    proc = _run(installed, tmp_path, "python", "-m", "receipt_lightning.train", "+experiment=smoke", *TINY,
                "run_id=wheel-smoke", f"paths.root={tmp_path}", timeout=600)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    summary = json.loads((tmp_path / "runs" / "wheel-smoke" / "summary.json").read_text())
    assert summary["status"] == "COMPLETED" and summary["global_step"] == 2, summary


def test_installed_wheel_composes_the_sqs_launcher(installed, tmp_path):
    proc = _run(installed, tmp_path, "python", "-m", "receipt_lightning.train", "hydra/launcher=sqs", "--cfg",
                "hydra", "-p", "hydra.launcher")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        "hydra_plugins.sqs_launcher.sqs_launcher.SQSLauncher" in proc.stdout
        and "priority: normal" in proc.stdout
    )


def test_installed_worker_runs_a_queued_job_to_completed(installed, aws, tmp_path):
    from receipt_lightning.jobs.records import COMPLETED, JobStore

    names, env = make_stack(tmp_path / "efs")
    job = tmp_path / "job.yaml"
    job.write_text("model: layoutlm_tiny\ntraining:\n  experiment: smoke\n  max_steps: 2\n  num_epochs: 1\n"
                   "  batch_size: 8\noverrides:\n  - data.n_train=16\n  - data.n_val=4\n")  # fmt: skip
    submit = _run(installed, tmp_path, "receipt-lightning", "submit-job", "--config", str(job), **env)
    assert submit.returncode == 0, submit.stderr[-2000:]
    job_id = submit.stdout.strip()
    # The real trainer of the installed copy (no RL_TRAINER_CMD), jobs vetted against its conf/.
    worker = _run(installed, tmp_path, "receipt-lightning", "start-worker", "--max-jobs", "1", "--idle-timeout",
                  "60", "--poll-wait", "1", "--efs-root", env["RL_SHARED_ROOT"], timeout=600,
                  PYTHONUNBUFFERED="1", **env)  # fmt: skip
    assert worker.returncode == 0, worker.stderr[-3000:]
    record = wait_for(lambda: JobStore(names.jobs_table).get(job_id), 10, "the job record")
    assert record["status"] == COMPLETED, (record, worker.stderr[-3000:])
    assert (Path(env["RL_SHARED_ROOT"]) / "runs" / job_id / "summary.json").is_file()
