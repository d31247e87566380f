"""Single sign-on with OpenID Connect: the authorization code flow with PKCE (RFC 7636, S256).

`begin` keeps a sign-in's state, nonce and code verifier in the store for ten minutes (any instance may take
the provider's answer) and answers the provider's authorization URL. `finish` exchanges the code at the token
endpoint (client_secret_basic), checks the ID token's signature against the issuer's JWKS and its issuer,
audience, expiry and nonce, and maps its claims to a role and scopes by the configured mappings.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from command_center.config.sections import OidcConfig
from command_center.errors import Unavailable
from command_center.store import Store

STATE_TTL_S = 600.0
METADATA_TTL_S = 3600.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class OidcError(Exception):
    """The provider's answer cannot sign anyone in; the message says why."""


class _Pending(msgspec.Struct, frozen=True):
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True, slots=True)
class Person:
    login: str
    display_name: str
    role: str
    agencies: tuple[str, ...]
    areas: tuple[str, ...]
    next: str


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OIDC:
    def __init__(self, config: OidcConfig, store: Store, *, redirect_url: str) -> None:
        self.config, self.store, self.redirect_url = config, store, redirect_url
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http().get(url) as response:
                if response.status != 200:
                    raise Unavailable(f"oidc: {url} answered {response.status}")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise Unavailable(f"oidc: {url}: {err}") from err
        if not isinstance(body, dict):
            raise Unavailable(f"oidc: {url} did not answer a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata[0] > METADATA_TTL_S:
            found = await self._get_json(self.config.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.config.issuer.rstrip("/"):
                raise Unavailable(f"oidc: the discovery document names issuer {found.get('issuer')!r}, "
                                  f"not {self.config.issuer!r}")
            self._metadata = (time.monotonic(), found)
            self._keys = None
        return self._metadata[1]

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(await self._get_json((await self.metadata())["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    async def begin(self, next_path: str) -> tuple[str, str]:
        """The provider's authorization URL for a new sign-in, and the sign-in's state."""
        meta = await self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        await self.store.set_bytes(f"cc:oidc:{state}", msgspec.json.encode(_Pending(nonce, verifier, next_path)),
                                   ttl=STATE_TTL_S)
        query = urlencode({"response_type": "code", "client_id": self.config.client_id, "redirect_uri": self.redirect_url,
                           "scope": self.config.scopes, "state": state, "nonce": nonce,
                           "code_challenge": _challenge(verifier), "code_challenge_method": "S256"})
        endpoint = meta["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", state

    async def finish(self, state: str, code: str) -> Person:
        """The person an authorization code signs in; OidcError when it does not."""
        raw = await self.store.get_bytes(f"cc:oidc:{state}")
        if raw is None:
            raise OidcError("this sign-in has expired or was already used; begin again")
        await self.store.remove(f"cc:oidc:{state}")  # a state is used once
        pending = msgspec.json.decode(raw, type=_Pending)
        if not code or len(code) > 2048:
            raise OidcError("the provider gave no authorization code")
        tokens = await self._exchange(code, pending.verifier)
        claims = await self._validated(tokens.get("id_token"), pending.nonce)
        return self._map(claims, pending.next)

    async def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_url,
                "code_verifier": verifier}
        # client_secret_basic: each part form-encoded, then Base64 (RFC 6749 section 2.3.1)
        basic = base64.b64encode(f"{quote(self.config.client_id, safe='')}:{quote(self.config.client_secret, safe='')}"
                                 .encode()).decode()
        try:
            async with self._http().post(meta["token_endpoint"], data=form,
                                         headers={"Authorization": f"Basic {basic}"}) as response:
                body = await response.json(content_type=None)
                if response.status != 200 or not isinstance(body, dict):
                    detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else ""
                    raise OidcError(f"the provider refused the code ({response.status}): {str(detail)[:200]}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise Unavailable(f"oidc: token endpoint: {err}") from err
        return body

    async def _validated(self, id_token: Any, nonce: str) -> dict[str, Any]:
        if not isinstance(id_token, str) or not id_token:
            raise OidcError("the provider's answer has no ID token")
        try:
            try:
                token = jwt.decode(id_token, await self.keys(), algorithms=ALGORITHMS)
            except JoseError:  # the issuer may have rotated its keys since they were read
                token = jwt.decode(id_token, await self.keys(refresh=True), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60, iss={"essential": True, "value": (await self.metadata())["issuer"]},
                aud={"essential": True, "value": self.config.client_id}, exp={"essential": True},
                nonce={"essential": True, "value": nonce}, sub={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as err:
            raise OidcError(f"the ID token is not valid: {err}") from None
        return dict(token.claims)

    def _map(self, claims: dict[str, Any], next_path: str) -> Person:
        config = self.config
        login = str(claims.get(config.login_claim) or claims["sub"])[:100]
        for mapping in config.mappings:
            held = claims.get(mapping.claim)
            values = held if isinstance(held, list) else [held]
            if mapping.value in [str(v) for v in values if v is not None]:
                return Person(login, str(claims.get(config.name_claim) or login)[:200], mapping.role,
                              tuple(mapping.agencies), tuple(mapping.areas), next_path)
        raise OidcError(f"{login!r} holds no claim this site maps to a role; ask an administrator")
