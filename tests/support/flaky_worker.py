"""``python -m tests.support.flaky_worker [worker flags]``: the real worker, with transient AWS
errors injected into its own calls (not its trainer's).

Each SQS or DynamoDB call the worker makes after start-up fails, with probability
``RL_TEST_FAULT_RATE`` (default 0.05, seeded by ``RL_TEST_FAULT_SEED``), before it is sent: as an
``EndpointConnectionError``, a throttling error or a 500, the errors botocore gives up on after
its retries. The fault is raised from botocore's ``before-call`` event, so it reaches the worker's
code exactly where a real outage would. Every injected fault is logged as ``injected fault``.
"""

from __future__ import annotations

import logging
import os
import random
import sys

OPERATIONS = frozenset(
    {"ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "SendMessage", "GetItem", "UpdateItem",
     "PutItem", "DeleteItem"}  # fmt: skip
)
log = logging.getLogger("flaky_worker")


def install(rate: float, seed: int) -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from receipt_lightning.aws import session

    rng = random.Random(seed)
    real_client = session.client

    def fault(model, **_kwargs) -> None:
        if model.name not in OPERATIONS or rng.random() >= rate:
            return
        kind = rng.choice(["endpoint", "throttling", "5xx"])
        log.warning("injected fault: %s on %s", kind, model.name)
        if kind == "endpoint":
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:0/injected")
        code, status = ("ThrottlingException", 400) if kind == "throttling" else ("InternalServerError", 500)
        raise ClientError({"Error": {"Code": code, "Message": "injected"},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, model.name)  # fmt: skip

    def client(service: str, **kwargs):
        made = real_client(service, **kwargs)
        made.meta.events.register("before-call", fault)
        return made

    session.client = client


def main() -> int:
    from receipt_lightning.worker import main as worker_main

    install(float(os.environ.get("RL_TEST_FAULT_RATE", "0.05")), int(os.environ.get("RL_TEST_FAULT_SEED", "0")))
    return worker_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
