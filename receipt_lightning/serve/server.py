"""Loading the model and running uvicorn: the model is loaded before the port is bound, so a
server that answers ``/healthz`` is ready to predict."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from receipt_lightning.errors import FatalError
from receipt_lightning.serve.limits import ServeLimits

log = logging.getLogger(__name__)


def serve(
    model: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    limits: ServeLimits | None = None,
    device: str = "cpu",
    backend: str = "auto",
    threads: int | None = None,
) -> None:
    try:
        import uvicorn
    except ImportError as err:
        raise FatalError("serve needs FastAPI and uvicorn: pip install 'receipt-lightning[serve]'") from err
    from transformers.utils import logging as hf_logging

    from receipt_lightning.export.onnx_runtime import OnnxTokenClassifier
    from receipt_lightning.predict import load_predictor
    from receipt_lightning.serve.access_log import configure_access_log
    from receipt_lightning.serve.app import create_app

    limits = limits or ServeLimits()
    hf_logging.disable_progress_bar()
    predictor = load_predictor(model, device=device, backend=backend, threads=threads)
    info: dict[str, Any] = {
        "model": Path(model).name,
        "backend": "onnx" if isinstance(predictor.model, OnnxTokenClassifier) else "torch",
        "device": predictor.device,
        "labels": predictor.label_list,
    }
    configure_access_log()
    app = create_app(predictor, limits, info)
    log.info("serving %s (%s) on http://%s:%d", model, info["backend"], host, port)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,  # our own JSON access log (access_log.py) replaces uvicorn's text one
        log_level="warning",
        # Connections beyond the queue and the batch in flight get a 503 from uvicorn itself.
        limit_concurrency=limits.max_pending + limits.max_batch + 8,
        timeout_keep_alive=5,
    )
