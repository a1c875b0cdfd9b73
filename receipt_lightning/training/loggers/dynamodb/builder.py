"""``dynamodb_logger``: the ``logger.dynamodb`` config node's target. It returns no logger when
no metrics table is configured, so ``logger=default`` (CSV + DynamoDB) logs to CSV only on a
laptop, and ``train.build_graph`` only instantiates: which loggers run is decided by the config
(``aws.metrics_table``), not by the trainer looking at class names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from receipt_lightning.training.loggers.dynamodb.logger import DynamoDBLogger


def dynamodb_logger(table: str | None, run_id: str, **options: Any) -> DynamoDBLogger | None:
    """A ``DynamoDBLogger`` writing run ``run_id`` to ``table`` (``options``: its keyword
    arguments), or ``None`` when ``table`` is null (no metrics table: log elsewhere). An empty
    name is not "none": ``DynamoDBLogger`` refuses it, naming the setting."""
    if table is None:
        return None
    from receipt_lightning.training.loggers.dynamodb.logger import DynamoDBLogger

    return DynamoDBLogger(table, run_id, **options)
