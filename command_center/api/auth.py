"""Who is asking: principals with a role and scopes, and the tokens fixed in the configuration (as SHA-256
hashes; the plain token is never stored). Accounts, sessions and named API tokens are command_center.accounts."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from command_center.config.sections import ApiKeyConfig, Role, TokenConfig

T = TypeVar("T")
ROLES: tuple[Role, ...] = ("admin", "operator", "oncall", "police", "agency", "viewer", "ingest")
STAFF: frozenset[str] = frozenset({"admin", "operator", "oncall"})
# Roles of people (accounts); `ingest` is for machines only.
PEOPLE: tuple[Role, ...] = ("admin", "operator", "oncall", "police", "agency", "viewer")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: a person (signed in) or a machine (a token), a role, and the scopes it may see
    and act on: agencies (OPD) and areas (districts); empty: every one."""

    name: str
    role: Role
    agencies: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()
    display: str = ""  # a person's name, for people reading the audit trail
    session: str = ""  # the session's key when signed in with the cookie (CSRF applies), else ""
    csrf: str = ""

    @property
    def agency(self) -> str:
        """The one agency an agency's desk acts for, or ""."""
        return next(iter(self.agencies)) if len(self.agencies) == 1 else ""

    @property
    def scoped(self) -> bool:
        return bool(self.agencies or self.areas)

    def sees(self, area: str | None, agency: str | None = None) -> bool:
        """Whether an entity in `area` (a district; "" or None: none) of `agency` (None: it has none) is in
        scope. An area-scoped principal sees nothing placed outside its areas; an agency-scoped one nothing of
        another agency."""
        if self.areas and (area or "") not in self.areas:
            return False
        return not (self.agencies and agency is not None and agency not in self.agencies)

    def sees_view(self, view: dict[str, object]) -> bool:
        """`sees` for a view (the wall's and the read API's shape: `area`, and `agency` where it has one)."""
        area, agency = view.get("area"), view.get("agency")
        return self.sees(area if isinstance(area, str) else None, agency if isinstance(agency, str) else None)

    @property
    def label(self) -> str:
        return f"{self.display} ({self.name})" if self.display and self.display != self.name else self.name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuth:
    """Looks up the principal for a presented token (or an Open311 client for an api_key), comparing hashes in
    constant time per candidate."""

    def __init__(self, tokens: Iterable[TokenConfig], api_keys: Iterable[ApiKeyConfig] = ()) -> None:
        self._by_hash = {t.sha256: Principal(t.name, t.role, frozenset({t.agency} - {''})) for t in tokens}
        self._clients = {k.sha256: k.name for k in api_keys}

    @staticmethod
    def _find(table: dict[str, T], secret: str) -> T | None:
        digest = hash_token(secret)
        for known, value in table.items():
            if hmac.compare_digest(known, digest):
                return value
        return None

    def principal(self, token: str) -> Principal | None:
        return self._find(self._by_hash, token)

    def open311_client(self, api_key: str) -> Principal | None:
        """An Open311 client, as a principal with the ingest role (it may file and read complaints only)."""
        name = self._find(self._clients, api_key)
        return Principal(f"open311:{name}", "ingest") if name is not None else None

    @staticmethod
    def allows(principal: Principal, roles: frozenset[str], method: str = "GET") -> bool:
        """Admin may do everything; a viewer may read what an operator may read; other roles only what the
        endpoint names."""
        if principal.role == "admin" or principal.role in roles:
            return True
        return principal.role == "viewer" and method in SAFE_METHODS and "operator" in roles


def demo_api_keys() -> list[ApiKeyConfig]:
    """The demo's Open311 api_key, `demo-open311`."""
    return [ApiKeyConfig(name="demo", sha256=hash_token("demo-open311"))]


def demo_tokens() -> list[TokenConfig]:
    """One token per role, `demo-<role>`, for the demo and nothing else."""
    return [TokenConfig(name=f"demo-{role}", role=role, sha256=hash_token(f"demo-{role}")) for role in ROLES
            if role not in ("agency", "viewer")]
