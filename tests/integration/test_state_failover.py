"""Redis high availability: a processor on a Sentinel URL survives its master's death and the promotion of a
replica that had not received the last writes, by deriving what the replica lacks again from the log."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from command_center.bus.kafka import KafkaBus
from command_center.clock import ManualClock
from command_center.config import Config
from command_center.errors import Unavailable
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import topic_specs
from command_center.store import Store
from command_center.testing.servers import KafkaBroker, RedisSentinel, RedisServer, free_port
from processors.health.events import HEALTH_CHECKS, HEALTH_EVENTS
from tests.conftest import FAST_GROUPS, _start
from tests.helpers import TALLY, Tally, check_event, collect, eventually, publish

APPS = 5
REPLAYED = dataclasses.replace(TALLY, name="test-failover", replay=(HEALTH_CHECKS,))


class Link:
    """The replication link between a master and its replica, through this process: held, it passes nothing
    (the replica falls behind, as an asynchronous replica does across a slow or broken link)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.held = False
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        for writer in self._open:
            writer.close()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        self._open |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, holdable: bool) -> None:
            try:
                while chunk := await src.read(65536):
                    if not (holdable and self.held):
                        dst.write(chunk)
                        await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[RedisServer, RedisServer, RedisSentinel, Link]]:
    master = _start(lambda: RedisServer(fsync="everysec"))
    link = Link(master.port)
    await link.start()
    replica = _start(lambda: RedisServer(fsync="everysec", replica_of=link.port))
    sentinel = _start(lambda: RedisSentinel(master))
    try:
        yield master, replica, sentinel, link
    finally:
        for server in (sentinel, replica, master):
            server.stop()
        await link.stop()


async def _synced(replica: RedisServer) -> bool:
    client = aioredis.Redis(port=replica.port)
    try:
        info = await client.info("replication")
    finally:
        await client.aclose()
    return info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == 0


async def _known_to(sentinel: RedisSentinel) -> bool:
    client = aioredis.Redis(port=sentinel.port)
    try:
        return bool(await client.sentinel_slaves(RedisSentinel.service))
    finally:
        await client.aclose()


async def test_a_failover_to_a_lagging_replica_loses_nothing(
        kafka_broker: KafkaBroker, redis_pair: tuple[RedisServer, RedisServer, RedisSentinel, Link],
        config: Config) -> None:
    master, replica, sentinel, link = redis_pair
    await eventually(lambda: _synced(replica), within=30)
    await eventually(lambda: _known_to(sentinel), within=30, every=0.5)  # it reads the master's INFO every 10 s
    prefix = f"f{uuid.uuid4().hex[:8]}."
    bus = KafkaBus(kafka_broker.bootstrap, topic_prefix=prefix, **FAST_GROUPS)
    await bus.start()
    await bus.ensure_topics(topic_specs(config))
    store = Store.open(sentinel.url)

    async def total(n: int) -> bool:
        try:
            found = await store.get_many([f"test:tally:app-{i}" for i in range(APPS)], Tally)
        except Unavailable:
            return False  # the fail-over under way
        return sum(t.count for t in found if t is not None) == n

    events = [check_event(f"app-{i % APPS}", i) for i in range(600)]
    runner = ProcessorRunner(REPLAYED, bus=bus, store=store, config=config, clock=ManualClock(), poll_timeout=0.1,
                             max_batch=50)
    try:
        async with runner:
            await publish(bus, HEALTH_CHECKS, events[:300])
            await eventually(lambda: total(300), within=30)
            link.held = True  # the replica falls behind: it will not have what comes next
            await publish(bus, HEALTH_CHECKS, events[300:500])
            await eventually(lambda: total(500), within=30)
            master.kill()
            await publish(bus, HEALTH_CHECKS, events[500:])
            await eventually(lambda: total(600), within=90, every=0.2)
            role = (await aioredis.Redis(port=replica.port).info("replication"))["role"]
            assert role == "master", "Sentinel promoted the replica"
        found = await store.get_many([f"test:tally:app-{i}" for i in range(APPS)], Tally)
        assert [t.count if t else 0 for t in found] == [120] * APPS
        assert all(t is not None and len(set(t.seen)) == len(t.seen) for t in found), "no check counted twice"
        assert runner.rebuilt, "what the replica lacked was read again from the log"
        published = await collect(bus, HEALTH_EVENTS, group="failover-reader", enough=lambda e: len(e) >= 600)
        assert len(published) == 600 and len({e.id for e in published}) == 600, "no output published twice"
    finally:
        await store.close()
        await bus.stop()
