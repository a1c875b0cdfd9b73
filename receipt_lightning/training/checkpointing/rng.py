"""``RNGStateCallback``: save every global RNG state in the checkpoint and restore it on resume.

Saved: torch CPU, every CUDA device (when available), numpy's global ``RandomState`` and
Python's ``random``, as tensors and plain containers (loadable with ``weights_only=True``).

Restored at ``on_train_start``, not at load time: between loading the checkpoint and the first
training batch Lightning builds the train iterator (``DataLoader.__iter__`` draws its base seed
from the global torch RNG unless the loader has its own ``generator=``) and may run a sanity
check; restoring after those makes the first resumed batch see exactly the RNG state the
interrupted run saw after its checkpoint.

Validation is made RNG-neutral for training: the state after each training batch is put back
when a validation run ends. A resume from a checkpoint taken on the last batch of an epoch does
not repeat that epoch's validation, so draws made by validation (a val loader without its own
``generator=``, random augmentation in a val dataset) would otherwise shift every later batch.

Draws no hook can isolate: ``iter()`` on a DataLoader built without ``generator=`` draws its
base seed from the global torch RNG, at each train epoch start and, on a resume at an epoch
boundary, when Lightning fast-forwards the validation loop (outside any validation hook). So at
``on_train_start`` every train and validation DataLoader without a generator gets a private one
(this only changes where loader workers' base seeds come from).
"""

from __future__ import annotations

import logging
import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from receipt_lightning.errors import FatalError

log = logging.getLogger(__name__)
PRIVATE_GENERATOR_SEED = 0x5EED  # base seeds of loaders that came without a generator


def _loaders(obj: Any) -> list[Any]:
    """The DataLoaders in what ``trainer.train_dataloader`` / ``val_dataloaders`` return."""
    if obj is None:
        return []
    if isinstance(obj, torch.utils.data.DataLoader):
        return [obj]
    if isinstance(obj, dict):
        return [dl for v in obj.values() for dl in _loaders(v)]
    if isinstance(obj, (list, tuple)):
        return [dl for v in obj for dl in _loaders(v)]
    flattened = getattr(obj, "flattened", None)  # Lightning's CombinedLoader
    return _loaders(list(flattened)) if flattened is not None else []


def give_private_generators(loaders: Any) -> int:
    """Give each DataLoader without ``generator=`` a private one; returns how many it changed."""
    changed = 0
    for loader in _loaders(loaders):
        if loader.generator is None:
            loader.generator = torch.Generator().manual_seed(PRIVATE_GENERATOR_SEED)
            changed += 1
    return changed


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG state, as tensors and plain containers."""
    bit_generator, key, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "bit_generator": str(bit_generator),
            # uint32 words, widened: int64 tensors load everywhere
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {
            "version": int(py_version),
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": py_gauss,
        },
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng_state``."""
    try:
        torch.set_rng_state(state["torch"])
        cuda_states = state.get("cuda") or []
        if cuda_states and torch.cuda.is_available():
            if len(cuda_states) != torch.cuda.device_count():
                log.warning(
                    "checkpoint holds %d CUDA RNG states, this machine has %d devices; restoring the first",
                    len(cuda_states),
                    torch.cuda.device_count(),
                )
            for device, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
                torch.cuda.set_rng_state(cuda_state, device)
        npy = state["numpy"]
        np.random.set_state(
            (
                npy["bit_generator"],
                npy["key"].numpy().astype(np.uint32),
                npy["pos"],
                npy["has_gauss"],
                npy["cached_gaussian"],
            )
        )
        py = state["python"]
        random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise FatalError(f"checkpoint callbacks[RNGStateCallback]: bad RNG state: {err}") from err


class RNGStateCallback(Callback):
    """Checkpoints the global RNG states; restores them when training (re)starts from one."""

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None
        self._training_state: tuple[Any, ...] | None = None  # raw states after the last train batch

    def _snapshot(self) -> None:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        self._training_state = (torch.get_rng_state(), cuda, np.random.get_state(), random.getstate())

    @override
    def state_dict(self) -> dict[str, Any]:
        return capture_rng_state()

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = state_dict

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._to_restore is not None:
            restore_rng_state(self._to_restore)
            self._to_restore = None
        elif trainer.ckpt_path is not None:
            log.warning(
                "%s holds no RNG state: the resumed run will not repeat the interrupted one",
                trainer.ckpt_path,
            )
        changed = give_private_generators([trainer.train_dataloader, trainer.val_dataloaders])
        if changed:
            log.info(
                "gave %d DataLoader(s) without generator= a private one (global RNG untouched by iter())",
                changed,
            )
        self._snapshot()

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._snapshot()

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._training_state is None:
            return  # Lightning runs the sanity check inside isolate_rng() already
        torch_state, cuda, numpy_state, python_state = self._training_state
        torch.set_rng_state(torch_state)
        for device, cuda_state in enumerate(cuda):
            torch.cuda.set_rng_state(cuda_state, device)
        np.random.set_state(numpy_state)
        random.setstate(python_state)
