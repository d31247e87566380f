"""Signed one-click acknowledge links: /ack/<payload>.<signature>, valid for a limited time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


class BadLink(Exception):
    """Forged, malformed or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, incident_id: str, contact: str, expires: float) -> str:
    payload = _b64(json.dumps({"i": incident_id, "c": contact, "e": int(expires)}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_token(secret: str, token: str, *, now: float | None = None) -> tuple[str, str]:
    """(incident id, contact id) of a valid token; BadLink with the reason otherwise."""
    payload, _, signature = token.partition(".")
    if not secret:
        raise BadLink("acknowledge links are not configured")
    expected = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise BadLink("the link's signature is not valid")
    try:
        body = json.loads(_unb64(payload))
        incident_id, contact, expires = str(body["i"]), str(body["c"]), float(body["e"])
    except (ValueError, KeyError, TypeError, UnicodeError) as err:
        raise BadLink("the link is malformed") from err
    if (time.time() if now is None else now) > expires:
        raise BadLink("the link has expired")
    return incident_id, contact
