"""Machine credentials: named API tokens with a role, scopes and an expiry, shown once and kept as a hash, refused
past their expiry and on every instance within a second of being revoked; and the commands that manage people
and tokens from a shell."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import select

from command_center.accounts.schema import api_tokens
from command_center.clock import ManualClock
from command_center.sql import open_engine, transaction
from tests.accounts.conftest import Backing
from tests.accounts.site import ADMIN, api_site
from tests.helpers import bearer, eventually

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


async def test_a_token_works_for_its_role_until_it_expires_and_is_kept_only_as_a_hash(backing: Backing) -> None:
    clock = ManualClock(NOW)
    async with api_site(backing.accounts_url, backing.store_url, clock=clock) as site:
        status, made = await site.call("POST", "/api/tokens", headers=ADMIN,
                                       json={"name": "polres-sleman", "role": "police", "expires_days": 30})
        assert status == 201 and made["token"].startswith("cc_") and made["created_by"] == "demo-admin"
        token = made["token"]
        assert (await site.call("GET", "/api/cameras", headers=bearer(token)))[0] == 200
        assert (await site.call("GET", "/api/complaints", headers=bearer(token)))[0] == 403  # the police: CCTV only
        listed = (await site.call("GET", "/api/tokens", headers=ADMIN))[1]
        assert [(t["name"], t["role"], t["last_used_at"]) for t in listed] == [("polres-sleman", "police", NOW.isoformat())]
        assert "token" not in listed[0]
        engine = open_engine(backing.accounts_url)
        async with transaction(engine) as conn:
            stored = (await conn.execute(select(api_tokens))).one()
        await engine.dispose()
        assert token not in str(tuple(stored)) and len(stored.sha256) == 64
        assert (await site.call("POST", "/api/tokens", headers=ADMIN, json={"name": "polres-sleman", "role": "police"}))[0] == 409

        clock.advance(days=30, seconds=-1)
        assert (await site.call("GET", "/api/cameras", headers=bearer(token)))[0] == 200
        clock.advance(2)
        status, body = await site.call("GET", "/api/cameras", headers=bearer(token))
        assert status == 401 and "expired" in body["error"]["message"]


async def test_a_revoked_token_is_refused_on_every_instance_within_a_second(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url) as one, \
            api_site(backing.accounts_url, backing.store_url) as two, \
            api_site(backing.accounts_url, backing.store_url) as three:
        token = (await one.call("POST", "/api/tokens", headers=ADMIN, json={"name": "sms-gateway", "role": "ingest"}))[1]["token"]
        for site in (two, three):  # each instance has read (and may hold) the token
            assert (await site.call("GET", "/api/whoami", headers=bearer(token)))[1] == \
                {"name": "token:sms-gateway", "role": "ingest"}
        assert (await one.call("POST", "/api/tokens/sms-gateway/revoke", headers=ADMIN))[0] == 200
        revoked = time.monotonic()

        async def refused_everywhere() -> bool:
            answers = await asyncio.gather(*(s.call("GET", "/api/whoami", headers=bearer(token)) for s in (two, three)))
            return all(status == 401 for status, _ in answers)
        await eventually(refused_everywhere, within=1.0, every=0.02)
        elapsed = time.monotonic() - revoked
        assert elapsed < 1.0, f"refused after {elapsed:.2f}s"
        assert (await one.call("POST", "/api/tokens/sms-gateway/revoke", headers=ADMIN))[0] == 409
        assert (await one.call("POST", "/api/tokens/nothing/revoke", headers=ADMIN))[0] == 404


async def test_a_scoped_token_reads_only_its_districts(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url) as site:
        status, body = await site.call("POST", "/api/tokens", headers=ADMIN,
                                       json={"name": "kapanewon-depok", "role": "operator", "areas": ["depok"]})
        assert status == 201 and body["areas"] == ["depok"]
        status, body = await site.call("POST", "/api/tokens", headers=ADMIN,
                                       json={"name": "x", "role": "operator", "areas": ["atlantis"]})
        assert status == 422 and "atlantis" in body["error"]["message"]
        # region-wide figures are not for a district's account
        status, body = await site.call("GET", "/api/complaints/stats", headers=bearer(
            (await site.call("POST", "/api/tokens", headers=ADMIN, json={"name": "y", "role": "operator",
                                                                          "areas": ["mlati"]}))[1]["token"]))
        assert status == 403 and "region-wide" in body["error"]["message"]


def _cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "command_center", *args, "--config", str(config)], input=stdin,
                          capture_output=True, text=True, timeout=60)


async def test_people_and_tokens_are_managed_from_the_command_line(backing: Backing, tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump({"accounts": {"url": backing.accounts_url},
                                      "agencies": [{"id": "dlh", "name": "Dinas Lingkungan Hidup"}]}))
    added = await asyncio.to_thread(_cli, config, "users", "add", "rina", "--name", "Rina Wulandari", "--role",
                                    "agency", "--agencies", "dlh", "--password-stdin", stdin="gunung-kidul-99\n")
    assert added.returncode == 0, added.stderr
    again = await asyncio.to_thread(_cli, config, "users", "add", "rina", "--role", "viewer")
    assert again.returncode == 1 and "already" in again.stderr
    made = await asyncio.to_thread(_cli, config, "tokens", "create", "open311-portal", "--role", "ingest", "--days", "90")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    async with api_site(backing.accounts_url, backing.store_url) as site:
        client, _ = await site.signed_in("rina", "gunung-kidul-99")
        assert (await site.call("GET", "/api/session", session=client))[1]["agencies"] == ["dlh"]
        await client.close()
        assert (await site.call("GET", "/api/whoami", headers=bearer(token)))[0] == 200
        listed = await asyncio.to_thread(_cli, config, "users", "list")
        assert "rina" in listed.stdout and "agency" in listed.stdout and "Rina Wulandari" in listed.stdout
        assert (await asyncio.to_thread(_cli, config, "users", "disable", "rina")).returncode == 0
        assert (await site.call("POST", "/api/session", json={"login": "rina", "password": "gunung-kidul-99"}))[0] == 401
        assert (await asyncio.to_thread(_cli, config, "tokens", "revoke", "open311-portal")).returncode == 0

        async def refused() -> bool:
            return (await site.call("GET", "/api/whoami", headers=bearer(token)))[0] == 401
        await eventually(refused, within=1.0)
        assert "revoked" in (await asyncio.to_thread(_cli, config, "tokens", "list")).stdout
