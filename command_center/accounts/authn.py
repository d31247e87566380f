"""Who a request is, in one place for the HTTP API, /ws in the API process and the hub service.

A request presents a bearer token (a machine: a token fixed in the configuration or a named API token) or the
session cookie (a person signed in). Neither goes in a URL. A request signed in by the cookie that changes
something must also carry the session's CSRF token in the X-CSRF-Token header; a websocket opened with the
cookie must come from one of the site's origins (a page of another site cannot open it for the person).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from command_center.accounts.directory import Directory
from command_center.accounts.sessions import COOKIE, CSRF_HEADER, Sessions
from command_center.api.auth import SAFE_METHODS, Principal, TokenAuth


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


@dataclass
class Authenticator:
    tokens: TokenAuth
    directory: Directory | None = None
    sessions: Sessions | None = None
    origins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, tokens: TokenAuth, directory: Directory | None, sessions: Sessions | None,
           origins: Iterable[str]) -> Authenticator:
        return cls(tokens, directory, sessions, frozenset(o for o in (origin_of(u) for u in origins) if o))

    async def bearer(self, token: str) -> Principal | None:
        who = self.tokens.principal(token)
        if who is None and self.directory is not None:
            who = await self.directory.token_principal(token)
        return who

    async def session(self, sid: str) -> Principal | None:
        if self.sessions is None or self.directory is None or not sid:
            return None
        record = await self.sessions.check(sid)
        if record is None:
            return None
        user = await self.directory.user(record.login)
        if user is None or user.disabled:
            await self.sessions.end(sid)
            return None
        return user.principal(session=sid, csrf=record.csrf)

    async def principal(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Principal:
        """The principal of a request's credentials; Refused (401) when it has none that are valid."""
        header = headers.get("Authorization", "")
        if header:
            if not header.startswith("Bearer "):
                raise Refused(401, "unauthorized", "Authorization takes a bearer token: 'Bearer <token>'")
            who = await self.bearer(header[len("Bearer "):].strip())
            if who is None:
                raise Refused(401, "unauthorized", "the token is not valid (unknown, expired or revoked)")
            return who
        sid = cookies.get(COOKIE, "")
        if sid:
            who = await self.session(sid)
            if who is None:
                raise Refused(401, "session_ended", "the session has ended; sign in again")
            return who
        raise Refused(401, "unauthorized", "sign in, or present a bearer token (Authorization: Bearer)")

    @staticmethod
    def check_csrf(who: Principal, method: str, headers: Mapping[str, str]) -> None:
        """A change made with the session cookie carries the session's CSRF token; 403 otherwise."""
        if not who.session or method in SAFE_METHODS:
            return
        given = headers.get(CSRF_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), who.csrf.encode()):
            raise Refused(403, "csrf", f"a change made with the session cookie needs the session's {CSRF_HEADER} "
                                       f"header (GET /api/session gives it)")

    def check_origin(self, who: Principal, headers: Mapping[str, str], own: str = "") -> None:
        """A websocket opened with the session cookie comes from one of the site's origins (or the page's own,
        `own`); 403 otherwise. Bearer tokens are not sent by browsers on their own: no check."""
        if not who.session:
            return
        origin = headers.get("Origin", "").lower()
        if not origin or (origin not in self.origins and origin != own.lower()):
            raise Refused(403, "bad_origin", f"a websocket signed in by cookie must come from this site's pages, "
                                             f"not from origin {origin[:80]!r}")
