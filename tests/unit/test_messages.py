"""Job messages, override vetting and the config mapping (no AWS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.job_config import DataConfig, TrainingConfig, job_overrides
from receipt_lightning.jobs.messages import MAX_BODY_BYTES, SCHEMA_VERSION, JobMessage, PoisonMessage, decode
from receipt_lightning.jobs.overrides import check_targets, validate_overrides

REPO = Path(__file__).resolve().parents[2]


def test_round_trip_and_dedup_id():
    msg = JobMessage(job_id="job-1", overrides=["seed=3"], priority="high", dataset="sroie", delivery=2)
    back = decode(msg.encode(), group_id="job-1")
    assert back == msg
    assert back.dedup_id() == "job-1-d2" and JobMessage(job_id="job-1", overrides=[]).dedup_id() == "job-1-d1"


@pytest.mark.parametrize(
    "body, reason",
    [
        ("{nope", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"schema_version": 2, "job_id": "j", "overrides": []}), "unknown schema_version 2"),
        (json.dumps({"job_id": "j", "overrides": []}), "unknown schema_version None"),
        (json.dumps({"schema_version": SCHEMA_VERSION, "job_id": "../x", "overrides": []}), "job_id"),
        (
            json.dumps({"schema_version": SCHEMA_VERSION, "job_id": "j", "overrides": "seed=1"}),
            "list of strings",
        ),
        (
            json.dumps({"schema_version": SCHEMA_VERSION, "job_id": "j", "overrides": [], "cmd": "x"}),
            "unknown field",
        ),
        (
            json.dumps({"schema_version": SCHEMA_VERSION, "job_id": "j", "overrides": [], "delivery": 0}),
            "delivery",
        ),
        (
            json.dumps({"schema_version": SCHEMA_VERSION, "job_id": "j", "overrides": [], "priority": "x"}),
            "priority",
        ),
        ("x" * (MAX_BODY_BYTES + 1), "byte limit"),
    ],
)
def test_decode_rejects(body, reason):
    with pytest.raises(PoisonMessage, match=reason):
        decode(body)


def test_group_must_match_job():
    with pytest.raises(PoisonMessage, match="differs"):
        decode(JobMessage(job_id="a", overrides=[]).encode(), group_id="b")


def test_encode_refuses_oversize():
    with pytest.raises(PoisonMessage, match="byte limit"):
        JobMessage(job_id="a", overrides=["seed=1"] * 10_000).encode()


GOOD = ["model.learning_rate=3e-5", "data.batch_size=8", "trainer.max_epochs=3", "seed=7", "data.max_samples=null",
        "model=layoutlm_base", "data=sroie", "trainer=gpu", "experiment=smoke"]  # fmt: skip


def test_allowed_overrides_pass():
    assert validate_overrides(GOOD) == GOOD


@pytest.mark.parametrize(
    "override, reason",
    [
        ("hydra.run.dir=/", "under hydra"),
        ("hydra/launcher=basic", "under hydra"),
        ("+model._target_=os.system", "_target_"),
        ("model._target_=os.system", "_target_"),
        ("data.root=${oc.env:HOME}", "interpolations"),
        ("seed=${now:}", "interpolations"),
        ("~trainer", "deleting"),
        ("++seed=1", "force-add"),
        ("+seed2=1", "adding keys"),
        ("seed=1,2", "sweeps"),
        ("seed=range(1,3)", "sweeps"),
        ("model=glob(*)", "sweeps"),
        ("model@trainer=layoutlm_base", "package"),
        ("run_id=other", "set by the worker"),
        ("paths.root=/", "set by the worker"),
        ("data.root=/etc", "set by the worker"),
        ("model=evil", "must be one of"),
        ("experiment=../../x", "must be one of"),
        ("trainer.callbacks=[1]", "allow-list"),
        ("seed=[1,2]", "number, string"),
        ("=1", "allow-list"),
        ("seed=[1", "cannot parse"),
        ("", "non-empty"),
    ],
)
def test_malicious_overrides_rejected(override, reason):
    with pytest.raises(PoisonMessage, match=reason.replace("(", r"\(").replace("$", r"\$")):
        validate_overrides([override])


def test_key_set_twice_rejected():
    with pytest.raises(PoisonMessage, match="set twice"):
        validate_overrides(["seed=1", "seed=2"])


def test_extra_keys_extend_the_allow_list():
    with pytest.raises(PoisonMessage):
        validate_overrides(["data.fields=x"])
    assert validate_overrides(["data.fields=x"], extra_keys=["data.fields"]) == ["data.fields=x"]


def test_check_targets():
    ok = {
        "model": {"_target_": "receipt_lightning.model.module.X"},
        "cb": [{"_target_": "lightning.pytorch.callbacks.X"}],
    }
    check_targets(ok)
    with pytest.raises(PoisonMessage, match=r"cb\[1\]._target_='os.system'"):
        check_targets({"cb": [{}, {"_target_": "os.system"}]})


def test_training_and_data_mapping():
    training = TrainingConfig(num_epochs=3, batch_size=8, learning_rate=3e-5, weight_decay=0.01, warmup_ratio=0.1,
                              seed=5, experiment="smoke")  # fmt: skip
    data = DataConfig(dataset_name="sroie", data_format="sroie", max_samples=100)
    out = job_overrides("layoutlm_base", training, data, shared_root="/efs")
    assert out[0] in ("experiment=smoke", "+experiment=smoke")
    for expected in ("model=layoutlm_base", "data=sroie", "data.root=/efs/datasets/sroie", "data.max_samples=100",
                     "trainer.max_epochs=3", "data.batch_size=8", "model.learning_rate=3e-05",
                     "model.weight_decay=0.01", "model.warmup_ratio=0.1", "seed=5"):  # fmt: skip
        assert expected in out
    # Without a shared root the dataset travels by name; the worker resolves it on its EFS.
    assert not any(o.startswith("data.root=") for o in job_overrides("layoutlm_tiny", TrainingConfig(), data))
    assert validate_overrides(job_overrides("layoutlm_base", training, data))


@pytest.mark.parametrize(
    "cfg",
    [
        TrainingConfig(num_epochs=0),
        TrainingConfig(learning_rate=-1.0),
        TrainingConfig(warmup_ratio=2.0),
        DataConfig(dataset_name="../etc"),
        DataConfig(data_format="csv"),
    ],  # fmt: skip
)
def test_bad_config_values(cfg):
    with pytest.raises(InputError):
        cfg.validate()


def test_unknown_model():
    with pytest.raises(InputError, match="unknown model"):
        job_overrides("gpt-5", TrainingConfig(), DataConfig())


@pytest.mark.parametrize("name", ["example_job.yaml", "smoke_job.yaml"])
def test_example_job_files_map_and_validate(name):
    from receipt_lightning.jobs.jobfile import load_job_file

    spec = load_job_file(REPO / "conf" / "jobs" / name)
    overrides = job_overrides(spec.model, spec.training, spec.data) + spec.overrides
    assert validate_overrides(overrides) == overrides


def test_a_job_file_without_a_model_trains_minilm(tmp_path):
    from receipt_lightning.jobs.jobfile import load_job_file

    path = tmp_path / "job.yaml"
    path.write_text("data:\n  dataset_name: sroie\n")
    assert load_job_file(path).model == "layoutlm_minilm"


def test_job_file_errors_name_the_key(tmp_path):
    from receipt_lightning.jobs.jobfile import load_job_file

    bad = tmp_path / "job.yaml"
    bad.write_text("model: layoutlm_tiny\ntraining:\n  epochs: 3\n")
    with pytest.raises(InputError, match=r"job.yaml: unknown key training.epochs"):
        load_job_file(bad)
    bad.write_text("model: [\n")
    with pytest.raises(InputError, match=r"job.yaml:\d+: not YAML"):
        load_job_file(bad)


def test_cost_and_spot_savings():
    from receipt_lightning.jobs.status import job_cost, load_prices

    prices = load_prices()
    attempts = [
        {"attempt": 1, "instance_type": "g5.xlarge", "lifecycle": "spot", "started_at": 0, "ended_at": 1800,
         "outcome": "INTERRUPTED"},
        {"attempt": 2, "instance_type": "g5.xlarge", "lifecycle": "on-demand", "started_at": 2000, "ended_at": 5600,
         "outcome": "COMPLETED"},
        {"attempt": 3, "instance_type": "x9.huge", "lifecycle": "spot", "started_at": 0, "ended_at": 10, "outcome": "LOST"},
    ]  # fmt: skip
    cost = job_cost(attempts, prices)
    spot, od = prices["g5.xlarge"]["spot"], prices["g5.xlarge"]["on_demand"]
    assert cost["usd"] == pytest.approx(0.5 * spot + 1.0 * od)
    assert cost["spot_savings_usd"] == pytest.approx(0.5 * (od - spot))
    assert cost["interrupted_usd"] == pytest.approx(0.5 * spot)
    assert cost["unpriced_instance_types"] == ["x9.huge"]


def test_steps_lost_from_resume_info():
    from receipt_lightning.jobs.attempt import resume_step, steps_lost

    assert resume_step({"resume": {"global_step": 40}}) == 40
    assert resume_step({"resumed_from": "/efs/runs/j/checkpoints/step-00000032.ckpt"}) == 32
    assert steps_lost({"global_step": 45}, {"resume": {"global_step": 40}}) == 5
    assert steps_lost({}, {"resume": {"global_step": 40}}) is None
    assert steps_lost({"global_step": 45}, {"resume": {"steps_lost": 7}}) == 7


def test_admission_composes_the_real_config(tmp_path):
    from receipt_lightning.jobs.admission import admit

    msg = JobMessage(
        job_id="j1", overrides=["experiment=smoke", "trainer.max_epochs=1", "model.learning_rate=1e-3"]
    )
    args = admit(msg, tmp_path, worker_args=["spot.metadata_endpoint=http://127.0.0.1:9"])
    assert args[-3:] == ["run_id=j1", f"paths.root={tmp_path}", "spot.metadata_endpoint=http://127.0.0.1:9"]
    with pytest.raises(PoisonMessage, match="does not compose"):
        # Allowed by the list but absent from the config: Hydra refuses it, so the worker does.
        admit(
            JobMessage(job_id="j2", overrides=["data.nonexistent=1"]),
            tmp_path,
            extra_keys=["data.nonexistent"],
        )


def test_admission_resolves_datasets(tmp_path):
    from receipt_lightning.jobs.admission import admit

    (tmp_path / "datasets" / "mine" / "box").mkdir(parents=True)
    with pytest.raises(PoisonMessage, match="no key/"):  # training needs the labels
        admit(JobMessage(job_id="j", overrides=[], dataset="mine"), tmp_path, compose_check=False)
    (tmp_path / "datasets" / "mine" / "key").mkdir()
    args = admit(JobMessage(job_id="j", overrides=[], dataset="mine"), tmp_path, compose_check=False)
    assert args[:2] == ["data=sroie", f"data.root={tmp_path}/datasets/mine"]
    with pytest.raises(PoisonMessage, match="not found"):
        admit(JobMessage(job_id="j", overrides=[], dataset="other"), tmp_path, compose_check=False)
    (tmp_path / "datasets" / "odd").mkdir()
    with pytest.raises(PoisonMessage, match="not a dataset"):
        admit(JobMessage(job_id="j", overrides=[], dataset="odd"), tmp_path, compose_check=False)
