"""Sessions and sign-in failures, in the store (Redis): shared by every API and hub instance, gone with a
sign-out on all of them at once.

A session is a random id in an HttpOnly cookie; the store keeps it under the id's SHA-256 (a copy of the store
holds no usable cookie), with the person's login, a CSRF token, and when it started. It lapses after
`session_idle_s` unused (a use renews it, at most once every `RENEW_S` or a third of the idle time) and
`session_max_s` after sign-in whatever its use.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import msgspec

from command_center.config.sections import AccountsConfig
from command_center.store import Store

COOKIE = "cc_session"
CSRF_HEADER = "X-CSRF-Token"
RENEW_S = 10.0
CACHE_S = 0.5


class SessionRecord(msgspec.Struct, frozen=True):
    login: str
    csrf: str
    started: float  # epoch seconds
    renewed: float
    via: str = "password"  # password | oidc | demo


def session_key(sid: str) -> str:
    return f"cc:session:{hashlib.sha256(sid.encode()).hexdigest()}"


def _failures_key(kind: str, who: str) -> str:
    return f"cc:signin:failures:{kind}:{hashlib.sha256(who.encode()).hexdigest()[:32]}"


@dataclass(frozen=True, slots=True)
class Lockout:
    """Sign-in is refused for `retry_after` seconds; `reason` says whether the account or the address."""

    retry_after: float
    reason: str


class Sessions:
    """Each process trusts what it read of a session for `CACHE_S` (a wall asks many times a second), so a
    sign-out on one instance ends the session on the others within that; on its own instance at once."""

    def __init__(self, store: Store, config: AccountsConfig) -> None:
        self.store, self.config = store, config
        self._read: dict[str, tuple[float, SessionRecord]] = {}

    async def start(self, login: str, via: str = "password") -> tuple[str, SessionRecord]:
        """A new session for `login`: its cookie value and record."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        record = SessionRecord(login=login, csrf=secrets.token_urlsafe(24), started=now, renewed=now, via=via)
        await self.store.set_bytes(session_key(sid), msgspec.json.encode(record), ttl=self.config.session_idle_s)
        return sid, record

    async def check(self, sid: str) -> SessionRecord | None:
        """The session of a cookie, renewed; None when there is none, or it has lapsed or ended."""
        if not sid or len(sid) > 100:
            return None
        key = session_key(sid)
        now = time.time()
        cached = self._read.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S and \
                now - cached[1].renewed < min(RENEW_S, self.config.session_idle_s / 3):
            return cached[1]
        raw = await self.store.get_bytes(key)
        if raw is None:
            return None
        try:
            record = msgspec.json.decode(raw, type=SessionRecord)
        except msgspec.ValidationError:
            await self.store.remove(key)
            return None
        left = self.config.session_max_s - (now - record.started)
        if left <= 0:
            await self.end(sid)
            return None
        if now - record.renewed >= min(RENEW_S, self.config.session_idle_s / 3):
            record = msgspec.structs.replace(record, renewed=now)
            await self.store.set_bytes(key, msgspec.json.encode(record), ttl=min(self.config.session_idle_s, left))
        if len(self._read) > 50_000:
            self._read.clear()
        self._read[key] = (time.monotonic(), record)
        return record

    async def end(self, sid: str) -> None:
        self._read.pop(session_key(sid), None)
        await self.store.remove(session_key(sid))

    # --- sign-in failures ----------------------------------------------------------------------------------

    async def locked(self, login: str, address: str) -> Lockout | None:
        """Whether sign-in for `login` from `address` is refused now, and for how long."""
        for kind, who, limit in (("account", login.lower(), self.config.max_failures),
                                 ("address", address, self.config.max_failures_per_address)):
            count, left = await self.store.counted(_failures_key(kind, who))
            if count >= limit:
                return Lockout(left, kind)
        return None

    async def failed(self, login: str, address: str) -> None:
        window = self.config.lockout_s
        await self.store.count_within(_failures_key("account", login.lower()), window)
        await self.store.count_within(_failures_key("address", address), window)

    async def succeeded(self, login: str) -> None:
        await self.store.remove(_failures_key("account", login.lower()))
