"""The replies feature's state that intake reads: who was asked to rate which complaint."""

from __future__ import annotations

import hashlib
import re

import msgspec

_DIGITS = re.compile(r"\D")


class Awaiting(msgspec.Struct, kw_only=True):
    """A citizen was asked to rate this complaint; a 1-5 from their number until the key expires is the rating."""

    complaint_id: str
    token: str


def phone_digits(phone: str) -> str:
    """An Indonesian number in one form whatever way it was written: 0812..., +62 812..., 62812... -> 62812..."""
    digits = _DIGITS.sub("", phone)
    return "62" + digits[1:] if digits.startswith("0") else digits


def awaiting_key(channel: str, address: str) -> str:
    """Keyed by a digest of the number (or handle), not the number: Redis holds no contact in the clear here."""
    who = phone_digits(address) if channel in ("sms", "whatsapp") else address.lower()
    return f"cc:replies:awaiting:{channel}:{hashlib.sha256(who.encode()).hexdigest()[:32]}"


RATING = re.compile(r"^\s*(?:nilai|rating|skor|score)?\s*[:=]?\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$", re.IGNORECASE)


def rating_of(text: str) -> int | None:
    """The 1-5 in a reply such as "4", "nilai 5", "Rating: 3/5"; None for anything else (a new complaint)."""
    found = RATING.match(text)
    return int(found.group(1)) if found else None
