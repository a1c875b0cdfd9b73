"""The SQS launcher's config, ``hydra/launcher=sqs``: one commented dataclass registered in Hydra's
ConfigStore (as Hydra's own launchers do), the only place its fields and defaults are written.

Queue a multirun on the SQS job queue instead of training locally::

    python -m receipt_lightning.train -m hydra/launcher=sqs model.learning_rate=1e-5,3e-5 data.batch_size=4,8

One job per combination (the submit-job path), a sweep record in DynamoDB, the sweep id printed;
returns at once. Works with Hydra's basic sweeper only (see docs/sweeps.md "Optuna").
"""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class SQSLauncherConf:
    _target_: str = "hydra_plugins.sqs_launcher.sqs_launcher.SQSLauncher"
    # CloudFormation stack whose outputs name the queues and tables (e.g. "dev" for
    # `receipt-lightning dev-stack`); null: the RL_* environment variables.
    stack: str | None = None
    # Queue URL to send every job to; null: the queue of `priority` from the stack or environment.
    queue_url: str | None = None
    # Queue priority of every job of the sweep: high | normal | low.
    priority: str = "normal"
    # Sweep id; null: `+sweep_id=...` from the command line, else derived from the combinations
    # (the same sweep gets the same id, and resubmitting it adds no jobs).
    sweep_id: str | None = None
    # Metric that ranks the trials in `receipt-lightning sweep-status` (a key of the trainer's
    # final metrics).
    metric: str = "val/f1"
    # max: higher `metric` is better; min: lower is better.
    mode: str = "max"


# Hydra imports this module when it scans the hydra_plugins namespace at start-up, so the option
# exists for every entry point; overrides are type-checked against the dataclass when composed.
ConfigStore.instance().store(
    group="hydra/launcher", name="sqs", node=SQSLauncherConf, provider="sqs_launcher"
)
