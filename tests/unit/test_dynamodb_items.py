"""Keys and value encoding of the metrics table: non-finite numbers, ordering, odd hparams."""

from __future__ import annotations

import enum
import math
from argparse import Namespace
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from receipt_lightning.training.loggers.dynamodb.items import (
    decode_point,
    encode_number,
    event_sk,
    from_dynamo,
    metric_item,
    metric_sk,
    to_dynamo,
    to_plain,
)


@pytest.mark.parametrize(
    ("value", "number", "text"),
    [
        (0.1, Decimal("0.1"), None),
        (0.0, Decimal("0.0"), None),
        (-3, Decimal(-3), None),
        (True, Decimal(1), None),
        (math.nan, None, "NaN"),
        (math.inf, None, "Infinity"),
        (-math.inf, None, "-Infinity"),
        (1e-300, None, "1e-300"),  # below DynamoDB's 1e-130: the service would reject the batch
        (1e200, None, "1e+200"),
        (10**40, Decimal("1E+40"), None),  # 1 significant digit: DynamoDB keeps it exactly
        (10**40 + 1, None, str(10**40 + 1)),  # 41 significant digits: more than DynamoDB keeps
    ],
)
def test_encode_number(value, number, text):
    assert encode_number(value) == (number, text)


@pytest.mark.parametrize("value", [0.123456789012345678, -2.5e-7, math.nan, math.inf, -math.inf, 1e-300, 7])
def test_metric_point_round_trip(value):
    item = metric_item("r", "val/loss", value, 12, 3, 1_700_000_000.1234)
    point = decode_point(item)
    assert point.name == "val/loss" and point.step == 12 and point.epoch == 3
    assert point.wall_time == pytest.approx(1_700_000_000.123)
    if math.isnan(value):
        assert math.isnan(point.value) and item["nonfinite"] is True
    else:
        assert point.value == value


def test_sort_keys_order_by_step_and_time():
    assert sorted(metric_sk("loss", s) for s in (10, 9, 100, 0)) == [
        metric_sk("loss", s) for s in (0, 9, 10, 100)
    ]
    assert event_sk(1_700_000_000_000, 2) < event_sk(1_700_000_000_000, 10) < event_sk(1_700_000_000_001, 0)


class Color(enum.Enum):
    RED = "red"


@dataclass
class Opt:
    lr: float = 0.1
    betas: tuple = (0.9, 0.99)


def test_to_plain_makes_config_and_odd_types_json_able():
    import json

    cfg = OmegaConf.create({"a": 1, "b": "${a}", "nested": {"path": "/x"}})
    broken = OmegaConf.create({"x": "${hydra:runtime.cwd}"})  # cannot resolve outside Hydra
    loop: dict = {}
    loop["self"] = loop
    params = {
        "cfg": cfg,
        "broken": broken,
        "ns": Namespace(k=2),
        "opt": Opt(),
        "path": Path("/data"),
        "color": Color.RED,
        "tensor": torch.tensor([1.0, 2.0]),
        "np": np.float32(0.5),
        "cls": torch.nn.Linear,
        "fn": math.sqrt,
        "set": {3, 1},
        "loop": loop,
        7: "int key",
    }
    plain = to_plain(params)
    json.dumps(plain)  # nothing left that JSON cannot hold
    assert plain["cfg"] == {"a": 1, "b": 1, "nested": {"path": "/x"}}
    assert plain["broken"] == {"x": "${hydra:runtime.cwd}"}
    assert plain["ns"] == {"k": 2} and plain["opt"] == {"lr": 0.1, "betas": [0.9, 0.99]}
    assert plain["path"] == "/data" and plain["color"] == "red" and plain["tensor"] == [1.0, 2.0]
    assert plain["np"] == 0.5 and plain["cls"] == "torch.nn.modules.linear.Linear"
    assert plain["fn"] == "math.sqrt" and plain["set"] == [1, 3] and plain["7"] == "int key"


def test_to_dynamo_and_back():
    plain = {"lr": 0.001, "n": 3, "bad": math.nan, "list": [1.5, math.inf], "s": "x", "flag": True}
    stored = to_dynamo(plain)
    assert stored["lr"] == Decimal("0.001") and stored["bad"] == "NaN" and stored["list"][1] == "Infinity"
    assert stored["flag"] is True
    assert from_dynamo(stored) == {
        "lr": 0.001,
        "n": 3,
        "bad": "NaN",
        "list": [1.5, "Infinity"],
        "s": "x",
        "flag": True,
    }
