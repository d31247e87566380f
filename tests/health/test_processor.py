"""The health processor over both adapters: anomalies once each, heartbeat silence on a test clock, and the
whole path from a real flaky HTTP server through ingest and the processor to /api/apps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from command_center.api.app import build_app
from command_center.api.auth import TokenAuth, demo_tokens
from command_center.clock import ManualClock
from command_center.config import Config, parse_config
from command_center.events import new_event
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import Runtime
from command_center.runtime.http import HttpServer
from command_center.runtime.readiness import Readiness
from command_center.testing.servers import free_port
from ingest.health.scheduler import HealthIngest
from processors.composition import API_ROUTES
from processors.health import HEALTH
from processors.health.events import HEALTH_CHECKS, HEALTH_EVENTS, AppAnomaly, CheckResult
from tests.conftest import Backend
from tests.helpers import T0, drain, eventually, publish

APPS = {"apps": [
    {"id": "e-bansos", "name": "e-Bansos", "area": "mlati",
     "checks": [{"id": "web", "kind": "http", "target": "http://127.0.0.1:1/", "latency_budget_ms": 1000}]},
    {"id": "e-simparda", "name": "e-Simparda",
     "checks": [{"id": "beat", "kind": "push", "target": "", "interval": 60}]},
]}


def result(app: str, check: str, ok: bool, minute: float, latency: float = 50, kind: str = "http"):  # type: ignore[no-untyped-def]
    at = T0 + timedelta(minutes=minute)
    return new_event("id.go.cc.health.check", source="/tests", subject=app, time=at, id=f"{app}-{minute}",
                     data=CheckResult(app_id=app, check_id=check, kind=kind, ok=ok, started_at=at,  # type: ignore[arg-type]
                                      latency_ms=latency))


@pytest.fixture
def health_config() -> Config:
    return parse_config(APPS, env={})


async def test_down_recovered_slow_each_once_even_when_replayed(backend: Backend, health_config: Config) -> None:
    pattern = [(True, 50), (True, 50), (False, 0), (False, 0), (False, 0), (False, 0), (True, 50), (True, 50),
               (True, 1500), (True, 1500), (True, 1500), (True, 1500), (True, 80), (True, 80)]
    events = [result("e-bansos", "web", ok, i, latency) for i, (ok, latency) in enumerate(pattern)]
    await publish(backend.bus, HEALTH_CHECKS, events + events[2:9])  # a producer retry replays some of them
    async with ProcessorRunner(HEALTH, bus=backend.bus, store=backend.store, config=health_config,
                               clock=ManualClock(T0), poll_timeout=0.2, run_ticks=False):
        out = await drain(backend.bus, HEALTH_EVENTS, group="reader", expect=4)
    unique = {e.id: e for e in out}
    assert [e.type for e in unique.values()] == [
        "id.go.cc.health.down", "id.go.cc.health.recovered", "id.go.cc.health.slow", "id.go.cc.health.slow"]
    down, recovered, slow, fast = (e.data for e in unique.values())
    assert isinstance(recovered, AppAnomaly) and recovered.downtime_s == 4 * 60
    assert (slow.active, fast.active) == (True, False)
    assert down.area == "mlati" and down.state == "down" and down.previous == "up"


async def test_heartbeat_silence_fails_the_push_check_on_a_test_clock(backend: Backend, health_config: Config) -> None:
    clock = ManualClock(T0)
    runner = ProcessorRunner(HEALTH, bus=backend.bus, store=backend.store, config=health_config, clock=clock,
                             poll_timeout=0.2, run_ticks=False)
    await publish(backend.bus, HEALTH_CHECKS, [result("e-simparda", "beat", True, 0, kind="push")])
    async with runner:
        await eventually(lambda: _state_is(backend, "e-simparda", "unknown"))
        for seconds in (89, 91, 151, 211, 271):  # grace is 1.5 intervals, then one failure per interval
            clock.set(T0 + timedelta(seconds=seconds))
            await runner.tick()
        out = await drain(backend.bus, HEALTH_EVENTS, group="reader", expect=1)
        assert [e.type for e in out] == ["id.go.cc.health.down"]
        assert "no_heartbeat" in out[0].data.reason
        assert out[0].time == T0 + timedelta(seconds=211)  # the third missed heartbeat
        # /metrics shows the state the app is in, and only that one
        await eventually(lambda: _gauge(backend, "e-simparda", "down", 1.0))
        assert REGISTRY.get_sample_value("cc_entity_state", {"channel": "health", "entity": "e-simparda",
                                                             "state": "unknown"}) is None


async def _gauge(backend: Backend, app: str, state: str, value: float) -> bool:
    labels = {"channel": "health", "entity": app, "state": state}
    return REGISTRY.get_sample_value("cc_entity_state", labels) == value


async def _state_is(backend: Backend, app: str, state: str) -> bool:
    from processors.health.decide import AppHealth
    from processors.health.processor import app_key

    health = await backend.store.get(app_key(app), AppHealth)
    return health is not None and health.state == state


class FlakyApp:
    """A real HTTP application that can be switched off."""

    def __init__(self) -> None:
        self.healthy = True

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(text="ok") if self.healthy else web.Response(status=502, text="bad gateway")


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyApp, int]]:
    app = FlakyApp()
    web_app = web.Application()
    web_app.router.add_get("/", app.handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield app, port
    await runner.cleanup()


async def test_ingest_to_processor_to_api(backend: Backend, flaky: tuple[FlakyApp, int]) -> None:
    """A real app goes down and comes back: ingest probes it, the processor decides, /api/apps shows it."""
    app, port = flaky
    config = parse_config({"apps": [{"id": "e-pormas", "name": "e-Pormas", "failure_threshold": 2,
                                     "success_threshold": 1,
                                     "checks": [{"id": "web", "kind": "http", "target": f"http://127.0.0.1:{port}/",
                                                 "interval": 1, "timeout": 1}]}]}, env={})
    config = config.model_copy(update={"tokens": demo_tokens()})
    from command_center.clock import SystemClock

    rt = Runtime(config=config, bus=backend.bus, store=backend.store, clock=SystemClock(), readiness=Readiness(),
                 tokens=TokenAuth(config.tokens))
    async with (
        HealthIngest(config, backend.bus),
        ProcessorRunner(HEALTH, bus=backend.bus, store=backend.store, config=config, clock=SystemClock(),
                        poll_timeout=0.1),
        HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as api,
        aiohttp.ClientSession(headers={"Authorization": "Bearer demo-operator"}) as session,
    ):
        async def state() -> str:
            async with session.get(f"http://127.0.0.1:{api.port}/api/apps") as r:
                return (await r.json())["apps"][0]["state"]  # type: ignore[no-any-return]

        async def is_(wanted: str) -> bool:
            return await state() == wanted

        await eventually(lambda: is_("up"), within=15)
        app.healthy = False
        await eventually(lambda: is_("down"), within=15)
        app.healthy = True
        await eventually(lambda: is_("up"), within=15)
        async with session.get(f"http://127.0.0.1:{api.port}/api/apps/e-pormas") as r:
            body = await r.json()
        assert 0 < body["uptime"]["24h"] < 100
        assert body["latency_ms"]["p50"] is not None
        async with session.get(f"http://127.0.0.1:{api.port}/api/apps",
                               headers={"Authorization": "Bearer demo-police"}) as r:
            assert r.status == 403
    await asyncio.sleep(0)


async def test_heartbeat_webhook_publishes_a_push_result(backend: Backend, health_config: Config) -> None:
    from command_center.clock import SystemClock

    config = health_config.model_copy(update={"tokens": demo_tokens()})
    rt = Runtime(config=config, bus=backend.bus, store=backend.store, clock=SystemClock(), readiness=Readiness(),
                 tokens=TokenAuth(config.tokens))
    async with HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as api, aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{api.port}/webhooks/heartbeat"
        for token, path, status in [("demo-ingest", "e-simparda", 202), ("demo-operator", "e-simparda", 403),
                                    ("demo-ingest", "e-unknown", 404), ("demo-ingest", "e-bansos", 404)]:
            async with session.post(f"{base}/{path}", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == status, (token, path, await r.text())
    out = await drain(backend.bus, HEALTH_CHECKS, group="reader", expect=1)
    assert [(e.data.app_id, e.data.kind, e.data.ok) for e in out] == [("e-simparda", "push", True)]
