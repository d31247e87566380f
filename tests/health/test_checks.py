"""Each check kind against real local servers: passes, and fails for the right reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from command_center.testing.servers import free_port
from command_center.testing.tls import TestCA
from ingest.health.checks import run_check
from processors.health.config import CheckConfig


async def _trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(1000):
        await response.write(b"x")
        await asyncio.sleep(0.1)
    return response


async def _auth(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != aiohttp.encode_basic_auth("ops", "rahasia"):
        return web.Response(status=401)
    return web.Response(text="ok")


def _respond(make):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        return make()  # type: ignore[no-any-return]

    return handler


def _redirect(to: str):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound(to)

    return handler


def _site_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/ok", _respond(lambda: web.Response(text="Selamat datang di e-Bansos")))
    app.router.add_get("/error", _respond(lambda: web.Response(status=503, text="maintenance")))
    app.router.add_get("/json", _respond(lambda: web.json_response({"status": "ok", "db": {"latency_ms": 12}})))
    app.router.add_get("/json-broken", _respond(lambda: web.Response(text="{not json", content_type="application/json")))
    app.router.add_get("/big", _respond(lambda: web.Response(body=b"x" * (10 * 1024 * 1024))))
    app.router.add_get("/trickle", _trickle)
    app.router.add_get("/loop", _redirect("/loop"))
    app.router.add_get("/moved", _redirect("/ok"))
    app.router.add_get("/auth", _auth)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.Response(text="late")

    app.router.add_get("/slow", slow)
    return app


async def _serve(app: web.Application, **site_options: object) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, **site_options).start()  # type: ignore[arg-type]
    return runner, port


@pytest.fixture
async def site() -> AsyncIterator[str]:
    runner, port = await _serve(_site_app())
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def check(kind: str, target: str, **options: object) -> CheckConfig:
    return CheckConfig.model_validate({"id": "c", "kind": kind, "target": target, "timeout": 2, **options})


@pytest.mark.parametrize(
    ("path", "options", "ok", "reason"),
    [
        ("/ok", {}, True, ""),
        ("/ok", {"body_contains": "e-Bansos"}, True, ""),
        ("/ok", {"body_contains": "e-Pormas"}, False, "keyword_missing"),
        ("/ok", {"body_excludes": "Selamat"}, False, "keyword_present"),
        ("/error", {}, False, "status"),
        ("/error", {"expect_status": [503]}, True, ""),
        ("/json", {"json_path": "$.status == ok"}, True, ""),
        ("/json", {"json_path": "$.db.latency_ms < 10"}, False, "json_path"),
        ("/json-broken", {"json_path": "$.status == ok"}, False, "json"),
        ("/big", {}, False, "body_too_large"),
        ("/trickle", {}, False, "timeout"),
        ("/loop", {}, False, "redirect_loop"),
        ("/moved", {"body_contains": "Selamat"}, True, ""),
        ("/moved", {"follow_redirects": False}, False, "status"),
        ("/moved", {"follow_redirects": False, "expect_status": [302]}, True, ""),
        ("/auth", {}, False, "status"),
        ("/auth", {"username": "ops", "password": "rahasia"}, True, ""),
    ],
)
async def test_http_check(site: str, session: aiohttp.ClientSession, path: str, options: dict, ok: bool,  # type: ignore[type-arg]
                          reason: str) -> None:
    outcome = await run_check(check("http", site + path, **options), session)
    assert (outcome.ok, outcome.reason) == (ok, reason), outcome.detail


async def test_http_latency_is_measured(site: str, session: aiohttp.ClientSession) -> None:
    outcome = await run_check(check("http", site + "/slow"), session)
    assert outcome.ok and outcome.latency_ms >= 300


async def test_http_refused_and_unresolvable(session: aiohttp.ClientSession) -> None:
    refused = await run_check(check("http", f"http://127.0.0.1:{free_port()}/"), session)
    assert (refused.ok, refused.reason) == (False, "refused")
    nowhere = await run_check(check("http", "http://host.does-not-exist.invalid/"), session)
    assert (nowhere.ok, nowhere.reason) == (False, "dns")


async def test_tcp_check(site: str, session: aiohttp.ClientSession) -> None:
    port = int(site.rsplit(":", 1)[1])
    assert (await run_check(check("tcp", f"127.0.0.1:{port}"), session)).ok
    closed = await run_check(check("tcp", f"127.0.0.1:{free_port()}"), session)
    assert (closed.ok, closed.reason) == (False, "refused")


async def test_dns_check(session: aiohttp.ClientSession) -> None:
    assert (await run_check(check("dns", "localhost"), session)).ok
    missing = await run_check(check("dns", "host.does-not-exist.invalid"), session)
    assert (missing.ok, missing.reason) == (False, "dns")


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


async def _https(issued) -> tuple[web.AppRunner, int]:  # type: ignore[no-untyped-def]
    return await _serve(_site_app(), ssl_context=issued.server_context())


async def test_tls_check_reports_days_left_and_a_valid_chain(ca: TestCA, session: aiohttp.ClientSession) -> None:
    runner, port = await _https(ca.issue("near", ["localhost"], days=10))
    try:
        outcome = await run_check(check("tls", f"localhost:{port}", ca_file=str(ca.ca.cert)), session)
        assert outcome.ok and 9.9 < (outcome.cert_days_left or 0) <= 10
        https = await run_check(check("http", f"https://localhost:{port}/ok", ca_file=str(ca.ca.cert)), session)
        assert https.ok
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("hosts", "expired", "trust", "detail"),
    [
        (["localhost"], False, False, "unable to get local issuer certificate"),
        (["other.example"], False, True, "Hostname mismatch"),
        (["localhost"], True, True, "certificate has expired"),
    ],
)
async def test_tls_check_fails_with_the_reason(ca: TestCA, session: aiohttp.ClientSession, hosts: list[str],
                                               expired: bool, trust: bool, detail: str) -> None:
    runner, port = await _https(ca.issue("bad", hosts, expired=expired))
    try:
        options = {"ca_file": str(ca.ca.cert)} if trust else {}
        outcome = await run_check(check("tls", f"localhost:{port}", **options), session)
        assert (outcome.ok, outcome.reason) == (False, "tls")
        assert detail in outcome.detail
        http = await run_check(check("http", f"https://localhost:{port}/ok", **options), session)
        assert (http.ok, http.reason) == (False, "tls")
    finally:
        await runner.cleanup()


async def test_tls_handshake_against_a_plain_server_fails(site: str, session: aiohttp.ClientSession) -> None:
    port = int(site.rsplit(":", 1)[1])
    outcome = await run_check(check("tls", f"127.0.0.1:{port}"), session)
    assert (outcome.ok, outcome.reason) == (False, "tls")


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"kind": "http", "target": "ebansos.example"}, "needs an http:// or https:// target"),
        ({"kind": "tcp", "target": "no-port"}, "needs host:port"),
        ({"kind": "http", "target": "http://x/", "json_path": "status == ok"}, "not a JSON path condition"),
        ({"kind": "smtp", "target": "x:25"}, "kind"),
    ],
)
def test_a_bad_check_definition_is_refused_naming_it(definition: dict, message: str) -> None:  # type: ignore[type-arg]
    from command_center.config import ConfigError, parse_config

    config = {"apps": [{"id": "e-x", "name": "X", "checks": [{"id": "web", **definition}]}]}
    with pytest.raises(ConfigError, match=message) as err:
        parse_config(config, env={})
    assert "apps.0.checks.0" in str(err.value)
