"""Make a checkpoint dict loadable with ``torch.load(weights_only=True)``.

``weights_only`` unpickling accepts tensors, dtypes, devices, ``torch.Size`` and plain Python
containers and scalars only. Lightning puts other types in a checkpoint when the user does:
``save_hyperparameters()`` keeps an ``AttributeDict`` and, with Hydra, ``DictConfig`` values;
numpy RNG states and metrics are numpy arrays and numpy scalars. ``to_safe_state`` rebuilds the
dict from plain types (cloning tensors on request, so an asynchronous save can write a snapshot
while training mutates the live ones) and names the key of anything it cannot convert, at save
time, rather than writing a checkpoint that a resume would refuse.
"""

from __future__ import annotations

import enum
import os
from argparse import Namespace
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from receipt_lightning.errors import FatalError

_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def _to_container(obj: Any, where: str) -> Any:
    """OmegaConf containers to dict/list (resolving interpolations), or the object unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # omegaconf is a dependency; without it there is nothing to convert
        return obj
    if isinstance(obj, (DictConfig, ListConfig)):
        try:
            return OmegaConf.to_container(obj, resolve=True)
        except Exception as err:  # omegaconf raises several types for unresolvable values
            raise FatalError(f"{where}: cannot resolve config for the checkpoint: {err}") from err
    return obj


def to_safe_state(obj: Any, clone: bool = False, where: str = "checkpoint") -> Any:
    """A copy of ``obj`` built only from types ``torch.load(weights_only=True)`` accepts.

    ``clone=True`` copies tensor data to host memory (for a save that runs after the caller
    continues; the copy frees accelerator memory and keeps the writer thread off the device).
    Raises FatalError naming the key (``where``) of a value it cannot convert.
    """
    import numpy as np
    import torch

    obj = _to_container(obj, where)
    if isinstance(obj, enum.Enum):  # e.g. a str-valued enum in user hyperparameters
        obj = obj.value
    if isinstance(obj, _SCALARS) and type(obj) in _SCALARS:
        return obj
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        if type(t) is not torch.Tensor:  # Parameter or another subclass: store plain data
            t = t.as_subclass(torch.Tensor)
        return t.to("cpu", copy=True) if clone else t
    if isinstance(obj, (torch.dtype, torch.device, torch.Size)):
        return obj
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, _SCALARS):  # subclasses of scalars (IntEnum handled above, str subclasses)
        for base in _SCALARS:
            if isinstance(obj, base):
                return base(obj)
    if isinstance(obj, Namespace):
        obj = vars(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for key, value in obj.items():
            safe_key = to_safe_state(key, False, f"{where} key {key!r}")
            out[safe_key] = to_safe_state(value, clone, f"{where}[{key!r}]")
        metadata = getattr(obj, "_metadata", None)  # module state_dict version info
        if isinstance(out, OrderedDict) and metadata is not None:
            out._metadata = to_safe_state(metadata, False, f"{where}._metadata")  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [to_safe_state(v, clone, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, list):
            return items
        if isinstance(obj, tuple):
            return tuple(items)  # namedtuples become plain tuples
        return set(items)
    raise FatalError(
        f"{where}: a {type(obj).__module__}.{type(obj).__qualname__} cannot be loaded with "
        "torch.load(weights_only=True); store it as plain containers, numbers, strings or tensors"
    )
