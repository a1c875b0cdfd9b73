"""The HTTP API (FastAPI):

- ``POST /v1/extract``: a receipt as one JSONL line holds it (``words``, ``bboxes``, ``width``,
  ``height``; ``id`` and ``line_ids`` optional) -> the prediction record ``predict --format
  jsonl`` writes (field -> value, ``details``: confidence, words, boxes).
- ``GET /healthz``: 200 with the model and queue once the model is loaded.

Errors are JSON ``{"error": {"code", "message"}}``: 400 malformed JSON, 413 a body over the
limit or too many words, 415 not JSON, 422 a wrong shape (box not four numbers, lengths that
differ...), 503 the queue is full, 504 the prediction took over the time limit, 500 a bug.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from receipt_lightning.serve.access_log import log_access
from receipt_lightning.serve.batcher import InferenceBatcher, Overloaded
from receipt_lightning.serve.limits import ServeLimits
from receipt_lightning.serve.payload import ApiError, parse_body

log = logging.getLogger(__name__)


def create_app(predictor: Any, limits: ServeLimits, model_info: dict[str, Any] | None = None) -> FastAPI:
    batcher = InferenceBatcher(predictor, limits.max_pending, limits.max_batch, limits.window_batch)

    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await asyncio.to_thread(batcher.stop)

    app = FastAPI(
        title="receipt-lightning", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.batcher = batcher

    @app.middleware("http")
    async def access(request: Request, call_next):
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        request.state.request_id = request_id
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-Id"] = request_id
            return response
        finally:
            log_access(
                request_id=request_id,
                client=request.client.host if request.client else None,
                method=request.method,
                path=request.url.path,
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
                bytes_in=getattr(request.state, "bytes_in", 0),
            )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        # The traceback goes to the server log; the client gets no internals.
        log.error("request %s failed", getattr(request.state, "request_id", "?"), exc_info=err)
        return JSONResponse(ApiError(500, "internal", "internal error").body(), status_code=500)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            **(model_info or {}),
            "pending": batcher.pending(),
            "batches": batcher.batches,
            "receipts": batcher.receipts,
        }

    @app.post("/v1/extract")
    async def extract(request: Request) -> JSONResponse:
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the receipt as application/json")
        body = await read_body(request, limits.max_body_bytes)
        receipt = parse_body(body, limits)
        try:
            future = batcher.submit(receipt)
        except Overloaded as err:
            raise ApiError(503, "overloaded", "too many requests waiting; retry later") from err
        try:
            record = await asyncio.wait_for(future, timeout=limits.request_timeout_s)
        except asyncio.TimeoutError as err:  # wait_for cancelled the future: the batcher skips it
            raise ApiError(504, "timeout", f"no prediction within {limits.request_timeout_s:g} s") from err
        return JSONResponse(record)

    return app


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes: a declared length over it is
    refused before reading, a chunked body once the bytes read pass it."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_content_length", "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, "body_too_large", f"the body is over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        request.state.bytes_in = size
        if size > limit:
            raise ApiError(413, "body_too_large", f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
