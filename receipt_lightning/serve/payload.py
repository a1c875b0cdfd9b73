"""A request body -> a ``Receipt``, or an ``ApiError`` with the status and a message that says
what is wrong (capped: a message never echoes a large part of the body back)."""

from __future__ import annotations

import json

from receipt_lightning.errors import InputError
from receipt_lightning.receipt import Receipt
from receipt_lightning.serve.limits import ServeLimits

MAX_MESSAGE_CHARS = 300  # of an error message returned to a client
DEFAULT_ID = "request"  # a receipt id when the body gives none
SOURCE = "body"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = (
            message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 3] + "..."
        )

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def parse_body(body: bytes, limits: ServeLimits) -> Receipt:
    """The JSONL-line shape: ``{"words": [...], "bboxes": [[x0, y0, x1, y1], ...], "width",
    "height", "id" (optional), "line_ids" (optional)}``."""
    from receipt_lightning.data.jsonl import parse_receipt

    if len(body) > limits.max_body_bytes:
        raise ApiError(413, "body_too_large", f"the body is over {limits.max_body_bytes} bytes")
    try:
        text = body.decode("utf-8")  # RFC 8259: JSON between systems is UTF-8, no guessing
    except UnicodeDecodeError as err:
        raise ApiError(400, "bad_encoding", f"the body is not UTF-8: {err.reason} at byte {err.start}") from err
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise ApiError(
            400, "malformed_json", f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from err
    if not isinstance(obj, dict):
        raise ApiError(422, "invalid_receipt", f"expected a JSON object, got {type(obj).__name__}")
    words = obj.get("words")
    if isinstance(words, list):
        if len(words) > limits.max_words:
            raise ApiError(
                413, "too_many_words", f"{len(words)} words; at most {limits.max_words} per receipt"
            )
        long = next(
            (i for i, w in enumerate(words) if isinstance(w, str) and len(w) > limits.max_word_chars), None
        )
        if long is not None:
            raise ApiError(422, "word_too_long", f"word {long} is over {limits.max_word_chars} characters")
    obj.setdefault("id", DEFAULT_ID)
    for unused in ("labels", "fields"):
        obj.pop(unused, None)  # training-only keys: not needed to predict, not validated
    try:
        receipt, _ = parse_receipt(obj, None, None, SOURCE, 1)
    except InputError as err:
        raise ApiError(422, "invalid_receipt", str(err).removeprefix(f"{SOURCE}:1: ")) from err
    return receipt
