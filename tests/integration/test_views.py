"""Views ride the bus: the wall is shown each entity's latest view as the processor published it after its state
write, whenever that write lands, and the hub needs nothing but `cc.views`, not Redis, not the processors."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from command_center.api.auth import TokenAuth, demo_tokens
from command_center.bus import Bus, EmbeddedBus
from command_center.bus.kafka import KafkaBus
from command_center.clock import ManualClock, SystemClock
from command_center.config import Config, parse_config
from command_center.hub.core import Hub
from command_center.hub.transports import hub_service
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import Runtime, topic_specs
from command_center.runtime.readiness import Readiness
from command_center.store import Store
from command_center.testing.servers import KafkaBroker, RedisServer, free_port
from processors.composition import APP
from processors.health import HEALTH
from processors.health.events import HEALTH_CHECKS
from tests.conftest import FAST_GROUPS
from tests.helpers import T0, bearer, check_event, eventually, publish

APPS = 10


def _config(apps: int = APPS) -> Config:
    return parse_config({
        "hub": {"host": "127.0.0.1", "port": 0},
        "apps": [{"id": f"app-{i}", "name": f"App {i}", "checks": [{"id": "http", "kind": "http", "target": "http://x/"}]}
                 for i in range(apps)],
    }, env={}).model_copy(update={"tokens": demo_tokens()})


class LateStore(Store):
    """A store whose every batch write lands two seconds after it was asked for (a slow or distant Redis)."""

    async def apply(self, ops: Iterable[tuple[str, tuple[Any, ...], dict[str, Any]]],
                    guard: Mapping[str, bytes | None] | None = None) -> None:
        await asyncio.sleep(2)
        await super().apply(ops, guard)


@asynccontextmanager
async def _hub(config: Config, bus: Bus, store: Store) -> AsyncIterator[tuple[Hub, str]]:
    rt = Runtime(config=config, bus=bus, store=store, clock=SystemClock(), readiness=Readiness(),
                 tokens=TokenAuth(config.tokens))
    async with hub_service(rt, APP.channels) as hub:
        yield hub, f"ws://127.0.0.1:{hub.port}/ws"  # type: ignore[attr-defined]


def _checks(down: range, up: range) -> list:  # type: ignore[type-arg]
    """Three failures (the default threshold) for each app of `down`, two successes for each of `up`."""
    return [check_event(f"app-{a}", n, ok=False, at=T0 + timedelta(seconds=n)) for a in down for n in range(3)] + \
        [check_event(f"app-{a}", n, ok=True, at=T0 + timedelta(seconds=n)) for a in up for n in range(2)]


def _expected(down: range, up: range) -> dict[str, str]:
    return {f"app-{a}": "down" for a in down} | {f"app-{a}": "up" for a in up}


async def _snapshot(url: str) -> dict[str, str]:
    async with connect(url, additional_headers=bearer("demo-operator")) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channels": ["health"]}))
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return {a["id"]: a["state"] for a in snapshot["channels"]["health"]}


async def _follow(ws: ClientConnection, states: dict[str, str]) -> None:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "snapshot":
            states.update({a["id"]: a["state"] for a in message["channels"]["health"]})
        elif message["type"] == "event":
            states[message["entity"]] = message["data"]["state"]


async def test_a_late_state_write_reaches_every_client_from_a_hub_that_cannot_reach_redis(
        redis_server: RedisServer) -> None:
    """The processor's writes land 2 s after their events, and the hub is given a Redis that refuses every
    connection: a connected client still ends with every app's latest state, and a client that connects
    afterwards gets it in its snapshot."""
    config, bus = _config(), EmbeddedBus()
    await bus.ensure_topics(topic_specs(config))
    late = LateStore.open(redis_server.url)
    await late.redis.flushall()
    refusing = Store.open(f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    down, up = range(0, 5), range(5, APPS)
    async with _hub(config, bus, refusing) as (_, url), \
            ProcessorRunner(HEALTH, bus=bus, store=late, config=config, clock=ManualClock(T0), poll_timeout=0.05):
        async with connect(url, additional_headers=bearer("demo-operator")) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channels": ["health"]}))
            states: dict[str, str] = {}
            follower = asyncio.create_task(_follow(ws, states))
            await publish(bus, HEALTH_CHECKS, _checks(down, up))
            try:
                await eventually(lambda: _states_are(states, _expected(down, up)), within=30)
            finally:
                follower.cancel()
        assert await _snapshot(url) == _expected(down, up)
    assert not await refusing.ping()
    await late.close()


async def _states_are(states: dict[str, str], expected: dict[str, str]) -> bool:
    return states == expected


async def test_a_new_hub_serves_a_complete_snapshot_from_cc_views_alone_with_redis_stopped(
        kafka_broker: KafkaBroker, redis_server: RedisServer) -> None:
    config = _config(20)
    prefix = f"v{uuid.uuid4().hex[:6]}."

    def kafka() -> KafkaBus:
        return KafkaBus(kafka_broker.bootstrap, topic_prefix=prefix, **FAST_GROUPS)

    bus = kafka()
    await bus.start()
    await bus.ensure_topics(topic_specs(config))
    store = Store.open(redis_server.url)
    await store.redis.flushall()
    down, up = range(0, 8), range(8, 20)
    async with _hub(config, bus, store) as (_, first_url), \
            ProcessorRunner(HEALTH, bus=bus, store=store, config=config, clock=ManualClock(T0), poll_timeout=0.05):
        await publish(bus, HEALTH_CHECKS, _checks(down, up))

        async def first_hub_has_all() -> bool:
            return await _snapshot(first_url) == _expected(down, up)

        await eventually(first_hub_has_all, within=60, every=0.5)
    await bus.stop()
    redis_server.stop()
    try:
        second = kafka()
        await second.start()
        async with _hub(config, second, Store.open(redis_server.url)) as (hub, url):
            feed_ready = await _eventually_ready(url, _expected(down, up))
            assert feed_ready == _expected(down, up)
        await second.stop()
    finally:
        redis_server.start()
    await store.close()


async def _eventually_ready(url: str, expected: dict[str, str]) -> dict[str, str]:
    seen: dict[str, str] = {}

    async def complete() -> bool:
        seen.clear()
        seen.update(await _snapshot(url))
        return seen == expected

    await eventually(complete, within=60, every=0.5)
    return seen
