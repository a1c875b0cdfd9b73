"""One DynamoDB value rule for every table: what becomes a number, what a string, what reads back.

The jobs table used to send NaN as a number (boto3 refused the whole write) while the metrics
table stored it as text; both now go through ``receipt_lightning.aws.ddb_values``."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from receipt_lightning.aws.ddb_values import (
    MAX_MAGNITUDE,
    MIN_MAGNITUDE,
    encode_number,
    from_dynamo,
    to_dynamo,
)
from receipt_lightning.jobs.ddb import deserialize, serialize
from receipt_lightning.runs import JobStatus
from receipt_lightning.training.loggers.dynamodb.items import decode_point, metric_item


@pytest.mark.parametrize(
    ("value", "number", "text"),
    [
        (math.nan, None, "NaN"),
        (math.inf, None, "Infinity"),
        (-math.inf, None, "-Infinity"),
        (1e126, None, "1e+126"),  # above 9.99...9E+125 (38 nines): the service would refuse it
        (-1e126, None, "-1e+126"),
        (1e-140, None, "1e-140"),  # below 1E-130
        (1e125, Decimal("1E+125"), None),
        (-1e125, Decimal("-1E+125"), None),
        (1e-130, Decimal("1E-130"), None),  # the smallest magnitude DynamoDB stores
        (9.999999999999998e125, Decimal("9.999999999999998E+125"), None),  # largest float below 1e126
        (0.0, Decimal("0.0"), None),
        (0, Decimal(0), None),
        (True, Decimal(1), None),  # a metric logged as a bool counts as 1
        (False, Decimal(0), None),
        (10**38 - 1, Decimal(10**38 - 1), None),  # 38 digits: kept exactly
        (10**38 + 1, None, str(10**38 + 1)),  # 39 significant digits: would be rounded
        (10**40, Decimal("1E+40"), None),  # trailing zeros cost no precision
        (Decimal("NaN"), None, "NaN"),
        (Decimal("2.5"), Decimal("2.5"), None),
    ],
)
def test_encode_number(value, number, text):
    assert encode_number(value) == (number, text)
    if number is not None:
        # boto3 serializes it as it is (no rounding trap), within the service's documented range
        assert TypeSerializer().serialize(number) == {"N": str(number)}
        assert number.is_zero() or MIN_MAGNITUDE <= abs(number) <= MAX_MAGNITUDE
    else:
        assert math.isnan(float(text)) or float(text) == float(value) or int(text) == value


def test_to_dynamo_keeps_bools_strings_and_enums_plain():
    stored = to_dynamo(
        {
            "flag": True,
            "off": False,
            "none": None,
            "s": "x",
            "status": JobStatus.COMPLETED,
            3: (1.5, math.nan),
        }
    )
    assert stored["flag"] is True and stored["off"] is False and stored["none"] is None
    assert type(stored["status"]) is str and stored["status"] == "COMPLETED"
    assert stored["3"] == [Decimal("1.5"), "NaN"]  # keys become strings, tuples lists
    TypeSerializer().serialize(stored)  # nothing boto3 refuses


def test_reading_back_integral_numbers_gives_ints():
    assert from_dynamo(
        {"a": Decimal("1E+40"), "b": Decimal("1.0"), "c": Decimal("0.25"), "d": {Decimal(2), Decimal(1)}}
    ) == {
        "a": 10**40,
        "b": 1,  # DynamoDB drops trailing zeros itself: 1.0 comes back as 1 from the service
        "c": 0.25,
        "d": [1, 2],
    }


def test_jobs_and_metrics_tables_store_the_same_values_the_same_way():
    values = {"nan": math.nan, "inf": math.inf, "big": 1e126, "tiny": 1e-140, "ok": 1e125, "flag": True}
    job_item = serialize(values)  # the jobs table (used to raise on NaN)
    assert job_item["nan"] == {"S": "NaN"} and job_item["inf"] == {"S": "Infinity"}
    assert job_item["big"] == {"S": "1e+126"} and job_item["tiny"] == {"S": "1e-140"}
    assert job_item["ok"] == {"N": "1E+125"} and job_item["flag"] == {"BOOL": True}
    assert deserialize(job_item) == {
        **values,
        "nan": "NaN",
        "inf": "Infinity",
        "big": "1e+126",
        "tiny": "1e-140",
        "ok": 10**125,
    }
    for name, value in values.items():
        item = metric_item("run", name, value, 1, None, 0.0)
        stored = {
            k: TypeDeserializer().deserialize(v) for k, v in TypeSerializer().serialize(item)["M"].items()
        }
        if "value_str" in stored:
            assert {"S": stored["value_str"]} == job_item[name] and stored["nonfinite"] is True
        else:
            assert stored["value"] == Decimal(job_item[name].get("N", "1"))
        point = decode_point(stored)
        assert point.value == pytest.approx(float(value), nan_ok=True)
