"""Typed config groups: ``checkpoint``, ``spot`` and ``hydra/launcher=sqs`` come from dataclasses
in Hydra's ConfigStore, the model configs share ``conf/model/base.yaml``, and the DynamoDB
logger is chosen by the config (no metrics table: no logger)."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
from omegaconf import OmegaConf

from receipt_lightning.configs import compose
from receipt_lightning.errors import InputError
from receipt_lightning.training.checkpointing.settings import CheckpointSettings


def test_checkpoint_group_is_the_dataclass_with_a_best_metric():
    ckpt = OmegaConf.to_container(compose([], hydra_config=False).checkpoint, resolve=True)
    assert ckpt == asdict(replace(CheckpointSettings(), monitor="val/f1"))


def test_checkpoint_types_are_checked_when_composed_and_ranges_when_built():
    with pytest.raises(Exception, match="keep_last_k"):
        compose(["checkpoint.keep_last_k=three"], hydra_config=False)
    with pytest.raises(InputError, match="checkpoint.keep_last_k"):
        CheckpointSettings.from_mapping({"keep_last_k": 0})
    with pytest.raises(InputError, match="unknown key.*every_n_steps"):
        CheckpointSettings.from_mapping({"every_n_steps": 5})


def test_sqs_launcher_option_is_the_registered_dataclass():
    launcher = compose(["hydra/launcher=sqs"]).hydra.launcher
    assert launcher._target_ == "hydra_plugins.sqs_launcher.sqs_launcher.SQSLauncher"
    assert (launcher.priority, launcher.metric, launcher.mode, launcher.stack) == (
        "normal",
        "val/f1",
        "max",
        None,
    )
    with pytest.raises(Exception, match="prority"):
        compose(["hydra/launcher=sqs", "hydra.launcher.prority=high"])


@pytest.mark.parametrize("model", ["layoutlm_tiny", "layoutlm_minilm", "layoutlm_base"])
def test_every_model_config_is_complete(model):
    node = compose([f"model={model}"], hydra_config=False).model
    assert OmegaConf.missing_keys(node) == set()
    assert node._target_ == "receipt_lightning.model.module.ReceiptTokenClassifier"


def test_dynamodb_logger_only_with_a_metrics_table():
    from hydra.utils import instantiate

    off = compose(["logger=default", "aws.metrics_table=null", "run_id=r1"], hydra_config=False)
    assert instantiate(off.logger.dynamodb) is None
    on = compose(["logger=default", "aws.metrics_table=metrics", "run_id=r1"], hydra_config=False)
    logger = instantiate(on.logger.dynamodb, client_factory=lambda: None)
    assert type(logger).__name__ == "DynamoDBLogger"
    # An empty name is a mistake, not "no table" (Hydra wraps the InputError).
    with pytest.raises(Exception, match="metrics table name is empty"):
        instantiate(
            compose(
                ["logger=dynamodb", "aws.metrics_table=''", "run_id=r1"], hydra_config=False
            ).logger.dynamodb
        )
