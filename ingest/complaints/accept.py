"""Accepting a checked complaint: the one write that matters is the publish to Kafka, and the answer follows it.

1. A named submission (an Idempotency-Key, a gateway's message id) has its fingerprint remembered under its
   name; a different fingerprint under a name already used is refused (422). A retry of the same body is
   accepted again: the same id, the same token, the same receipt event, which the processor takes once.
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


async def _best_effort(what: str, step: Awaitable[T], receipt: Receipt) -> T | None:
    try:
        async with asyncio.timeout(BEST_EFFORT_S):
            return await step
    except (Unavailable, TimeoutError) as err:
        logger.warning("complaint accepted without %s: redis unavailable", what,
                       extra={"complaint": receipt.complaint_id, "error": str(err)})
        return None


async def accept(bus: Bus, store: Store, receipt: Receipt) -> Accepted:
    """Publish a checked complaint; Invalid (409) for a reused name, Unavailable when the broker is down."""
    if receipt.name:
        digest = hashlib.sha256(receipt.name.encode()).hexdigest()
        held = await _best_effort("its idempotency check",
                                  store.claim(idempotency_key(digest), receipt.fingerprint.encode(), ttl=REMEMBER_S),
                                  receipt)
        # the fingerprint is kept a day; the complaint it named, for its whole life (and derived again from the log
        # after a lost store): another body under a name already used is refused either way
        record = await _best_effort("its record", store.get(record_key(receipt.complaint_id), ComplaintRecord), receipt)
        if (held is not None and held.decode() != receipt.fingerprint) or \
                (record is not None and record.receipt_id and record.receipt_id != receipt.received_id):
            raise Invalid([("Idempotency-Key", "was already used for a different complaint; send a new key")],
                          status=409)
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
