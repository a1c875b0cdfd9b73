"""Fleet operations without AWS: guard settings, the metadata endpoint from the environment, the
shared JOB_ID / --region / --profile arguments, the live status line, the age filter."""

from __future__ import annotations

import pytest

from receipt_lightning.errors import InputError


def test_guard_defaults_come_from_conf_and_are_vetted(tmp_path):
    from receipt_lightning.jobs.guards import GuardSettings

    d = GuardSettings.defaults()
    assert (d.max_runtime_s, d.max_interruptions, d.stall_timeout_s, d.stall_grace_s) == (
        86400,
        20,
        1800,
        120,
    )
    assert GuardSettings.from_job({"guards": {"max_runtime_s": 5, "stall_grace_s": 1}}).max_runtime_s == 5
    assert GuardSettings.from_job({}).max_interruptions == 20  # a job from before guards: defaults
    with pytest.raises(InputError, match="unknown guard 'max_runtime'"):
        GuardSettings.from_dict({"max_runtime": 5})
    with pytest.raises(InputError, match="max_interruptions = -1"):
        GuardSettings.from_dict({"max_interruptions": -1})
    with pytest.raises(InputError, match="stall_timeout_s = 'soon'"):
        GuardSettings.from_dict({"stall_timeout_s": "soon"})
    bad = tmp_path / "guards.yaml"
    bad.write_text("max_runtime_s: 0\n")
    with pytest.raises(InputError, match=f"{bad}: max_runtime_s = 0"):
        GuardSettings.defaults(bad)


def test_job_file_guards_are_checked_with_the_file_named(tmp_path):
    from receipt_lightning.jobs.jobfile import load_job_file

    path = tmp_path / "job.yaml"
    path.write_text("model: layoutlm_tiny\nguards:\n  max_runtime_s: 60\n")
    assert load_job_file(path).guards == {"max_runtime_s": 60}
    path.write_text("model: layoutlm_tiny\nguards:\n  max_runtime_s: forever\n")
    with pytest.raises(InputError, match=f"{path}: guards: max_runtime_s = 'forever'"):
        load_job_file(path)


def test_runtime_counts_every_attempt_since_the_last_retry():
    from receipt_lightning.jobs.guards import runtime_used_s

    job = {
        "runtime_from_attempt": 1,
        "lease_expires": 1500.0,
        "attempts": [
            {"started_at": 0.0, "ended_at": 900.0},  # before the retry: not counted
            {"started_at": 1000.0, "ended_at": 1100.0},
            {"started_at": 1200.0},  # its worker vanished: counted until the lease expired
        ],
    }
    assert runtime_used_s(job, now=2000.0) == 100.0 + 300.0


def test_stall_watchdog_needs_a_new_step_from_this_attempt(tmp_path):
    import json

    from receipt_lightning.jobs.guards import StallWatchdog

    (tmp_path / "progress.json").write_text(
        json.dumps({"attempt_id": "old", "global_step": 7, "time_unix": 1.0})
    )
    dog = StallWatchdog(tmp_path, timeout_s=10, started_at=100.0, check_s=0)
    assert not dog.poll(105.0) and dog.summary() == {}  # the previous attempt's record is no progress
    assert dog.poll(111.0)
    (tmp_path / "progress.json").write_text(
        json.dumps({"attempt_id": "new", "global_step": 7, "total_steps": 20})
    )
    assert not dog.poll(112.0)
    (tmp_path / "progress.json").write_text(
        json.dumps({"attempt_id": "new", "global_step": 9, "total_steps": 20})
    )
    assert not dog.poll(114.0) and not dog.poll(123.9) and dog.poll(124.1)
    assert dog.summary() == {"global_step": 9, "total_steps": 20, "steps_per_s": 1.0, "reported_at": 114.0}


def test_status_line_shows_step_metrics_interruptions_and_eta():
    from receipt_lightning.jobs.progress_line import eta_s, status_line

    job = {"job_id": "j1", "status": "RUNNING", "attempt": 2, "interruptions": 1,
           "progress": {"global_step": 250, "total_steps": 1000, "epoch": 1, "steps_per_s": 2.5}}  # fmt: skip
    line = status_line(job, {"val/f1": 0.81234, "train/loss": 0.25, "lr": 1e-5})
    assert line.startswith(
        "job j1  RUNNING  attempt 2  step 250/1000 (25%)  epoch 1  val/f1=0.8123  train/loss=0.25"
    )
    assert "interruptions 1" in line and "2.5 steps/s" in line and line.endswith("ETA 5m00s")
    assert eta_s({"global_step": 5}) is None
    assert "ETA" not in status_line({**job, "status": "INTERRUPTED"})


def test_age_filter_parses_units():
    from receipt_lightning.jobs.listing import parse_age

    assert (parse_age("90s"), parse_age("30m"), parse_age("12h"), parse_age("7d")) == (
        90,
        1800,
        43200,
        604800,
    )
    with pytest.raises(InputError, match="age 'yesterday'"):
        parse_age("yesterday")


def test_one_positional_job_id_and_the_old_flag():
    from receipt_lightning.cli import build_parser
    from receipt_lightning.commands.common import job_id

    for cmd in ("job-status", "job-details", "job-cancel", "job-retry", "job-logs"):
        parser = build_parser(cmd)
        assert job_id(parser.parse_args([cmd, "j-1"])) == "j-1"
        assert job_id(parser.parse_args([cmd, "--job-id", "j-1"])) == "j-1"
        with pytest.raises(InputError, match="two job ids"):
            job_id(parser.parse_args([cmd, "j-1", "--job-id", "j-2"]))
        with pytest.raises(InputError, match="which job"):
            job_id(parser.parse_args([cmd]))


def test_region_and_profile_on_every_aws_command(tmp_path, monkeypatch):
    from receipt_lightning.aws import session
    from receipt_lightning.cli import AWS_COMMANDS, build_parser
    from receipt_lightning.commands.common import apply_aws_arguments

    required = {"submit-job": ["--config", "x.yaml"], "sweep-status": ["s-1"]}
    for cmd in AWS_COMMANDS:
        args = build_parser(cmd).parse_args(
            [cmd, *required.get(cmd, []), "--region", "eu-west-1", "--profile", "p"]
        )
        assert (args.region, args.profile) == ("eu-west-1", "p")
    assert (
        "--region"
        not in build_parser("evaluate")._subparsers._group_actions[0].choices["evaluate"].format_help()
    )
    config = tmp_path / "config"
    config.write_text("[profile lab]\nregion = ap-south-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setattr(session, "_settings", {})
    # configure() writes os.environ itself: let monkeypatch note both variables first, so that
    # its teardown restores them (a profile left behind would break every later test's boto3).
    # setenv records the variable's absence; delenv of an absent variable records nothing.
    monkeypatch.setenv("AWS_PROFILE", "placeholder")
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    args = build_parser("jobs").parse_args(["jobs", "--profile", "lab", "--region", "eu-west-1"])
    try:
        apply_aws_arguments(args)
        s = session.session()
        assert (s.profile_name, s.region_name) == ("lab", "eu-west-1")
        import os

        assert os.environ["AWS_PROFILE"] == "lab" and os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    finally:
        session.reset_session()


def test_metadata_endpoint_follows_botocores_variables():
    from receipt_lightning.aws.imds_config import default_endpoint

    assert default_endpoint({}) == "http://169.254.169.254"
    assert default_endpoint({"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"}) == "http://[fd00:ec2::254]"
    assert default_endpoint({"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "ipv4"}) == "http://169.254.169.254"
    assert (
        default_endpoint({"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://[::1]:8080/"}) == "http://[::1]:8080"
    )
    assert default_endpoint({"AWS_EC2_METADATA_DISABLED": "True",
                             "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1"}) is None  # fmt: skip
    with pytest.raises(InputError, match="AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv5'"):
        default_endpoint({"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv5"})
    with pytest.raises(InputError, match="expected an http:// URL"):
        default_endpoint({"AWS_EC2_METADATA_SERVICE_ENDPOINT": "https://x"})


def test_start_worker_takes_the_metadata_endpoint_from_the_environment(tmp_path, monkeypatch):
    from receipt_lightning.cli import build_parser
    from receipt_lightning.commands.start_worker import options_from_args

    monkeypatch.setenv("RL_JOBS_TABLE", "t")
    monkeypatch.setenv("RL_QUEUE_URL", "http://127.0.0.1:1/q")
    # A dead-letter queue given, so the worker does not ask SQS for the queues' redrive target
    # (no AWS call from a unit test).
    monkeypatch.setenv("RL_DLQ_URL", "http://127.0.0.1:1/dlq")
    monkeypatch.delenv("RL_SPOT_METADATA_ENDPOINT", raising=False)
    parse = build_parser("start-worker").parse_args
    argv = ["start-worker", "--efs-root", str(tmp_path)]
    assert options_from_args(parse(argv)).metadata_endpoint is None  # not EC2, nothing set
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
    assert options_from_args(parse(argv)).metadata_endpoint == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert options_from_args(parse(argv)).metadata_endpoint is None


def test_log_shipper_cuts_at_line_ends_and_caps_what_it_ships(tmp_path, monkeypatch):
    from receipt_lightning.jobs.logs import LogShipper, ShipLimits

    log = tmp_path / "attempt-1.log"
    log.write_text("".join(f"line {i:03d}\n" for i in range(100)) + "half a li")
    puts: list[tuple[str, str]] = []
    shipper = LogShipper(
        "t", "j", 1, log, ShipLimits(interval_s=60, chunk_bytes=100, max_bytes=450, final_chunks=2)
    )
    monkeypatch.setattr(shipper, "_put", lambda sk, text, **kw: puts.append((sk, text)))
    while shipper.ship_once():
        pass
    texts = [t for _, t in puts]
    assert all(t.endswith("\n") for t in texts)  # never half a line while the trainer runs
    assert "".join(texts[:-1]).startswith("line 000\nline 001\n") and "log capped at 450 bytes" in texts[-1]
    assert [sk for sk, _ in puts][:2] == ["l#0001#00000000", "l#0001#00000001"]
    assert sum(len(t) for t in texts[:-1]) <= 450 + 100
    assert not shipper.ship_once()  # capped: nothing more, ever


def test_sweeps_count_cancelled_and_timed_out_trials_as_ended():
    from receipt_lightning.sweeps.summary import ENDED, bucket

    assert bucket({"status": "CANCEL_REQUESTED"}) == "running"
    assert bucket({"status": "CANCELLED"}) in ENDED and bucket({"status": "TIMED_OUT"}) in ENDED


def test_a_corrupted_guard_record_falls_back_to_the_defaults(caplog):
    from receipt_lightning.jobs.guards import GuardSettings

    assert GuardSettings.from_job({"job_id": "j", "guards": {"max_runtime_s": -5}}) == GuardSettings.defaults()
    assert "job j guards: max_runtime_s = -5" in caplog.text
