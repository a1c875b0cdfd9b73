"""The SQS launcher's config, registered as ``hydra/launcher=sqs`` (``conf/hydra/launcher/sqs.yaml``
in this repository carries the same fields and defaults; a unit test keeps them equal)."""


from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore


@dataclass
class SQSLauncherConf:
    _target_: str = "hydra_plugins.sqs_launcher.sqs_launcher.SQSLauncher"
    # CloudFormation stack whose outputs name the queues and tables (e.g. "dev" for
    # `receipt-lightning dev-stack`); null: the RL_* environment variables.
    stack: Optional[str] = None
    # Queue URL to send every job to; null: the queue of `priority` from the stack or environment.
    queue_url: Optional[str] = None
    # Queue priority of every job of the sweep: high | normal | low.
    priority: str = "normal"
    # Sweep id; null: `+sweep_id=...` from the command line, else derived from the combinations
    # (the same sweep gets the same id, and resubmitting it adds no jobs).
    sweep_id: Optional[str] = None
    # Metric that ranks the trials in `receipt-lightning sweep-status` (a key of the trainer's
    # final metrics).
    metric: str = "val/f1"
    # max: higher `metric` is better; min: lower is better.
    mode: str = "max"


ConfigStore.instance().store(group="hydra/launcher", name="sqs", node=SQSLauncherConf, provider="sqs_launcher")
