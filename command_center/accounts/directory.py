"""People and named API tokens in the SQL database, shared by every API and hub instance.

A lookup is cached for at most `CACHE_S` in each process, so a revoked token or a disabled person is refused
by every instance within a second, while a busy wall costs one query per half second, not one per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from command_center.accounts.schema import api_tokens, metadata, users
from command_center.api.auth import PEOPLE, ROLES, Principal
from command_center.errors import Unavailable
from command_center.sql import insert_new, open_engine, transaction

CACHE_S = 0.5  # how long a process trusts what it read of a token or a person
TOUCH_S = 60.0  # a token's last-used time is written at most this often
MIN_PASSWORD = 10
TOKEN_PREFIX = "cc_"
_hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106) parameters
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))  # verified against when the login is unknown: the same cost


class AccountError(ValueError):
    """A change that cannot be made; the message says why (an unknown login, a short password, ...)."""


@dataclass(frozen=True, slots=True)
class User:
    login: str
    display_name: str
    role: str
    agencies: tuple[str, ...]
    areas: tuple[str, ...]
    source: str
    disabled: bool
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None

    def principal(self, *, session: str = "", csrf: str = "") -> Principal:
        return Principal(self.login, self.role, frozenset(self.agencies), frozenset(self.areas),  # type: ignore[arg-type]
                         display=self.display_name, session=session, csrf=csrf)

    def public(self) -> dict[str, Any]:
        return {"login": self.login, "display_name": self.display_name, "role": self.role,
                "agencies": list(self.agencies), "areas": list(self.areas), "source": self.source,
                "disabled": self.disabled, "created_at": self.created_at.isoformat(),
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None}


@dataclass(frozen=True, slots=True)
class ApiToken:
    name: str
    role: str
    agencies: tuple[str, ...]
    areas: tuple[str, ...]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "agencies": list(self.agencies), "areas": list(self.areas),
                "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("a password has at most 1024 characters")


def _ids(raw: str) -> tuple[str, ...]:
    return tuple(json.loads(raw or "[]"))


def _user(row: Any) -> User:
    return User(row.login, row.display_name, row.role, _ids(row.agencies), _ids(row.areas), row.source,
                bool(row.disabled), row.password_hash is not None, row.created_at, row.last_login_at)


def _token(row: Any) -> ApiToken:
    return ApiToken(row.name, row.role, _ids(row.agencies), _ids(row.areas), row.created_at, row.created_by,
                    row.expires_at, row.last_used_at, row.revoked_at)


class Directory:
    """The accounts database: people (`users`) and named API tokens (`api_tokens`)."""

    def __init__(self, engine: AsyncEngine, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self.now = now
        self._people: dict[str, tuple[float, User | None]] = {}
        self._tokens: dict[str, tuple[float, Principal | None, datetime | None]] = {}
        self._touched: dict[str, float] = {}
        self._created = False
        self._creating = asyncio.Lock()

    @classmethod
    def open(cls, url: str, now: Callable[[], datetime]) -> Directory:
        """The directory at `url`; its tables are created where missing at first use (an unreachable database
        at start is an outage to wait out, not a crash)."""
        return cls(open_engine(url), now)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        if not self._created:
            async with self._creating:
                if not self._created:
                    async with transaction(self.engine) as conn:
                        await conn.run_sync(metadata.create_all)
                    self._created = True
        async with transaction(self.engine) as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()

    async def ready(self) -> tuple[bool, str]:
        """For /readyz of the API: whether people and tokens can be read."""
        try:
            async with asyncio.timeout(3):
                async with self._tx() as conn:
                    await conn.execute(select(users.c.login).limit(1))
        except (Unavailable, TimeoutError) as err:
            return False, str(err)[:200] or "the accounts database did not answer within 3 s"
        return True, "ok"

    # --- people ----------------------------------------------------------------------------------------

    async def user(self, login: str, *, fresh: bool = False) -> User | None:
        cached = self._people.get(login)
        if cached is not None and not fresh and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        async with self._tx() as conn:
            row = (await conn.execute(select(users).where(users.c.login == login))).first()
        found = _user(row) if row is not None else None
        self._people[login] = (time.monotonic(), found)
        return found

    async def users(self) -> list[User]:
        async with self._tx() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.login))).all()
        return [_user(r) for r in rows]

    async def add_user(self, login: str, display_name: str, role: str, *, password: str | None,
                       agencies: Iterable[str] = (), areas: Iterable[str] = (), source: str = "local") -> User:
        if role not in PEOPLE:
            raise AccountError(f"role must be one of {', '.join(PEOPLE)}")
        if password is not None:
            check_password(password)
        digest = await asyncio.to_thread(_hasher.hash, password) if password is not None else None
        now = self.now()
        async with self._tx() as conn:
            result = await conn.execute(insert_new(conn, users, ["login"]).values(
                login=login, display_name=display_name, role=role, agencies=json.dumps(sorted(set(agencies))),
                areas=json.dumps(sorted(set(areas))), password_hash=digest, source=source, disabled=False,
                created_at=now, updated_at=now))
        if result.rowcount == 0:
            raise AccountError(f"there is already a person signing in as {login!r}")
        return await self.user(login, fresh=True)  # type: ignore[return-value]

    async def change_user(self, login: str, **values: Any) -> User:
        """Set `display_name`, `role`, `agencies`, `areas`, `disabled` or `password` of `login`."""
        if "role" in values and values["role"] not in PEOPLE:
            raise AccountError(f"role must be one of {', '.join(PEOPLE)}")
        row: dict[str, Any] = {k: v for k, v in values.items() if k in ("display_name", "role", "disabled")}
        for key in ("agencies", "areas"):
            if key in values:
                row[key] = json.dumps(sorted(set(values[key])))
        if "password" in values:
            check_password(values["password"])
            row["password_hash"] = await asyncio.to_thread(_hasher.hash, values["password"])
        row["updated_at"] = self.now()
        async with self._tx() as conn:
            result = await conn.execute(update(users).where(users.c.login == login).values(**row))
        if result.rowcount == 0:
            raise AccountError(f"no person signs in as {login!r}")
        return await self.user(login, fresh=True)  # type: ignore[return-value]

    async def verify(self, login: str, password: str) -> User | None:
        """The person if `password` is theirs and they may sign in; None otherwise, at the same cost whether
        or not the login exists (no oracle of who has an account)."""
        async with self._tx() as conn:
            row = (await conn.execute(select(users).where(users.c.login == login))).first()
        stored = row.password_hash if row is not None and row.password_hash else _DUMMY
        try:
            await asyncio.to_thread(_hasher.verify, stored, password[:1024])
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.password_hash or row.disabled:
            return None
        values: dict[str, Any] = {"last_login_at": self.now()}
        if _hasher.check_needs_rehash(stored):
            values["password_hash"] = await asyncio.to_thread(_hasher.hash, password)
        async with self._tx() as conn:
            await conn.execute(update(users).where(users.c.login == login).values(**values))
        return await self.user(login, fresh=True)

    async def signed_in_by_sso(self, login: str, display_name: str, role: str, agencies: Iterable[str],
                               areas: Iterable[str]) -> User | None:
        """The person an ID token names, created or brought up to date with the role and scopes the issuer's
        claims map to; None when the account here is disabled (an administrator's word outlasts the issuer's)."""
        found = await self.user(login, fresh=True)
        if found is None:
            try:
                await self.add_user(login, display_name, role, password=None, agencies=agencies, areas=areas,
                                    source="oidc")
            except AccountError:  # created at the same moment by another instance
                pass
        elif found.disabled:
            return None
        else:
            await self.change_user(login, display_name=display_name, role=role, agencies=list(agencies),
                                   areas=list(areas))
        async with self._tx() as conn:
            await conn.execute(update(users).where(users.c.login == login).values(last_login_at=self.now()))
        return await self.user(login, fresh=True)

    # --- named API tokens --------------------------------------------------------------------------------

    async def create_token(self, name: str, role: str, *, by: str, expires_in: timedelta | None = None,
                           agencies: Iterable[str] = (), areas: Iterable[str] = ()) -> tuple[str, ApiToken]:
        """A new token: the plain token (shown once, never stored) and its record."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.now()
        async with self._tx() as conn:
            result = await conn.execute(insert_new(conn, api_tokens, ["name"]).values(
                name=name, sha256=token_hash(plain), role=role, agencies=json.dumps(sorted(set(agencies))),
                areas=json.dumps(sorted(set(areas))), created_at=now, created_by=by,
                expires_at=now + expires_in if expires_in else None))
        if result.rowcount == 0:
            raise AccountError(f"there is already a token named {name!r}; revoke it or choose another name")
        return plain, (await self.token(name))  # type: ignore[return-value]

    async def token(self, name: str) -> ApiToken | None:
        async with self._tx() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.name == name))).first()
        return _token(row) if row is not None else None

    async def tokens(self) -> list[ApiToken]:
        async with self._tx() as conn:
            rows = (await conn.execute(select(api_tokens).order_by(api_tokens.c.name))).all()
        return [_token(r) for r in rows]

    async def revoke(self, name: str) -> ApiToken:
        async with self._tx() as conn:
            result = await conn.execute(update(api_tokens).where(api_tokens.c.name == name,
                                                                 api_tokens.c.revoked_at.is_(None))
                                        .values(revoked_at=self.now()))
        found = await self.token(name)
        if found is None:
            raise AccountError(f"no token is named {name!r}")
        if result.rowcount == 0:
            raise AccountError(f"token {name!r} was already revoked")
        return found

    async def token_principal(self, plain: str) -> Principal | None:
        """Who a presented API token acts for; None when it is unknown, revoked or past its expiry."""
        if not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
            return None
        digest = token_hash(plain)
        cached = self._tokens.get(digest)
        now_m = time.monotonic()
        if cached is not None and now_m - cached[0] < CACHE_S:
            who, expires = cached[1], cached[2]
        else:
            async with self._tx() as conn:
                row = (await conn.execute(select(api_tokens).where(api_tokens.c.sha256 == digest))).first()
            who = expires = None
            if row is not None and row.revoked_at is None:
                who = Principal(f"token:{row.name}", row.role, frozenset(_ids(row.agencies)),
                                frozenset(_ids(row.areas)))
                expires = row.expires_at
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[digest] = (now_m, who, expires)
        if who is None or (expires is not None and expires <= self.now()):
            return None
        if now_m - self._touched.get(digest, -TOUCH_S) >= TOUCH_S:
            self._touched[digest] = now_m
            async with self._tx() as conn:
                await conn.execute(update(api_tokens).where(api_tokens.c.sha256 == digest)
                                   .values(last_used_at=self.now()))
        return who
