"""Single sign-on against a real OpenID provider (oauth2-mock-server from npm, started on a free port): the
authorization code flow with PKCE, the ID token checked (signature by the JWKS, issuer, audience, expiry, nonce),
the person's claims mapped to a role and districts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from command_center.testing.servers import OidcProvider
from tests.accounts.conftest import Backing
from tests.accounts.site import ADMIN, Site, api_site
from tests.conftest import _start

SITI = {"preferred_username": "siti", "name": "Siti Rahmawati", "groups": ["staff", "cc-operator-depok"]}
MAPPINGS = [{"claim": "groups", "value": "cc-admin", "role": "admin"},
            {"claim": "groups", "value": "cc-operator-depok", "role": "operator", "areas": ["depok"]}]


@contextmanager
def provider(claims: dict[str, Any], **kw: Any) -> Iterator[OidcProvider]:
    server = _start(lambda: OidcProvider(claims, **kw))
    try:
        yield server
    finally:
        server.stop()


def oidc(issuer: str) -> dict[str, Any]:
    return {"oidc": {"issuer": issuer, "client_id": "command-center", "client_secret": "rahasia-klien",
                     "mappings": MAPPINGS}}


async def sign_in_by_sso(site: Site, next_path: str = "/wall/operator") -> tuple[Any, int, Any, str, str]:
    """Follow the browser's redirects by hand: the site, the provider, back to the site's callback. The client,
    the callback's status, its body, where it sends the browser, and the callback's URL."""
    client = site.client()
    async with client.get(f"{site.url}/auth/oidc/login", params={"next": next_path}, allow_redirects=False) as r:
        assert r.status == 302
        authorize = r.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["nonce"][0] and query["state"][0] and query["response_type"] == ["code"]
    async with client.get(authorize, allow_redirects=False) as r:  # the provider answers at once with a code
        assert r.status == 302
        callback = r.headers["Location"]
    assert callback.startswith(f"{site.url}/auth/oidc/callback?")
    async with client.get(callback, allow_redirects=False) as r:
        body = await r.json(content_type=None) if r.content_type.endswith("json") else None
        return client, r.status, body, r.headers.get("Location", ""), callback


async def test_single_sign_on_gives_the_role_and_districts_the_claims_map_to(backing: Backing) -> None:
    with provider(SITI) as op:
        async with api_site(backing.accounts_url, backing.store_url, **oidc(op.issuer)) as site:
            assert (await site.call("GET", "/api/wall-config"))[1]["sso"] == "Single sign-on"
            client, status, body, location, callback = await sign_in_by_sso(site)
            assert status == 302 and location == "/wall/operator", body
            status, who = await site.call("GET", "/api/session", session=client)
            assert status == 200 and who["login"] == "siti" and who["display_name"] == "Siti Rahmawati"
            assert who["role"] == "operator" and who["areas"] == ["depok"]
            users = (await site.call("GET", "/api/users", headers=ADMIN))[1]
            assert [(u["login"], u["source"], u["areas"]) for u in users] == [("siti", "oidc", ["depok"])]

            # the provider's answer is used once: the same callback again signs nobody in
            status, _ = await site.call("GET", callback.removeprefix(site.url), session=client)
            assert status in (400, 401)
            # a local password cannot sign an SSO person in (none is set)
            assert (await site.call("POST", "/api/session", json={"login": "siti", "password": "x" * 12}))[0] == 401
            # a disabled account stays disabled whatever the provider says
            assert (await site.call("POST", "/api/users/siti/disable", headers=ADMIN))[0] == 200
            _, status, body, _, _ = await sign_in_by_sso(site)
            assert status == 403 and body["error"]["code"] == "disabled"
            await client.close()


@pytest.mark.parametrize(("claims", "extra", "reason"), [
    ({"preferred_username": "tamu", "groups": ["staff"]}, {}, "holds no claim this site maps to a role"),
    (SITI, {"audience": "another-application"}, "the ID token is not valid"),
])
async def test_an_id_token_that_is_not_for_us_or_maps_to_no_role_signs_nobody_in(
        backing: Backing, claims: dict[str, Any], extra: dict[str, str], reason: str) -> None:
    with provider(claims, **extra) as op:
        async with api_site(backing.accounts_url, backing.store_url, **oidc(op.issuer)) as site:
            client, status, body, _, _ = await sign_in_by_sso(site)
            assert status == 401 and body["error"]["code"] == "sso_refused" and reason in body["error"]["message"]
            assert (await site.call("GET", "/api/session", session=client))[0] == 401
            assert (await site.call("GET", "/api/users", headers=ADMIN))[1] == []
            await client.close()


async def test_a_callback_that_did_not_begin_in_this_browser_is_refused(backing: Backing) -> None:
    with provider(SITI) as op:
        async with api_site(backing.accounts_url, backing.store_url, **oidc(op.issuer)) as site:
            started = site.client()
            async with started.get(f"{site.url}/auth/oidc/login", allow_redirects=False) as r:
                authorize = r.headers["Location"]
            async with started.get(authorize, allow_redirects=False) as r:
                callback = r.headers["Location"]
            await started.close()
            # another browser (no cc_oidc cookie) handed the link: login CSRF
            status, body = await site.call("GET", callback.removeprefix(site.url))
            assert status == 400 and body["error"]["code"] == "bad_state"
