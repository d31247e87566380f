"""Accepting a checked complaint: the one write that matters is the publish to Kafka, and the answer follows it.

1. A named submission (an Idempotency-Key, a gateway's message id) has its fingerprint remembered under its
   name, as the IETF draft (draft-ietf-httpapi-idempotency-key-header) says: a different fingerprint under a
   name already used is refused (422); the same one while the first request is still being stored is refused
   (409: retry later); once stored, a retry of the same body is accepted again: the same id, the same token,
   the same receipt event, which the processor takes once.
2. The tracking token is claimed (see processors/complaints/tokens.py) and, in the same round trip, a pending
   note is left so that the complaint can be fetched before the processor has routed it.
3. The receipt and the contact are published; when the broker cannot take them the caller answers 503, and a
   retry under the same Idempotency-Key can never make a second complaint.

Steps 1 and 2 use Redis, and only as far as it answers within a second: with Redis down a complaint is
still accepted (its token is then claimed by the processor, and a reused key is caught there instead, as a
refused receipt). Intake never writes the complaint record; the processor alone does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from command_center.bus import Bus, Message
from command_center.errors import Unavailable
from command_center.events import encode
from command_center.store import Store
from ingest.complaints.intake import Invalid, Receipt
from processors.complaints.events import COMPLAINT_CONTACTS, COMPLAINTS
from processors.complaints.record import ComplaintRecord, idempotency_key, pending_key, record_key
from processors.complaints.tokens import claim_token

logger = logging.getLogger(__name__)
T = TypeVar("T")

BEST_EFFORT_S = 1.0
REMEMBER_S = 86_400  # how long a name's fingerprint (and a pending note) is kept
MAX_KEY = 255
BUSY_S = 30.0  # how long a first request is taken to be still in hand (one that died leaves its name after this)
_BUSY = "|busy|"


# the header as /openapi.json documents it, and what it may answer (draft-ietf-httpapi-idempotency-key-header)
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "schema": {"type": "string", "pattern": "^[ -~]{1,255}$"},
               "description": "a retry with the same key and body answers as the first time and files nothing "
                              "more; the same key with another body is 422; a retry while the first request is "
                              "still being stored is 409 (retry later); an empty key or one over 255 characters "
                              "is 400"}
IDEMPOTENCY_STATUSES = {409: "a request with this Idempotency-Key is still being processed: retry later",
                        422: "the Idempotency-Key was already used for a different complaint"}


@dataclass(frozen=True)
class Accepted:
    complaint_id: str
    token: str  # empty when Redis could not be reached: the processor claims one


def idempotency_name(scope: str, key: str | None) -> str:
    """The name a caller's Idempotency-Key gives its complaint ("" without a key); 400 for a malformed key."""
    if key is None:
        return ""
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise Invalid([("Idempotency-Key", f"1 to {MAX_KEY} printable ASCII characters")])
    return f"{scope}|{key}"


def _held(value: bytes, fingerprint: str, what: str) -> None:
    """Refuse a request whose name is held by another body (422) or by the same body still in hand (409)."""
    held, _, busy = value.decode(errors="replace").partition(_BUSY)
    if held != fingerprint:
        raise Invalid([(what, "was already used for a different complaint; send a new key")], status=422)
    if busy and float(busy) > time.time():
        raise Invalid([(what, "a request with this key is still being processed; retry in a few seconds")],
                      status=409)


async def _best_effort(what: str, step: Awaitable[T], receipt: Receipt) -> T | None:
    try:
        async with asyncio.timeout(BEST_EFFORT_S):
            return await step
    except (Unavailable, TimeoutError) as err:
        logger.warning("complaint accepted without %s: redis unavailable", what,
                       extra={"complaint": receipt.complaint_id, "error": str(err)})
        return None


async def accept(bus: Bus, store: Store, receipt: Receipt, *, key_name: str = "Idempotency-Key") -> Accepted:
    """Publish a checked complaint; Invalid for a reused name (422) or one still in hand (409), Unavailable
    when the broker is down. `key_name` is what the caller calls the name (a header, a message id field)."""
    if not receipt.name:
        return await _publish(bus, store, receipt)
    # the fingerprint is kept a day; the complaint it named, for its whole life (and derived again from the log
    # after a lost store): another body under a name already used is refused either way
    record = await _best_effort("its record", store.get(record_key(receipt.complaint_id), ComplaintRecord), receipt)
    if record is not None and record.receipt_id and record.receipt_id != receipt.received_id:
        raise Invalid([(key_name, "was already used for a different complaint; send a new key")], status=422)
    name = idempotency_key(hashlib.sha256(receipt.name.encode()).hexdigest())
    mine = f"{receipt.fingerprint}{_BUSY}{time.time() + BUSY_S:.3f}".encode()
    held = await _best_effort("its idempotency check", store.claim(name, mine, ttl=REMEMBER_S), receipt)
    if held is not None and held != mine:
        _held(held, receipt.fingerprint, key_name)
    try:
        return await _publish(bus, store, receipt)
    finally:  # stored or not, the request is no longer in hand: a retry of the same body goes ahead
        await _best_effort("its idempotency record", store.set_bytes(name, receipt.fingerprint.encode(),
                                                                     ttl=REMEMBER_S), receipt)


async def _publish(bus: Bus, store: Store, receipt: Receipt) -> Accepted:
    # the pending note rides the token's round trip: written before the publish, it is harmless when the publish
    # fails (nobody was given the id or the token), and a retry under the same name writes the same note
    pending = {pending_key(receipt.complaint_id): (msgspec.json.encode(receipt.data), REMEMBER_S)}
    token = await _best_effort("a tracking token yet", claim_token(store, receipt.complaint_id, also=pending),
                               receipt) or ""
    received, contact = receipt.events(token)
    messages = [Message(COMPLAINTS, received.key, encode(received))]
    if contact is not None:
        messages.append(Message(COMPLAINT_CONTACTS, contact.key, encode(contact)))
    await bus.publish(messages)
    return Accepted(receipt.complaint_id, token)
