"""``SQSLauncher``: Hydra hands it every combination of a multirun; it queues them as jobs (the
``submit-job`` path), records the sweep in DynamoDB, prints the sweep id and returns at once.

Each ``JobReturn`` carries the queued job id as its return value: the launcher cannot return an
objective, because training happens later on the workers. So only Hydra's basic sweeper, which
ignores return values, may drive it; a sweeper that needs objective values (Optuna, Nevergrad,
Ax) is refused in ``setup`` with the reason, before anything is queued.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sqs_launcher.config import SQSLauncherConf
from receipt_lightning.sweeps.sweepers import check_sweeper

log = logging.getLogger(__name__)


class SQSLauncher(Launcher):
    def __init__(self, **params: Any) -> None:
        # Validate types and names against the dataclass (a typo in hydra.launcher.* fails here).
        conf = OmegaConf.merge(OmegaConf.structured(SQSLauncherConf), params)
        self.params: dict[str, Any] = OmegaConf.to_container(conf, resolve=True)  # type: ignore[assignment]
        self.params.pop("_target_", None)
        self.config: DictConfig | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        check_sweeper(OmegaConf.select(config, "hydra.sweeper._target_"))
        self.config = config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from receipt_lightning.aws.resources import resolve_names
        from receipt_lightning.sweeps.ids import job_id_for, split_sweep_keys
        from receipt_lightning.sweeps.submit import submit_sweep

        assert self.config is not None, "setup() comes first"
        # Hydra sets the root logger to INFO; botocore's per-client INFO lines would bury the output.
        logging.getLogger("botocore").setLevel(max(logging.WARNING, logging.getLogger("botocore").level))
        p = self.params
        result = submit_sweep(
            [list(o) for o in job_overrides],
            names=resolve_names(p["stack"]),
            sweep_id=p["sweep_id"],
            priority=p["priority"],
            queue_url=p["queue_url"],
            metric=p["metric"],
            mode=p["mode"],
            launcher="sqs",
            sweeper=OmegaConf.select(self.config, "hydra.sweeper._target_"),
        )
        print(
            f"sweep {result.sweep_id}: {len(result.job_ids)} jobs on the {p['priority']} queue "
            f"({result.new_jobs} new)\n"
            f"watch it: receipt-lightning sweep-status {result.sweep_id} --watch\n"
            f"sweep_id={result.sweep_id}",
            flush=True,
        )
        returns = []
        for idx, overrides in enumerate(job_overrides):
            job, _ = split_sweep_keys(list(overrides))
            ret = JobReturn(
                overrides=list(overrides),
                task_name=str(OmegaConf.select(self.config, "hydra.job.name")),
                status=JobStatus.COMPLETED,
                _return_value=job_id_for(result.sweep_id, job),  # queued, not trained: its job id
            )
            log.debug("#%d queued as %s", initial_job_idx + idx, ret.return_value)
            returns.append(ret)
        return returns
