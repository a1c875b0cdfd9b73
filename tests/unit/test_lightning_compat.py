"""Every private Lightning attribute the package relies on (``lightning_compat.PRIVATES``) still
exists on the installed Lightning, with the parameters the wrappers pass: a Lightning upgrade
that renames or reshapes one fails here, by name, rather than somewhere in a resumed run."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from receipt_lightning.training import lightning_compat
from receipt_lightning.training.lightning_compat import PRIVATES, Private


def _resolve(dotted: str) -> Any:
    """A module, or a class in one, by dotted path."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


@pytest.fixture(scope="module")
def instances(tmp_path_factory) -> dict[str, Any]:
    """One instance of each owner of an instance attribute, made as the package gets them."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path_factory.mktemp("trainer")),
    )
    return {
        "lightning.pytorch.callbacks.ModelCheckpoint": ModelCheckpoint(
            dirpath=str(tmp_path_factory.mktemp("c"))
        ),
        "lightning.pytorch.Trainer": trainer,
        "lightning.pytorch.loops.fit_loop._FitLoop": trainer.fit_loop,
        # reached as the compat module reaches it (the Trainer entry above checks the name)
        "lightning.pytorch.trainer.connectors.signal_connector._SignalConnector": getattr(
            trainer, "_signal_connector", None
        ),
    }


@pytest.mark.parametrize("private", PRIVATES, ids=lambda p: f"{p.owner.rsplit('.', 1)[-1]}.{p.name}:{p.kind}")
def test_private_lightning_attribute_still_exists(private: Private, instances: dict[str, Any]) -> None:
    owner = _resolve(private.owner)
    if private.kind == "instance attribute":
        assert private.params is None
        assert private.owner in instances, f"no instance of {private.owner} to check {private.name} on"
        instance = instances[private.owner]
        assert isinstance(instance, owner), f"{private.owner} is no longer the class of that object"
        assert hasattr(instance, private.name), f"{private.owner} instances lost {private.name}"
        return
    assert private.kind in ("method", "override", "function"), private.kind
    attr = getattr(owner, private.name, None)
    assert callable(attr), f"{private.owner}.{private.name} is gone"
    params = tuple(inspect.signature(attr).parameters)
    assert params == private.params, f"{private.owner}.{private.name} now takes {params}"


def test_privates_name_every_wrapper_dependency():
    """Each entry is listed once per kind, and the module's own source names each attribute: a
    wrapper added without its entry, or an entry left after its wrapper went, shows up here."""
    keys = [(p.owner, p.name, p.kind) for p in PRIVATES]
    assert len(keys) == len(set(keys))
    source = inspect.getsource(lightning_compat).split("PRIVATES: tuple", 1)[1].split("\n)\n", 1)[1]
    for p in PRIVATES:
        assert p.name in source, f"{p.name} is listed but no wrapper uses it"


def test_cadence_override_matches_and_is_called(tmp_path, monkeypatch):
    """``CadenceCheckpoint._save_checkpoint`` overrides the protected method with the same
    parameters, and Lightning still routes every save of the callback through it."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.demos.boring_classes import BoringModel

    from receipt_lightning.training.checkpointing import cadence
    from receipt_lightning.training.checkpointing.cadence import CadenceCheckpoint

    overridden = [p for p in PRIVATES if p.kind == "override"]
    assert overridden
    for p in overridden:
        assert _resolve(p.owner) is ModelCheckpoint
        assert tuple(inspect.signature(getattr(CadenceCheckpoint, p.name)).parameters) == p.params
        assert p.name in vars(CadenceCheckpoint)

    restarts: list[int] = []
    real = cadence.restart_time_clock
    monkeypatch.setattr(cadence, "restart_time_clock", lambda mc: (restarts.append(1), real(mc)))
    mc = CadenceCheckpoint(str(tmp_path), every_n_train_steps=2, every_n_minutes=60.0, save_top_k=-1)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=5,
        limit_val_batches=0,
        callbacks=[mc],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(BoringModel())
    saved = sorted(f for f in (tmp_path).iterdir() if f.suffix == ".ckpt")
    assert len(saved) == 2 and len(restarts) == 2  # steps 2 and 4, each through the override
    assert lightning_compat.last_saved_step(mc) == 4
    assert lightning_compat.last_saved_path(mc) == str(saved[-1])


def test_wrappers_keep_lightning_semantics(tmp_path):
    from argparse import Namespace

    from lightning.pytorch.callbacks import ModelCheckpoint

    fresh = ModelCheckpoint(dirpath=str(tmp_path))
    assert lightning_compat.last_saved_step(fresh) == 0 and lightning_compat.last_saved_path(fresh) == ""
    assert lightning_compat.last_saved_step(object()) is None  # not a ModelCheckpoint
    assert lightning_compat.add_prefix({"loss": 1.0}, "train", "/") == {"train/loss": 1.0}
    assert lightning_compat.add_prefix({"loss": 1.0}, "", "/") == {"loss": 1.0}
    assert lightning_compat.convert_params(None) == {}
    assert lightning_compat.convert_params(Namespace(lr=0.1)) == {"lr": 0.1}
