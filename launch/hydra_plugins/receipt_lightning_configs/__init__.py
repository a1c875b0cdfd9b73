"""Registers receipt-lightning's typed config groups in Hydra's ConfigStore.

Hydra imports every module of the ``hydra_plugins`` namespace package when it starts (any
``@hydra.main``, ``hydra.compose``, ``receipt_lightning.configs.compose``), so these schemas are
there for every entry point without anything importing them first. ``conf/checkpoint/default.yaml``
and ``conf/spot/default.yaml`` extend them (``defaults: [settings, _self_]``): a key or type the
dataclass does not allow fails when the config is composed, naming the key.
"""

from hydra.core.config_store import ConfigStore

from receipt_lightning.training.checkpointing.settings import CheckpointSettings
from receipt_lightning.training.spot.settings import SpotConfig

_store = ConfigStore.instance()
_store.store(group="checkpoint", name="settings", node=CheckpointSettings, provider="receipt_lightning")
_store.store(group="spot", name="settings", node=SpotConfig, provider="receipt_lightning")
