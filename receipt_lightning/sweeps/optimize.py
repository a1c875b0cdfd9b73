"""Training that returns its objective, for sweepers that choose trials from results (Optuna):
``python -m receipt_lightning.sweeps.optimize -m hydra/sweeper=optuna hydra.sweeper.n_trials=20
'model.learning_rate=interval(1e-5,1e-3)'``. Same config, run ids and exit handling as
``python -m receipt_lightning.train``; each run returns its final ``val/f1`` (or ``+objective=KEY``).

Local only: runs train one after another in this process (Hydra's basic launcher). The SQS
launcher cannot serve such sweepers (it returns before any trial has trained); see docs/sweeps.md.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from receipt_lightning.errors import EXIT_OK
from receipt_lightning.sweeps.objective import objective
from receipt_lightning.train import CONF_DIR, run, with_run_id

_exit_code = EXIT_OK


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def optimize_entry(cfg: DictConfig) -> float | None:
    global _exit_code
    code = run(cfg)
    _exit_code = code if _exit_code == EXIT_OK else _exit_code  # a failed trial is remembered...
    # ...but never stops the study: None makes Optuna record this trial as failed and go on.
    return objective(cfg) if code == EXIT_OK else None


def main() -> None:
    sys.argv = [sys.argv[0], *with_run_id(sys.argv[1:])]
    optimize_entry()
    sys.exit(_exit_code)


if __name__ == "__main__":
    main()
