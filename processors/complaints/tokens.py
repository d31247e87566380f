"""Tracking tokens: the short code a citizen reads over the phone or quotes in a reply, unique by an enforced claim.

A token is 8 letters of a 32-letter alphabet (40 bits), derived from the complaint's id and an attempt number.
It is the complaint's only once Redis holds it for that id (SET NX): a token already held for another
complaint moves on to the next attempt. The candidates are deterministic, so intake, the processor and a
replay all arrive at the same token for one complaint.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

import msgspec

from command_center.store import Store
from processors.complaints.record import TokenRef, token_key

logger = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
ATTEMPTS = 8


def candidate(complaint_id: str, attempt: int) -> str:
    number = int.from_bytes(hashlib.sha256(f"{complaint_id}|{attempt}".encode()).digest()[:5], "big")
    return "".join(ALPHABET[(number >> (5 * i)) & 31] for i in range(8))


async def claim_token(store: Store, complaint_id: str, *, also: Mapping[str, tuple[bytes, float]] | None = None) -> str:
    """The complaint's token, claimed now or found claimed by an earlier call; "" if every candidate is taken.
    `also` is written in the first claim's round trip (intake's pending note)."""
    ours = msgspec.json.encode(TokenRef(complaint_id))
    for attempt in range(ATTEMPTS):
        token = candidate(complaint_id, attempt)
        held = await store.claim(token_key(token), ours, also=also if attempt == 0 else None)
        if msgspec.json.decode(held, type=TokenRef).complaint_id == complaint_id:
            return token
        logger.info("tracking token taken; trying the next", extra={"complaint": complaint_id, "attempt": attempt})
    logger.error("no free tracking token", extra={"complaint": complaint_id})
    return ""
