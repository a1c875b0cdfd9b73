"""The SQS launcher's config schema, ``hydra/launcher=sqs_schema``; ``conf/hydra/launcher/sqs.yaml``
(``hydra/launcher=sqs``) extends it with the same fields, commented."""

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


# Registered as a schema: conf/hydra/launcher/sqs.yaml extends it (its defaults list), so the yaml
# is type-checked without Hydra's deprecated same-name schema matching; `hydra/launcher=sqs_schema`
# works where that yaml is not on the search path.
ConfigStore.instance().store(
    group="hydra/launcher", name="sqs_schema", node=SQSLauncherConf, provider="sqs_launcher"
)
