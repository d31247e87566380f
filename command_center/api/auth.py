"""Bearer tokens with roles. Tokens are configured as SHA-256 hashes; the plain token is never stored."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from command_center.config.sections import ApiKeyConfig, Role, TokenConfig

T = TypeVar("T")
ROLES: tuple[Role, ...] = ("admin", "operator", "oncall", "police", "ingest")
STAFF: frozenset[str] = frozenset({"admin", "operator", "oncall"})


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    agency: str = ""  # an agency's desk acts only on complaints routed to that agency


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuth:
    """Looks up the principal for a presented token (or an Open311 client for an api_key), comparing hashes in
    constant time per candidate."""

    def __init__(self, tokens: Iterable[TokenConfig], api_keys: Iterable[ApiKeyConfig] = ()) -> None:
        self._by_hash = {t.sha256: Principal(t.name, t.role, t.agency) for t in tokens}
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
    def allows(principal: Principal, roles: frozenset[str]) -> bool:
        """Admin may do everything; other roles only what the endpoint names."""
        return principal.role == "admin" or principal.role in roles


def demo_api_keys() -> list[ApiKeyConfig]:
    """The demo's Open311 api_key, `demo-open311`."""
    return [ApiKeyConfig(name="demo", sha256=hash_token("demo-open311"))]


def demo_tokens() -> list[TokenConfig]:
    """One token per role, `demo-<role>`, for the demo and nothing else."""
    return [TokenConfig(name=f"demo-{role}", role=role, sha256=hash_token(f"demo-{role}")) for role in ROLES]
