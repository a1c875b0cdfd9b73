"""Hydra launcher plugin ``hydra/launcher=sqs``: a multirun queues one receipt-lightning job per
combination on the SQS job queue (Spot workers run them) instead of training locally.

Hydra finds it by scanning the ``hydra_plugins`` namespace package (no ``__init__.py`` there).
Importing this package stays cheap (Hydra imports every plugin module at start-up): boto3 and
the job queue are imported only when a sweep is launched.
"""

__version__ = "0.1.0"
