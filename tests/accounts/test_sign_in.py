"""People sign in: a password (Argon2id) gives a session cookie, changes need the session's CSRF token, repeated
failures lock the account or the address, sessions lapse unused and after their longest life, sign-out ends them
on the server. Against the tests' own Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from command_center.bus import EmbeddedBus
from command_center.topics import AUDIT
from tests.accounts.conftest import Backing
from tests.accounts.site import ADMIN, api_site
from tests.helpers import collect, eventually


async def test_a_password_signs_in_to_a_cookie_no_script_or_other_site_can_use(backing: Backing) -> None:
    bus = EmbeddedBus()
    async with api_site(backing.accounts_url, backing.store_url, bus=bus) as site:
        status, body = await site.call("POST", "/api/users", headers=ADMIN, json={
            "login": "siti", "display_name": "Siti Rahmawati", "role": "operator", "password": "merapi-2010-aman"})
        assert status == 201 and "password" not in body and body["source"] == "local"

        wrong = await site.call("POST", "/api/session", json={"login": "siti", "password": "merapi-2010-amanx"})
        nobody = await site.call("POST", "/api/session", json={"login": "nobody", "password": "merapi-2010-aman"})
        assert wrong == nobody == (401, {"error": {"code": "unauthorized",
                                                    "message": "the login or the password is wrong"}})

        client = site.client()
        async with client.post(f"{site.url}/api/session", json={"login": "siti", "password": "merapi-2010-aman"}) as r:
            assert r.status == 200
            cookie = r.headers["Set-Cookie"]
            signed = await r.json()
        assert cookie.startswith("cc_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/" in cookie and "Secure" not in cookie  # plain http here; Secure behind TLS
        assert signed["display_name"] == "Siti Rahmawati" and signed["role"] == "operator" and signed["csrf_token"]

        assert (await site.call("GET", "/api/session", session=client))[1]["login"] == "siti"
        assert (await site.call("GET", "/api/cameras", session=client))[0] == 200
        # a change made with the cookie alone is refused (another site's form could send the cookie)
        status, body = await site.call("POST", "/api/incidents/nothing/ack", session=client, json={})
        assert status == 403 and body["error"]["code"] == "csrf"
        status, _ = await site.call("POST", "/api/incidents/nothing/ack", session=client, json={},
                                    headers={"X-CSRF-Token": "not-the-token"})
        assert status == 403
        status, _ = await site.call("POST", "/api/incidents/nothing/ack", session=client, json={},
                                    headers={"X-CSRF-Token": signed["csrf_token"]})
        assert status == 404  # past the guard: there is no such incident
        assert (await site.call("GET", "/api/users", session=client))[0] == 403  # an operator is no admin

        sid = cookie.split(";")[0].split("=", 1)[1]
        assert (await site.call("DELETE", "/api/session", session=client,
                                headers={"X-CSRF-Token": signed["csrf_token"]}))[0] == 204
        # the old cookie, replayed: the session ended on the server, not only in the browser
        status, body = await site.call("GET", "/api/cameras", headers={"Cookie": f"cc_session={sid}"})
        assert status == 401 and body["error"]["code"] == "session_ended"

        events = await collect(bus, AUDIT, group="t-audit", enough=lambda es: len(es) >= 3)
        actions = [(e.data.actor, e.data.action) for e in events]
        assert ("demo-admin", "user_added") in actions  # who added her: the admin's token, by its name
        assert ("siti", "signed_in") in actions and ("siti", "signed_out") in actions


async def test_repeated_failures_lock_the_account_then_the_address(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url, max_failures=3, max_failures_per_address=5,
                        lockout_s=600) as site:
        for login in ("andi", "budi", "citra"):
            await site.add_person(login, "operator")
        for _ in range(3):
            assert (await site.call("POST", "/api/session", json={"login": "andi", "password": "tebak-tebak"}))[0] == 401
        client = site.client()
        async with client.post(f"{site.url}/api/session", json={"login": "andi", "password": "kata-sandi-rahasia"}) as r:
            assert r.status == 429 and 590 <= int(r.headers["Retry-After"]) <= 600
            body = await r.json()
        await client.close()
        # the right password does not help while the lock lasts, and the message says what and for how long
        assert body["error"] == {"code": "locked",
                                 "message": "too many failed sign-ins for this account; try again in 10 minutes"}
        assert (await site.call("POST", "/api/session", json={"login": "budi", "password": "kata-sandi-rahasia"}))[0] == 200
        for _ in range(2):  # five failures from this address in all: every account is refused from it now
            assert (await site.call("POST", "/api/session", json={"login": "budi", "password": "tebak-tebak"}))[0] == 401
        status, body = await site.call("POST", "/api/session", json={"login": "citra", "password": "kata-sandi-rahasia"})
        assert status == 429 and "for this address" in body["error"]["message"]


async def test_a_session_renews_with_use_lapses_unused_and_ends_at_its_longest_life(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url, session_idle_s=1.0, session_max_s=3.0) as site:
        await site.add_person("dewi", "oncall")
        client, _ = await site.signed_in("dewi")
        started = time.monotonic()
        while time.monotonic() - started < 1.8:  # in use: past the idle time, still signed in
            assert (await site.call("GET", "/api/incidents", session=client))[0] == 200
            await asyncio.sleep(0.2)

        async def ended() -> bool:
            return (await site.call("GET", "/api/incidents", session=client))[0] == 401
        await eventually(ended, within=3.0, every=0.2)  # still in use, but past its longest life
        assert time.monotonic() - started >= 2.5

        unused, _ = await site.signed_in("dewi")
        signed_at = time.monotonic()

        async def lapsed() -> bool:  # asked rarely: each ask would renew it
            return (await site.call("GET", "/api/incidents", session=unused))[0] == 401
        await eventually(lapsed, within=3.0, every=1.2)
        assert time.monotonic() - signed_at >= 1.0
        await client.close()
        await unused.close()


async def test_a_disabled_person_is_signed_out_everywhere_at_once(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url) as one, \
            api_site(backing.accounts_url, backing.store_url) as two:
        await one.add_person("eko", "operator")
        client, _ = await two.signed_in("eko")
        assert (await two.call("GET", "/api/cameras", session=client))[0] == 200
        assert (await one.call("POST", "/api/users/eko/disable", headers=ADMIN))[0] == 200
        disabled = time.monotonic()

        async def refused() -> bool:
            return (await two.call("GET", "/api/cameras", session=client))[0] == 401
        await eventually(refused, within=1.0, every=0.05)
        assert time.monotonic() - disabled < 1.0
        assert (await two.call("POST", "/api/session", json={"login": "eko", "password": "kata-sandi-rahasia"}))[0] == 401
        status, body = await one.call("POST", "/api/users/eko/reset", headers=ADMIN)  # a new password, and enabled
        assert status == 200 and len(body["password"]) >= 16
        assert (await one.call("POST", "/api/users/eko/enable", headers=ADMIN))[0] == 200
        assert (await two.call("POST", "/api/session", json={"login": "eko", "password": body["password"]}))[0] == 200
        await client.close()


async def test_the_demos_one_click_link_signs_in_its_operator_and_nothing_else_has_one(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url, demo_key="satu-klik-demo") as demo, \
            api_site(backing.accounts_url, backing.store_url) as production:
        await demo.add_person("operator", "operator")
        client = demo.client()
        status, _ = await demo.call("GET", "/auth/demo?key=satu-klik-demo", session=client)
        assert status == 302
        assert (await demo.call("GET", "/api/session", session=client))[1]["login"] == "operator"
        assert (await demo.call("GET", "/auth/demo?key=another-key"))[0] == 404
        assert (await production.call("GET", "/auth/demo?key=satu-klik-demo"))[0] == 404
        assert (await production.call("GET", "/auth/demo?key="))[0] == 404
        await client.close()
