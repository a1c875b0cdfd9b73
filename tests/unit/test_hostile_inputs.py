"""Hostile and malformed input (issue 17): override bounds, message fields, data files with
absurd numbers or nesting, unreadable checkpoints. Every input ends in data or a clear error
naming where; the seeded fuzz cases below run thousands of inputs through the same paths."""

from __future__ import annotations

import json
import logging
import os
import random
import string

import pytest

from receipt_lightning.errors import InputError
from receipt_lightning.jobs.messages import (
    MAX_REASON_CHARS,
    SCHEMA_VERSION,
    JobMessage,
    PoisonMessage,
    decode,
    vet_fields,
)
from receipt_lightning.jobs.overrides import ALLOWED_KEYS, BOUNDS, validate_overrides

# ---------------------------------------------------------------- 8: bounds on allowed overrides


def test_every_allowed_key_has_a_bound():
    assert set(BOUNDS) == set(ALLOWED_KEYS)


@pytest.mark.parametrize(
    "override, bound",
    [
        ("data.num_workers=100000", "data.num_workers must be an integer in [0, 32]"),
        ("data.n_train=1e12", "data.n_train must be an integer in [1, 1000000] or null"),
        ("trainer.max_epochs=inf", "trainer.max_epochs must be an integer in [1, 10000]"),
        ("data.batch_size=-1", "data.batch_size must be an integer in [1, 4096]"),
        ("model.learning_rate=1e30", "model.learning_rate must be a number in [1e-08, 1]"),
        ("model.learning_rate=nan", "model.learning_rate must be a number"),
        ("data.batch_size=4.5", "data.batch_size must be an integer"),
        ("seed=true", "seed must be an integer in [0, 4294967295]"),
        ("trainer.max_steps=-2", "trainer.max_steps must be an integer in [1, 10000000] or -1"),
        ("data.max_length=100000", "data.max_length must be an integer in [16, 512]"),
        ("data.val_fraction=1", "data.val_fraction must be a number in [0, 0.9]"),
        ("data.dev_fold=11", "data.dev_fold must be an integer in [0, 10]"),
        ("data.dev_fold=true", "data.dev_fold must be an integer in [0, 10]"),
    ],
)
def test_out_of_bound_overrides_are_refused_naming_the_bound(override, bound):
    with pytest.raises(PoisonMessage) as err:
        validate_overrides([override])
    assert bound in err.value.reason


def test_in_bound_overrides_pass():
    ok = ["data.batch_size=4", "model.learning_rate=3e-5", "trainer.max_steps=-1", "data.max_samples=null",
          "checkpoint.every_n_minutes=10", "data.val_fraction=0.2", "trainer.max_epochs=1", "seed=1234",
          "data.num_workers=0", "model.warmup_ratio=0"]  # fmt: skip
    assert validate_overrides(ok) == ok
    cv_fold = ["data.val_fraction=0", "data.dev_fold=3"]  # a cross-validation fold as a job
    assert validate_overrides(cv_fold) == cv_fold


def test_submit_refuses_out_of_bound_overrides_naming_the_bound(monkeypatch):
    from receipt_lightning.aws.resources import StackNames
    from receipt_lightning.jobs.submit import submit_overrides

    names = StackNames(queue_urls={"normal": "https://unused.invalid/q.fifo"}, dlq_url=None, jobs_table="unused",
                       instances_table=None, metrics_table=None, sweeps_table=None, shared_root=None)  # fmt: skip
    with pytest.raises(InputError, match=r"data.num_workers must be an integer in \[0, 32\]"):
        submit_overrides(["data.num_workers=100000"], names=names)  # refused before any AWS call


# ---------------------------------------------------------------- 1: message fields


@pytest.mark.parametrize(
    "fields, what",
    [
        ({"data_format": "${oc.env:AWS_SECRET_ACCESS_KEY}"}, "data_format"),
        ({"data_format": "../../../../x"}, "data_format"),
        ({"dataset": "../x"}, "dataset"),
        ({"dataset": ".hidden"}, "dataset"),
        ({"sweep_id": "${x}"}, "sweep_id"),
        ({"data_format": 3}, "data_format must be a string"),
    ],
)
def test_message_fields_are_vetted(fields, what):
    with pytest.raises(PoisonMessage, match="^" + what.split()[0]):
        vet_fields(fields, "j")


def test_reasons_are_capped():
    body = {"schema_version": SCHEMA_VERSION, "job_id": "j", "overrides": []}
    body.update({f"field{k:05d}" + "x" * 30: 1 for k in range(1200)})
    with pytest.raises(PoisonMessage) as err:
        decode(json.dumps(body))
    assert len(err.value.reason) <= MAX_REASON_CHARS and "1200 unknown field(s)" in err.value.reason


# ---------------------------------------------------------------- fuzz: decoding and vetting

HOSTILE = [
    "${oc.env:HOME}", "${now:%Y}", "\\${x}", "_target_", "hydra.run.dir=/", "+x=1", "~x", "++x=1",
    "x=$(reboot)", "x=`id`", "x=1;rm -rf /", "a\nb", "\x00", "\ud800", "é", "../../etc/passwd",
    "data=${oc.env:X}", "model=layoutlm_tiny,layoutlm_base", "seed=range(1,5)", "seed=choice(1,2)",
    "seed=1e400", "seed=" + "9" * 400, "data.batch_size=" + "1" * 5000, "trainer.max_epochs=-inf",
    "model.learning_rate=nan", "experiment=../x", "+experiment=${x}", "model@x=y", "x" * 2000,
]  # fmt: skip


def _random_text(rng: random.Random) -> str:
    pool = string.printable + "${}[]()=+~@'\"\\é\u202e\x00"
    if rng.random() < 0.3:
        return rng.choice(HOSTILE) + "".join(rng.choice(pool) for _ in range(rng.randrange(0, 5)))
    return "".join(rng.choice(pool) for _ in range(rng.randrange(0, 60)))


def _random_value(rng: random.Random, depth: int = 0):
    makers = [
        lambda: None,
        lambda: True,
        lambda: rng.randrange(-(10**20), 10**20),
        lambda: rng.choice([1e308, -0.0, 1.5, 1e-320]),
        lambda: _random_text(rng),
        lambda: rng.choice(HOSTILE),
        lambda: [_random_text(rng) for _ in range(rng.randrange(4))],
        lambda: [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))],
        lambda: {_random_text(rng): _random_value(rng, depth + 1) for _ in range(rng.randrange(3))},
    ]
    return makers[rng.randrange(len(makers) if depth < 3 else 7)]()


def _random_body(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return _random_text(rng)
    body = {"schema_version": SCHEMA_VERSION, "job_id": rng.choice(["job-1", "j", _random_text(rng)]),
            "overrides": [_random_text(rng) for _ in range(rng.randrange(4))]}  # fmt: skip
    for key in ("dataset", "data_format", "sweep_id", "priority", "delivery", "submitted_at", "overrides",
                "schema_version", _random_text(rng)):  # fmt: skip
        if rng.random() < 0.25:
            body[key] = _random_value(rng)
    return json.dumps(body, allow_nan=True)


def test_fuzz_message_decoding_and_vetting():
    """4,000 seeded random and hostile messages: each decodes and vets cleanly or is refused
    with a PoisonMessage whose reason is capped; nothing else ever escapes."""
    rng = random.Random(17)
    admitted = refused = 0
    for _ in range(4000):
        body = _random_body(rng)
        try:
            msg = decode(body, group_id=rng.choice([None, "job-1"]))
            vet_fields({"dataset": msg.dataset, "data_format": msg.data_format, "sweep_id": msg.sweep_id}, None)
            validate_overrides(msg.overrides)
            JobMessage(**{k: getattr(msg, k) for k in JobMessage.__dataclass_fields__}).encode()
            admitted += 1
        except PoisonMessage as err:
            assert 0 < len(err.reason) <= MAX_REASON_CHARS
            refused += 1
    assert refused > 1000 and admitted > 10


def test_fuzz_override_vetting():
    """3,000 seeded random and hostile override strings: accepted ones are on the allow-list and
    inside their bounds, with no interpolation; the rest are refused with a reason."""
    rng = random.Random(1717)
    keys = sorted(ALLOWED_KEYS) + ["hydra.run.dir", "model._target_", "paths.root", "data", "trainer", "x"]
    for _ in range(3000):
        if rng.random() < 0.5:
            text = f"{rng.choice(['', '+', '~', '++'])}{rng.choice(keys)}={_random_text(rng)}"
        else:
            text = _random_text(rng)
        try:
            validate_overrides([text])
        except PoisonMessage as err:
            assert 0 < len(err.reason) <= MAX_REASON_CHARS
            continue
        key = text.split("=", 1)[0]
        assert "${" not in text and (key in ALLOWED_KEYS or key in ("data", "trainer", "model")), text


# ---------------------------------------------------------------- 9: malformed numbers in data


def _jsonl(tmp_path, line: str):
    from receipt_lightning.data.jsonl import load_jsonl

    path = tmp_path / "train.jsonl"
    path.write_text('{"id": "ok", "words": ["A"], "bboxes": [[1, 2, 3, 4]]}\n' + line + "\n")
    return load_jsonl(path), str(path)


@pytest.mark.parametrize(
    "line, says",
    [
        ('{"id": "r", "words": ["A"], "bboxes": [[1, 2, ' + "9" * 400 + ", 4]]}", "bbox must be 4 numbers"),
        ('{"id": "r", "words": ["A", "B"], "bboxes": [[1, 2, 3, 4], [1, 2, 1e12, 4]]}', "within +-100000 px"),
        ('{"id": "r", "words": ["A"], "bboxes": [[1, 2, 3, 4]], "width": ' + "9" * 400 + "}", "'width'"),
        ('{"id": "r", "words": ["A"], "bboxes": [[1, 2, 3, 1e400]]}', "bbox must be 4 numbers"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"id": "r", "x": ' + "1" * 5000 + "}", "invalid number"),
    ],
)
def test_malformed_numbers_in_jsonl_name_file_and_line(tmp_path, line, says):
    with pytest.raises(InputError) as err:
        _jsonl(tmp_path, line)
    assert "train.jsonl:2: " in str(err.value) and says in str(err.value)


def test_absurd_sroie_coordinates_name_file_and_line(tmp_path):
    from receipt_lightning.data.sroie import load_sroie

    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "001.csv").write_text("1,2,3,2,3,4,1,4,TOTAL\n1,2,1000000000000,2,3,4,1,4,9.00\n")
    with pytest.raises(InputError, match=r"001.csv:2: coordinate out of range"):
        load_sroie(tmp_path, label=False)
    (tmp_path / "box" / "001.csv").write_text("1,2,3,2,3,4,1,4,TOTAL\n" + ",".join(["9" * 400] * 8) + ",X\n")
    with pytest.raises(InputError, match=r"001.csv:2: coordinate out of range"):
        load_sroie(tmp_path, label=False)


def test_invalid_utf8_in_a_sroie_key_is_reported(tmp_path, caplog):
    from receipt_lightning.data.sroie import load_sroie

    (tmp_path / "box").mkdir()
    (tmp_path / "key").mkdir()
    (tmp_path / "box" / "001.csv").write_text("1,2,3,2,3,4,1,4,TOTAL 9.00\n")
    (tmp_path / "key" / "001.json").write_bytes(b'{"total": "9.00",\n "company": "AB\xff\xfeC"}')
    with caplog.at_level(logging.WARNING):
        receipts = load_sroie(tmp_path, label=False)
    assert receipts[0].fields["total"] == "9.00"
    assert "001.json:2: invalid UTF-8" in caplog.text


def _fuzz_line(rng: random.Random) -> str:
    pieces = ['{"id": ', '"r', str(rng.randrange(10**6)), '"', ', "words": ["A", "B"]', ', "bboxes": [[',
              rng.choice(["1", "-5", "1e12", "9" * 400, "NaN", "Infinity", "1.5", "true", "null", '"x"']),
              ", 2, 3, 4], [1, 2, 3, 4]]", ', "width": ', rng.choice(["100", "0", "1e400", "-1", "[]"]),
              ', "labels": ["O", "B-total"]', ', "line_ids": [0, ', rng.choice(["1", "-1", "1.5", "99999999999"]),
              "]", "}", "[" * rng.randrange(1, 3000), "\n"]  # fmt: skip
    kept = [p for p in pieces if rng.random() < 0.85]
    if rng.random() < 0.2:
        i = rng.randrange(len(kept) + 1)
        kept.insert(i, rng.choice(HOSTILE))
    return "".join(kept)


def test_fuzz_jsonl_and_sroie_readers(tmp_path):
    """1,500 seeded malformed JSONL lines and SROIE box/key files: each file ends in receipts or
    an InputError naming it (and, for JSONL, the line); never another exception."""
    from receipt_lightning.data.jsonl import load_jsonl
    from receipt_lightning.data.sroie import load_sroie

    rng = random.Random(99)
    path = tmp_path / "f.jsonl"
    outcomes = {"data": 0, "error": 0}
    for _ in range(1000):
        path.write_text(_fuzz_line(rng), encoding="utf-8", errors="surrogatepass")
        try:
            load_jsonl(path)
            outcomes["data"] += 1
        except InputError as err:
            assert str(path) in str(err) and (f"{path}:1:" in str(err) or "no receipts" in str(err)), err
            outcomes["error"] += 1
    root = tmp_path / "sroie"
    (root / "box").mkdir(parents=True)
    (root / "key").mkdir()
    numbers = ["1", "20", "-3", "1e3", "9" * 400, "1000000000000", "", "x", "4" * 5000]
    for _ in range(500):
        rows = []
        for _row in range(rng.randrange(1, 5)):
            coords = [rng.choice(numbers) if rng.random() < 0.1 else str(rng.randrange(500)) for _ in range(8)]
            rows.append(",".join(coords) + "," + _random_text(rng).replace("\n", " "))
        box = "\n".join(rows).encode("utf-8", errors="surrogatepass")
        (root / "box" / "001.csv").write_bytes(box if rng.random() < 0.9 else box + b"\xff\xfe")
        key = json.dumps({"total": _random_text(rng), "company": rng.choice([1, None, "A"])}).encode()
        (root / "key" / "001.json").write_bytes(rng.choice([key, key[:-1], b"\xff" + key, b"[" * 5000]))
        try:
            load_sroie(root, label=rng.random() < 0.5)
            outcomes["data"] += 1
        except InputError as err:
            assert "001.csv" in str(err) or "001.json" in str(err), err
            outcomes["error"] += 1
    assert outcomes["data"] > 100 and outcomes["error"] > 100, outcomes


# ---------------------------------------------------------------- 10: checkpoint discovery


class _NotAllowed:
    """A class ``torch.load(weights_only=True)`` refuses to unpickle."""


def test_discovery_falls_back_past_unreadable_candidates(tmp_path, caplog):
    import torch

    from receipt_lightning.runs import checkpoint_name as step_file_name
    from receipt_lightning.training.checkpointing.builder import find_resume_checkpoint
    from receipt_lightning.training.checkpointing.efs_checkpoint_io import EFSCheckpointIO
    from receipt_lightning.training.checkpointing.files import SIDECAR_SUFFIX, save_verified

    io = EFSCheckpointIO(keep_last_k=5)
    good = os.path.join(tmp_path, step_file_name(10))
    io.save_checkpoint({"global_step": 10, "state_dict": {"w": torch.ones(2)}}, good)
    refused = os.path.join(tmp_path, step_file_name(20))  # sha matches, the safe unpickler refuses it
    save_verified(refused, lambda f: torch.save({"global_step": 20, "x": _NotAllowed()}, f))
    bad_sidecar = os.path.join(tmp_path, step_file_name(30))
    io.save_checkpoint({"global_step": 30, "state_dict": {"w": torch.ones(2)}}, bad_sidecar)
    with open(bad_sidecar + SIDECAR_SUFFIX, "wb") as f:
        f.write(b"\xff\xfe not utf-8\n")
    with caplog.at_level(logging.WARNING):
        assert find_resume_checkpoint(str(tmp_path)) == good
    assert "step-00000030.ckpt" in caplog.text and "step-00000020.ckpt" in caplog.text
    assert "weights_only" in caplog.text


def test_metric_encoder_bound_is_below_dynamodb_max():
    from receipt_lightning.aws.ddb_values import MAX_MAGNITUDE
    from receipt_lightning.training.loggers.dynamodb.items import encode_number

    assert MAX_MAGNITUDE < 10**126
    assert encode_number(1e126) == (None, "1e+126")
    number, text = encode_number(9.999999999999998e125)
    assert text is None and number is not None


def test_message_rules_are_the_submit_rules():
    from receipt_lightning.jobs import job_config, messages
    from receipt_lightning.sweeps.ids import SWEEP_ID

    assert messages.SWEEP_ID.pattern == SWEEP_ID.pattern  # jobs may not import sweeps (layers)
    assert job_config.DATA_FORMATS is messages.DATA_FORMATS
