"""HMAC-SHA256 signatures for webhooks, in and out: `X-CC-Signature: sha256=<hex>` over "<timestamp>.<body>",
with `X-CC-Timestamp` (Unix seconds) so a captured request cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE = "X-CC-Signature"
TIMESTAMP = "X-CC-Timestamp"
TOLERANCE_S = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers that sign `body`."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {SIGNATURE: f"sha256={digest}", TIMESTAMP: str(ts)}


def verify(secret: str, body: bytes, signature: str, timestamp: str, *, now: float | None = None) -> str | None:
    """None when the signature is valid and fresh, otherwise the reason it is not."""
    if not secret:
        return "signed webhooks are not configured"
    try:
        ts = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP} is not a Unix time"
    if abs((time.time() if now is None else now) - ts) > TOLERANCE_S:
        return f"{TIMESTAMP} is more than {TOLERANCE_S} s away: a replay or a wrong clock"
    expected = sign(secret, body, ts)[SIGNATURE]
    if not hmac.compare_digest(expected, signature):
        return "the signature does not match the body"
    return None
