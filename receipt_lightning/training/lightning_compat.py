"""Every private Lightning attribute this package touches, behind one small named function each.

Lightning's public API does not cover a few things training here needs: saving a checkpoint
through a ``ModelCheckpoint`` so its bookkeeping stays right (Spot interruption), two triggers on
one ``ModelCheckpoint`` (cadence), loading a loader position that ``FitLoop.setup_data`` dropped
(exact resume), clearing a SIGTERM that was taken over, and the prefix/parameter helpers every
Lightning logger uses. Each function below names the private it wraps and why. ``PRIVATES``
lists them all (owner, name, kind, expected parameters); ``tests/unit/test_lightning_compat.py``
asserts each still exists on the installed Lightning with those parameters, so an upgrade that
renames one fails in one named place. ``pyproject.toml`` pins the minor series this was
tested against (``lightning>=2.6,<2.7``).

Nothing outside this module may touch a private Lightning attribute (``git grep`` for the names
below finds them here only). Lightning is imported inside the functions, so reading
``PRIVATES`` imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from argparse import Namespace

    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loops.fit_loop import _FitLoop


class Private(NamedTuple):
    """One private Lightning attribute relied on."""

    owner: str  # dotted path of the class or module that defines it
    name: str  # the attribute
    kind: str  # "method" (called), "override" (overridden here), "function", "instance attribute"
    params: tuple[str, ...] | None  # parameter names expected (methods/functions), None for data


_MC = "lightning.pytorch.callbacks.ModelCheckpoint"
_FIT_LOOP = "lightning.pytorch.loops.fit_loop._FitLoop"
_COMBINED_LOADER = "lightning.pytorch.utilities.combined_loader.CombinedLoader"
_TRAINER = "lightning.pytorch.Trainer"
_SIGNAL_CONNECTOR = "lightning.pytorch.trainer.connectors.signal_connector._SignalConnector"
_FABRIC_LOGGER_UTILS = "lightning.fabric.utilities.logger"

PRIVATES: tuple[Private, ...] = (
    Private(_MC, "_save_checkpoint", "method", ("self", "trainer", "filepath")),
    Private(_MC, "_save_checkpoint", "override", ("self", "trainer", "filepath")),
    Private(_MC, "_save_last_checkpoint", "method", ("self", "trainer", "monitor_candidates")),
    Private(_MC, "_monitor_candidates", "method", ("self", "trainer")),
    Private(_MC, "_last_global_step_saved", "instance attribute", None),
    Private(_MC, "_last_checkpoint_saved", "instance attribute", None),
    Private(_MC, "_train_time_interval", "instance attribute", None),
    Private(_MC, "_last_time_checked", "instance attribute", None),
    Private(_FIT_LOOP, "_combined_loader_states_to_load", "instance attribute", None),
    Private(_FIT_LOOP, "_combined_loader", "instance attribute", None),
    Private(_FIT_LOOP, "_data_fetcher", "instance attribute", None),
    Private(_COMBINED_LOADER, "_load_state_dicts", "method", ("self", "states")),
    Private(_TRAINER, "_signal_connector", "instance attribute", None),
    # a public name on a private class: reached only through Trainer._signal_connector
    Private(_SIGNAL_CONNECTOR, "received_sigterm", "instance attribute", None),
    Private(_FABRIC_LOGGER_UTILS, "_add_prefix", "function", ("metrics", "prefix", "separator")),
    Private(_FABRIC_LOGGER_UTILS, "_convert_params", "function", ("params",)),
)


# ModelCheckpoint ---------------------------------------------------------------------------------


def last_saved_step(checkpoint_callback: Any) -> int | None:
    """``ModelCheckpoint._last_global_step_saved``: the global step of its last save (0 before
    any); None for a checkpoint callback that is not a ``ModelCheckpoint``. Lightning has no
    public "last saved step"; ``last_model_path`` is set only with ``save_last``."""
    return getattr(checkpoint_callback, "_last_global_step_saved", None)


def last_saved_path(checkpoint_callback: Any) -> str:
    """``ModelCheckpoint._last_checkpoint_saved``: the path of its last save, "" before any (or
    for a callback that is not a ``ModelCheckpoint``)."""
    return getattr(checkpoint_callback, "_last_checkpoint_saved", "") or ""


def save_through_model_checkpoint(mc: ModelCheckpoint, trainer: pl.Trainer, filepath: str) -> None:
    """Save ``filepath`` the way ``ModelCheckpoint.on_exception`` does: ``mc._save_checkpoint``
    (dispatched, so a subclass's override runs) then ``mc._save_last_checkpoint`` with
    ``mc._monitor_candidates``. Its own save keeps its bookkeeping right (last saved step,
    ``last_model_path``, the loggers' ``after_save_checkpoint``); ``trainer.save_checkpoint``
    would not."""
    mc._save_checkpoint(trainer, filepath)
    mc._save_last_checkpoint(trainer, mc._monitor_candidates(trainer))


def model_checkpoint_save(mc: ModelCheckpoint, trainer: pl.Trainer, filepath: str) -> None:
    """``ModelCheckpoint._save_checkpoint`` itself, for a subclass whose override of it (listed in
    ``PRIVATES`` as an override) adds to the save: the base implementation, as ``super()``."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    ModelCheckpoint._save_checkpoint(mc, trainer, filepath)


def set_train_time_interval(mc: ModelCheckpoint, interval: timedelta | None) -> None:
    """``ModelCheckpoint._train_time_interval``: the time trigger. Its constructor refuses a time
    trigger together with ``every_n_train_steps``, while ``on_train_batch_end`` evaluates both;
    setting it after construction gives one instance both triggers (cadence checkpoints)."""
    mc._train_time_interval = interval


def restart_time_clock(mc: ModelCheckpoint) -> None:
    """``ModelCheckpoint._last_time_checked``: the start of the time trigger's interval, set to now
    (``time.monotonic()``, as Lightning does), so any save restarts the minutes."""
    import time

    mc._last_time_checked = time.monotonic()


# FitLoop -----------------------------------------------------------------------------------------


def load_pending_loader_states(fit_loop: _FitLoop) -> bool:
    """Load the checkpoint's train-loader position that ``FitLoop.setup_data`` left pending
    (``_combined_loader_states_to_load``: it returns early when the loader was built before the
    loop state was restored, e.g. by ``trainer.estimated_stepping_batches``), through
    ``_combined_loader._load_state_dicts``, and rebuild ``_data_fetcher``'s iterator so it starts
    from that position. Whether there was one to load (False: loaded by ``setup_data`` as
    intended, or nothing to load)."""
    pending = fit_loop._combined_loader_states_to_load
    if not pending or fit_loop._combined_loader is None or fit_loop._data_fetcher is None:
        return False
    fit_loop._combined_loader._load_state_dicts(pending)
    fit_loop._combined_loader_states_to_load = []
    iter(fit_loop._data_fetcher)  # a new iterator that starts from the loaded position
    return True


# Trainer -----------------------------------------------------------------------------------------


def clear_received_sigterm(trainer: pl.Trainer) -> None:
    """``trainer._signal_connector.received_sigterm = False``: ``Trainer.received_sigterm`` has no
    setter. Cleared when a SIGTERM that reached Lightning's handler is taken over (Spot callback),
    else the loops raise ``SIGTERMException`` (exit status 0) at the next batch end."""
    trainer._signal_connector.received_sigterm = False


# Loggers -----------------------------------------------------------------------------------------


def add_prefix(metrics: Mapping[str, Any], prefix: str, separator: str) -> Mapping[str, Any]:
    """``lightning.fabric.utilities.logger._add_prefix``: ``prefix + separator + name`` for every
    metric, as Lightning's own loggers name them (``Logger.LOGGER_JOIN_CHAR``)."""
    from lightning.fabric.utilities.logger import _add_prefix

    return _add_prefix(metrics, prefix, separator)


def convert_params(params: dict[str, Any] | Namespace | None) -> dict[str, Any]:
    """``lightning.fabric.utilities.logger._convert_params``: hyperparameters (a dict, a
    ``Namespace`` or None) as a dict, as Lightning's own loggers take them."""
    from lightning.fabric.utilities.logger import _convert_params

    return _convert_params(params)
