"""The HTTP face: token roles, the error shape, and an OpenAPI document that lists every route served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from command_center.api.app import build_app
from command_center.api.auth import demo_tokens
from command_center.api.openapi import openapi_path
from command_center.api.routes import Routes
from command_center.bus import EmbeddedBus
from command_center.config import parse_config
from command_center.runtime.host import open_runtime
from command_center.runtime.http import HttpServer
from command_center.store import MEMORY_URL, Store
from processors.composition import API_ROUTES

echo = Routes("test")


@echo.post("/api/test/echo", roles=("operator",), summary="Echo the JSON body")
async def _echo(request: web.Request) -> web.Response:
    return web.json_response(await request.json())


@pytest.fixture
async def api() -> AsyncIterator[str]:
    config = parse_config({}, env={}).model_copy(update={"tokens": demo_tokens()})
    async with open_runtime(config, bus=EmbeddedBus(), store=Store.open(MEMORY_URL)) as rt:
        app = build_app(rt, (*API_ROUTES, echo), max_body=64 * 1024)
        async with HttpServer(app, "127.0.0.1", 0) as server:
            yield f"http://127.0.0.1:{server.port}"


async def _get(url: str, token: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_healthz_and_readyz_answer_without_a_token(api: str) -> None:
    assert await _get(f"{api}/healthz") == (200, {"status": "ok"})
    status, body = await _get(f"{api}/readyz")
    assert status == 200 and body["checks"]["bus"]["ready"] and body["checks"]["store"]["ready"]


async def test_no_token_is_401_in_the_error_shape(api: str) -> None:
    status, body = await _get(f"{api}/api/whoami")
    assert status == 401
    assert body == {"error": {"code": "unauthorized", "message": "sign in, or present a bearer token (Authorization: Bearer)"}}


async def test_unknown_token_is_401(api: str) -> None:
    status, body = await _get(f"{api}/api/whoami", "not-a-token")
    assert status == 401 and body["error"]["message"] == "the token is not valid (unknown, expired or revoked)"


@pytest.mark.parametrize("role", ["admin", "operator", "oncall", "police", "ingest"])
async def test_each_demo_token_carries_its_role(api: str, role: str) -> None:
    assert await _get(f"{api}/api/whoami", f"demo-{role}") == (200, {"name": f"demo-{role}", "role": role})


async def test_a_role_outside_the_endpoint_is_403_and_admin_may_do_anything(api: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{api}/api/test/echo", json={"a": 1}, headers={"Authorization": "Bearer demo-police"}) as r:
            assert r.status == 403
            assert (await r.json())["error"]["code"] == "forbidden"
        for token in ("demo-operator", "demo-admin"):
            async with s.post(f"{api}/api/test/echo", json={"a": 1}, headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200 and await r.json() == {"a": 1}


async def test_query_token_is_refused_where_not_declared(api: str) -> None:
    status, _ = await _get(f"{api}/api/whoami?token=demo-admin")
    assert status == 401


async def test_unknown_path_is_404_json(api: str) -> None:
    status, body = await _get(f"{api}/api/nothing-here", "demo-admin")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_body_over_the_limit_is_413_json(api: str) -> None:
    async with aiohttp.ClientSession() as s, s.post(
        f"{api}/api/test/echo", data=b"x" * (200 * 1024),
        headers={"Authorization": "Bearer demo-operator", "Content-Type": "application/json"},
    ) as r:
        assert r.status == 413
        assert (await r.json())["error"]["code"] == "too_large"


async def test_openapi_describes_every_route_served(api: str) -> None:
    """Every (method, path) the router serves is in /openapi.json, with its roles and security."""
    status, doc = await _get(f"{api}/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    config = parse_config({}, env={})
    async with open_runtime(config, bus=EmbeddedBus(), store=Store.open(MEMORY_URL)) as rt:
        app = build_app(rt, API_ROUTES)
    served = {(route.method.lower(), openapi_path(route.resource.canonical))
              for route in app.router.routes() if route.method != "HEAD"}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    # an endless stream (a camera's live MJPEG, like /ws) is declared out of the document, and described in
    # the README: a route can leave it only by saying so where it is declared
    streams = {(e.method.lower(), openapi_path(e.path)) for table in API_ROUTES for e in table.endpoints
               if not e.in_openapi}
    assert streams == {("get", "/api/cameras/{camera_id}/live.mjpg")}
    missing = served - documented - streams
    assert not missing, f"routes missing from /openapi.json: {sorted(missing)}"
    whoami = doc["paths"]["/api/whoami"]["get"]
    assert whoami["security"] == [{"bearer": []}, {"session": []}] and "401" in whoami["responses"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []


def test_a_route_without_roles_cannot_be_declared() -> None:
    table = Routes("x")
    with pytest.raises(ValueError, match="name the roles"):
        table.get("/api/x", summary="x")


async def test_the_in_process_store_frees_expired_keys() -> None:
    """fakeredis frees an expired key only when touched: the runtime's sweeper keeps the demo's memory bounded."""
    store = Store.open(MEMORY_URL)
    sweeping = asyncio.create_task(store.sweep_expired(every=0.05))
    try:
        for i in range(500):
            await store.set_bytes(f"frame:cam:{i}", b"x" * 1000, ttl=0.4)
        server = (await store.redis.connection_pool.get_connection())._server  # fakeredis's own keyspace
        assert len(server.dbs[0]._dict) == 500
        await asyncio.sleep(0.7)
        assert len(server.dbs[0]._dict) == 0
    finally:
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)
