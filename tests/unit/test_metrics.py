"""SROIE task-3 scoring, the evaluate/label-bound commands, and the bound on the real receipts."""

from __future__ import annotations

import argparse
import json

import pytest

from receipt_lightning.commands import evaluate, label_bound
from receipt_lightning.errors import InputError
from receipt_lightning.fields.sroie_metrics import load_json_dir, score, worst_receipts

TRUTH = {
    "a": {"company": "ACME SDN BHD", "date": "01/02/2018", "address": "NO 1, JALAN SATU", "total": "9.00"},
    "b": {"company": "BETA", "date": "03/04/2018", "address": "NO 2", "total": ""},
}


def test_exact_match_after_whitespace_normalisation_and_relaxed_score():
    pred = {
        "a": {
            "company": " ACME  SDN BHD ",
            "date": "01/02/2018",
            "address": "NO 1,JALAN SATU",
            "total": "RM9.00",
        },
        "b": {"company": "beta", "date": "03/04/2018", "address": "NO 2"},
    }
    result = score(pred, TRUTH)
    exact, relaxed = result["exact"], result["relaxed"]
    assert (exact["correct"], exact["predicted"], exact["true"]) == (4, 7, 7)
    assert exact["per_field"]["company"]["accuracy"] == 0.5
    assert exact["per_field"]["address"]["accuracy"] == 0.5
    # Case, spaces and punctuation ignored: "NO 1,JALAN SATU" and "beta" count; "RM9.00" does not.
    assert relaxed["correct"] == 6
    assert exact["f1"] == pytest.approx(4 / 7)


def test_omitted_field_is_a_miss_not_a_false_positive():
    pred = {"a": {"company": "ACME SDN BHD"}, "b": {}}
    exact = score(pred, TRUTH)["exact"]
    assert exact["precision"] == 1.0 and exact["recall"] == pytest.approx(1 / 7)
    # A value where the key is empty is a false positive; a missing receipt is all misses.
    exact = score({"b": {"total": "5.00"}}, TRUTH)["exact"]
    assert (
        exact["predicted"] == 1 and exact["correct"] == 0 and exact["true"] == 7 and exact["precision"] == 0.0
    )


def test_worst_receipts_lists_predicted_and_true_values():
    pred = {"a": {"company": "ACME", "date": "01/02/2018"}, "b": dict(TRUTH["b"])}
    worst = worst_receipts(pred, TRUTH, n=5)
    assert [w["id"] for w in worst] == ["a"]
    assert worst[0]["errors"] == 3
    assert worst[0]["fields"]["company"] == {"predicted": "ACME", "true": "ACME SDN BHD"}
    assert worst[0]["fields"]["total"] == {"predicted": None, "true": "9.00"}


def write_dir(path, data):
    path.mkdir(parents=True, exist_ok=True)
    for rid, fields in data.items():
        (path / f"{rid}.json").write_text(json.dumps(fields))
    return path


def test_load_json_dir_accepts_sroie_root_and_names_bad_files(tmp_path):
    write_dir(tmp_path / "root" / "key", TRUTH)
    assert load_json_dir(tmp_path / "root") == TRUTH
    # The shared SROIE root also holds img_original_sizes.json: still its key/ is read.
    (tmp_path / "root" / "img_original_sizes.json").write_text('{"000": [463, 1013]}')
    assert load_json_dir(tmp_path / "root") == TRUTH
    bad = write_dir(tmp_path / "bad", {})
    (bad / "x.json").write_text('{"company": ')
    with pytest.raises(InputError, match=r"x\.json:1"):
        load_json_dir(bad)
    (bad / "x.json").write_text('{"company": ["A"]}')
    with pytest.raises(InputError, match="x.json.*company"):
        load_json_dir(bad)


def run_command(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


def test_evaluate_command_text_and_json(tmp_path, capsys):
    truth = write_dir(tmp_path / "sroie" / "key", TRUTH)
    pred = write_dir(tmp_path / "pred", {"a": TRUTH["a"]})
    assert (
        run_command(
            evaluate, ["--predictions", str(pred), "--ground-truth", str(truth.parent), "--worst", "3"]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "exact" in text and "F1 1.0000" in text and "relaxed" in text and "address" in text
    assert (
        run_command(
            evaluate, ["--predictions", str(pred), "--ground-truth", str(truth), "--json", "--all-truth"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["exact"]["true"] == 7 and result["exact"]["correct"] == 4


@pytest.mark.sroie
def test_label_bound_on_the_real_receipts(sroie_dir, capsys):
    """The weak labelling's ceiling on the shared receipts (measured: all 0.9364 by the decoder's
    rules, 0.9399 with the training-key lexicon, leave-one-out on training receipts; validation
    0.9312 and 0.9537). The lexicon's known-store line ranges cost the bound 8 keys (0.9438
    before), all of stores whose keys disagree among themselves, and gain 20 on real predictions
    (docs/sroie.md). Preferring a total's 5-sen rounding costs it 2 totals whose keys hold the
    unrounded amount (0.9389 all) and gains 11 out of fold on the cross-validation models.

    The keys were typed by hand: about 1 address in 5 differs from the OCR text in spacing or
    punctuation, which no decoder of OCR words alone can reproduce; the lexicon recovers the
    merchants that recur with the typists' spelling. The relaxed score is about 0.98.
    """
    assert run_command(label_bound, ["--data", str(sroie_dir), "--split", "all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    exact = result["decoder+lexicon"]["exact"]
    assert result["n_receipts"] == 501
    assert exact["f1"] >= 0.935 and result["decoder"]["exact"]["f1"] >= 0.93
    assert result["decoder+lexicon"]["relaxed"]["f1"] >= 0.975
    fields = exact["per_field"]
    assert fields["company"]["accuracy"] >= 0.955 and fields["date"]["accuracy"] >= 0.99
    assert fields["address"]["accuracy"] >= 0.80 and fields["total"]["accuracy"] >= 0.99
    # Validation receipts see the whole training lexicon (none of their keys are in it).
    assert run_command(label_bound, ["--data", str(sroie_dir), "--split", "val", "--json"]) == 0
    val = json.loads(capsys.readouterr().out)["decoder+lexicon"]["exact"]
    assert val["f1"] >= 0.95 and val["per_field"]["address"]["accuracy"] >= 0.84
