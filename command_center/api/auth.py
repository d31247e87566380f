"""Bearer tokens with roles. Tokens are configured as SHA-256 hashes; the plain token is never stored."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from command_center.config.sections import Role, TokenConfig

ROLES: tuple[Role, ...] = ("admin", "operator", "oncall", "police", "ingest")
STAFF: frozenset[str] = frozenset({"admin", "operator", "oncall"})


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuth:
    """Looks up the principal for a presented token in constant time per candidate."""

    def __init__(self, tokens: Iterable[TokenConfig]) -> None:
        self._by_hash = {t.sha256: Principal(t.name, t.role) for t in tokens}

    def principal(self, token: str) -> Principal | None:
        digest = hash_token(token)
        for known, principal in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None

    @staticmethod
    def allows(principal: Principal, roles: frozenset[str]) -> bool:
        """Admin may do everything; other roles only what the endpoint names."""
        return principal.role == "admin" or principal.role in roles


def demo_tokens() -> list[TokenConfig]:
    """One token per role, `demo-<role>`, for the demo and nothing else."""
    return [TokenConfig(name=f"demo-{role}", role=role, sha256=hash_token(f"demo-{role}")) for role in ROLES]
