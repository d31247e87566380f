"""At-least-once delivery end to end: a group member leaving half-way, a broker outage, a Redis restart."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import aiohttp
import pytest

from command_center.api import ops
from command_center.api.app import build_app
from command_center.clock import ManualClock
from command_center.config import Config, parse_config
from command_center.errors import Unavailable
from command_center.events import Event
from command_center.runtime import Context, Processor, ProcessorRunner
from command_center.runtime.host import open_runtime, topic_specs
from command_center.runtime.http import HttpServer
from processors.health.events import HEALTH_CHECKS
from tests.conftest import FAST_GROUPS, Backend
from tests.helpers import check_event, eventually, publish

HANDLED = "test:handled"


def recording_processor(calls: Counter[str]) -> Processor:
    async def record(event: Event, ctx: Context) -> None:
        calls[event.id] += 1
        ctx.state.hset(HANDLED, event.id, b"1")

    return Processor(name="recorder", inputs=(HEALTH_CHECKS,), handle=record)


async def handled(backend_store) -> int:  # type: ignore[no-untyped-def]
    return int(await backend_store.redis.hlen(HANDLED))


async def test_ten_thousand_events_with_a_member_stopping_half_way(backend: Backend, config: Config) -> None:
    """10,000 events, a two-member group, one member stops half-way: every event is handled, none lost."""
    calls: Counter[str] = Counter()
    processor = recording_processor(calls)
    events = [check_event(f"app-{i % 250}", i) for i in range(10_000)]
    second_bus = backend.new_bus()
    await second_bus.start()
    one = ProcessorRunner(processor, bus=backend.bus, store=backend.store, config=config, clock=ManualClock(),
                          max_batch=200, poll_timeout=0.2)
    two = ProcessorRunner(processor, bus=second_bus, store=backend.store, config=config, clock=ManualClock(),
                          max_batch=200, poll_timeout=0.2)
    async with one:
        await two.__aenter__()

        async def both_own_partitions() -> bool:
            return bool(one.assignment()) and bool(two.assignment()) and not one.assignment() & two.assignment()

        await eventually(both_own_partitions, within=30)
        for start in range(0, len(events), 1000):
            await publish(backend.bus, HEALTH_CHECKS, events[start : start + 1000])
        await eventually(lambda: _at_least(backend, 5_000), within=60, every=0.01)
        assert one.batches and two.batches, "both members took part"
        await two.stop()
        await eventually(lambda: _at_least(backend, 10_000), within=90)
    if second_bus is not backend.bus:
        await second_bus.stop()
    assert await handled(backend.store) == 10_000
    assert set(calls) == {e.id for e in events}
    assert sum(calls.values()) >= 10_000


async def _at_least(backend: Backend, n: int) -> bool:
    return await handled(backend.store) >= n


@pytest.fixture
async def outage_runtime(kafka_broker, redis_server):  # type: ignore[no-untyped-def]
    import uuid

    config = parse_config({"kafka": {"bootstrap": kafka_broker.bootstrap, "topic_prefix": f"o{uuid.uuid4().hex[:6]}.",
                                     "request_timeout_ms": 60_000, **FAST_GROUPS},
                           "redis": {"url": redis_server.url}, "ops": {"host": "127.0.0.1", "port": 0}}, env={})
    async with open_runtime(config) as rt:
        await rt.store.redis.flushall()
        await rt.bus.ensure_topics(topic_specs(config))
        async with HttpServer(build_app(rt, (ops.routes,)), "127.0.0.1", 0) as server:
            yield rt, server


async def _readyz(session: aiohttp.ClientSession, port: int) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with session.get(f"http://127.0.0.1:{port}/readyz", timeout=aiohttp.ClientTimeout(total=10)) as r:
        return r.status, await r.json()


async def test_broker_pause_and_redis_restart_lose_nothing(
    outage_runtime, kafka_broker, redis_server, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    """The broker stops answering for 20 s and Redis restarts (AOF on) while events stream through a processor:
    the producer waits it out, the processor resumes, /readyz and the log say what is down, nothing is lost."""
    rt, server = outage_runtime
    caplog.set_level(logging.WARNING)
    calls: Counter[str] = Counter()
    runner = ProcessorRunner(recording_processor(calls), bus=rt.bus, store=rt.store, config=rt.config,
                             clock=ManualClock(), poll_timeout=0.2)
    rt.readiness.add("processor:recorder", runner.ready)
    produced: list[str] = []
    done = asyncio.Event()

    async def produce() -> None:
        """An ingest service: publishes continuously, and waits out an outage without dropping a batch."""
        n = 0
        while not done.is_set():
            batch = [check_event(f"app-{i % 40}", i) for i in range(n, n + 20)]
            n += 20
            while True:
                try:
                    await publish(rt.bus, HEALTH_CHECKS, batch)
                    break
                except Unavailable:
                    await asyncio.sleep(0.5)
            produced.extend(e.id for e in batch)
            await asyncio.sleep(0.05)

    async def flowing() -> None:
        mark = len(produced)
        await eventually(lambda: _hlen_at_least(rt, mark + 100), within=60)

    async with runner, aiohttp.ClientSession() as session:
        await eventually(lambda: _ready(session, server.port), within=30)
        producer = asyncio.create_task(produce())
        await eventually(lambda: _hlen_at_least(rt, 300), within=30)

        kafka_broker.pause()
        try:
            await asyncio.sleep(1)
            status, body = await _readyz(session, server.port)
            assert status == 503 and body["checks"]["bus"]["ready"] is False
            await asyncio.sleep(19)
        finally:
            kafka_broker.resume()
        await eventually(lambda: _ready(session, server.port), within=60)
        await flowing()

        redis_server.stop()
        status, body = await _readyz(session, server.port)
        assert status == 503 and body["checks"]["store"]["ready"] is False
        await asyncio.sleep(3)
        redis_server.start()
        await flowing()

        done.set()
        await asyncio.wait_for(producer, 60)
        await eventually(lambda: _hlen_at_least(rt, len(produced)), within=90)
        await eventually(lambda: _ready(session, server.port), within=30)
    assert set(calls) == set(produced)
    assert {k.decode() for k in await rt.store.redis.hkeys(HANDLED)} == set(produced)
    assert any("dependency unavailable" in r.getMessage() for r in caplog.records)


async def _hlen_at_least(rt, n: int) -> bool:  # type: ignore[no-untyped-def]
    try:
        return int(await rt.store.redis.hlen(HANDLED)) >= n
    except Exception:
        return False


async def _ready(session: aiohttp.ClientSession, port: int) -> bool:
    return (await _readyz(session, port))[0] == 200
