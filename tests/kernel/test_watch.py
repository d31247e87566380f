"""The watch: a heartbeat goes out while the bus, the store and every processor work; a processor that stays
behind is an anomaly (an incident), the heartbeat stops, and both come back when it catches up. An outside
monitor (a local HTTP server here) counts the heartbeats."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from command_center.bus import EmbeddedBus, Message
from command_center.config import parse_config
from command_center.events import Event
from command_center.runtime import Context, Processor
from command_center.runtime.host import open_runtime, topic_specs
from command_center.store import MEMORY_URL, Store
from command_center.testing.servers import local_app
from command_center.topics import SYSTEM_EVENTS, TopicSpec
from command_center.watch import watch_service
from processors.incidents.triggers import triggers_of
from tests.helpers import collect, eventually

SLOW = "t.slow"


async def _nothing(event: Event, ctx: Context) -> None:
    return None


SLOWPOKE = Processor(name="slowpoke", inputs=(SLOW,), handle=_nothing)


class Monitor:
    def __init__(self) -> None:
        self.beats = 0

    async def handle(self, request: web.Request) -> web.Response:
        assert request.query.get("status") == "up"
        self.beats += 1
        return web.Response(text="OK")


@pytest.fixture
async def monitor() -> AsyncIterator[tuple[Monitor, str]]:
    found = Monitor()
    app = web.Application()
    app.router.add_get("/api/push/cc-sleman", found.handle)
    async with local_app(app) as url:
        yield found, f"{url}/api/push/cc-sleman"


async def test_a_processor_that_stays_behind_stops_the_heartbeat_and_raises_its_incident(monitor) -> None:  # type: ignore[no-untyped-def]
    watcher, url = monitor
    config = parse_config({"watch": {"heartbeat_url": url, "every_s": 0.2, "lag_records": 10,
                                     "lag_minutes": 0.02}}, env={})
    bus = EmbeddedBus()
    async with open_runtime(config, bus=bus, store=Store.open(MEMORY_URL)) as rt:
        await bus.ensure_topics([*topic_specs(config), TopicSpec(name=SLOW, partitions=2, retention_ms=3_600_000)])
        async with watch_service(rt, {"slowpoke": SLOWPOKE}) as watch:
            await eventually(lambda: _beats(watcher, 3))  # all well: it beats
            await bus.publish([Message(SLOW, f"k{i}".encode(), b"x") for i in range(50)])  # nobody reads them

            raised = await collect(bus, SYSTEM_EVENTS, group="t-system", enough=lambda es: any(
                e.data.active for e in es))
            anomaly = next(e for e in raised if e.data.active)
            assert anomaly.subject == "processor:slowpoke" and anomaly.data.lag == 50
            assert "50 records behind on t.slow" in anomaly.data.detail
            (trigger,) = triggers_of(anomaly, config)
            assert trigger.source == "system" and trigger.severity == "major" and trigger.active
            assert trigger.title == "Pemroses slowpoke tertinggal (50 catatan belum diproses)"
            silent_from = watcher.beats
            await eventually(lambda: _stuck_for(watch, 3))
            assert watcher.beats == silent_from  # no heartbeat while it is stuck

            consumer = bus.consumer("slowpoke", [SLOW])  # it catches up
            await consumer.start()
            records = await consumer.poll(max_records=100, wait=1)
            ends: dict[tuple[str, int], int] = {}
            for r in records:
                ends[(r.topic, r.partition)] = max(ends.get((r.topic, r.partition), 0), r.offset + 1)
            assert await consumer.commit(ends)
            await consumer.stop()
            # the watch said "caught up" once when it started, then raised; now it clears what it raised
            cleared = await collect(bus, SYSTEM_EVENTS, group="t-system-2", enough=lambda es: _said(es)[-2:] == [
                True, False])
            assert _said(cleared) == [False, True, False], [(e.data.active, e.data.detail) for e in cleared]
            await eventually(lambda: _beats(watcher, silent_from + 2))


def _said(events: list[Event]) -> list[bool]:
    return [e.data.active for e in events if e.subject == "processor:slowpoke"]


async def _beats(watcher: Monitor, n: int) -> bool:
    return watcher.beats >= n


async def _stuck_for(watch, rounds: int) -> bool:  # type: ignore[no-untyped-def]
    behind = watch.behind["slowpoke"]
    return behind.raised is True and len(behind.samples) >= rounds


async def test_the_heartbeat_stops_while_the_store_is_down(monitor) -> None:  # type: ignore[no-untyped-def]
    watcher, url = monitor
    config = parse_config({"watch": {"heartbeat_url": url, "every_s": 0.2}}, env={})
    store = Store.open(MEMORY_URL)
    async with open_runtime(config, bus=EmbeddedBus(), store=store) as rt:
        await rt.bus.ensure_topics(topic_specs(config))
        async with watch_service(rt, {}) as watch:
            await eventually(lambda: _beats(watcher, 2))

            async def down() -> bool:
                return False
            store.ping = down  # type: ignore[method-assign]
            under_way = watch.rounds + 1
            await eventually(lambda: _rounds(watch, under_way))  # the round under way ends
            silent_from, rounds = watcher.beats, watch.rounds
            await eventually(lambda: _rounds(watch, rounds + 3))
            assert watcher.beats == silent_from  # three rounds, no heartbeat


async def _rounds(watch, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(watch.rounds >= n)
