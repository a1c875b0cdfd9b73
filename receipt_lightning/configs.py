"""Where the Hydra configs live, and composing them outside a Hydra entry point.

``conf/`` sits at the repository's top level and is packaged as ``receipt_lightning.conf``
(``pyproject.toml`` maps the folder into the wheel), so one lookup serves an installed wheel, an
editable install and a bare source tree. Everything that needs the configs (the trainer's
``@hydra.main``, job vetting, job files, prices, benchmarks) asks this module; nothing imports
``train.py`` for it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from receipt_lightning.errors import FatalError

CONF_PACKAGE = "receipt_lightning.conf"
PRIMARY_CONFIG = "train"  # conf/train.yaml


@cache
def conf_dir() -> Path:
    """The folder holding ``train.yaml`` and the config groups."""
    # The source tree beside this package first: a checkout (or a git worktree) run in place
    # must use its own conf/, not the one an editable install of another checkout maps.
    candidates = [Path(__file__).resolve().parents[1] / "conf"]
    spec = importlib.util.find_spec(CONF_PACKAGE)
    candidates += [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for folder in candidates:
        if (folder / f"{PRIMARY_CONFIG}.yaml").is_file():
            return folder
    raise FatalError(
        f"Hydra configs not found (looked in {', '.join(map(str, candidates))}); "
        "reinstall receipt-lightning: the wheel carries conf/ as receipt_lightning.conf"
    )


def normalize_overrides(argv: Sequence[str]) -> list[str]:
    """``+experiment=X`` and ``experiment=X`` both select an experiment: the defaults list ends
    with an ``experiment: null`` slot (so that experiments override everything), and Hydra
    would otherwise refuse the ``+`` form as a second value for that slot."""
    return [a.replace("+experiment=", "experiment=", 1) if a.startswith("+experiment=") else a for a in argv]


def compose(overrides: Sequence[str], config_name: str = PRIMARY_CONFIG, hydra_config: bool = True) -> Any:
    """The config a run with these overrides would get (job vetting, benchmarks, tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="compose"):
        return hydra_compose(
            config_name=config_name, overrides=normalize_overrides(overrides), return_hydra_config=hydra_config
        )
