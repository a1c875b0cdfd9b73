"""What one request may cost the server; anything beyond is answered 4xx/5xx, never run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeLimits:
    # Largest request body in bytes; a SROIE receipt as JSON is ~10-30 KiB.
    max_body_bytes: int = 1 << 20
    # Most OCR words per receipt (SROIE's longest has ~400); bounds tokenisation and windows.
    max_words: int = 1000
    # Longest word in characters: one giant "word" would otherwise become thousands of tokens.
    max_word_chars: int = 200
    # Seconds a request may wait for its prediction (queue + model) before a 504.
    request_timeout_s: float = 30.0
    # Receipts waiting for the model; a request finding the queue full gets a 503 at once.
    max_pending: int = 64
    # Receipts the inference thread takes from the queue into one batch (all waiting, up to this).
    max_batch: int = 8
    # Windows per forward pass inside a batch (Predictor.word_probs batch_size).
    window_batch: int = 16
