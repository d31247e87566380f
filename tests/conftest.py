"""Fixtures: real redis-server, tansu and PostgreSQL on free ports, and a backend parameter that runs the same test
over the embedded adapters and the real ones. With CI=true a missing server fails the test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from command_center.bus import Bus, EmbeddedBus
from command_center.config import Config, parse_config
from command_center.runtime.host import topic_specs
from command_center.store import MEMORY_URL, Store
from command_center.testing.servers import (
    KafkaBroker,
    MqttBroker,
    PostgresServer,
    RedisServer,
    RtspCamera,
    ServerMissing,
)
from tests.helpers import Mailbox

IN_CI = os.environ.get("CI", "").lower() == "true"
# Short group timeouts: tansu holds a JoinGroup for the whole rebalance timeout.
FAST_GROUPS = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 500, "rebalance_timeout_ms": 1000}


def _start(factory: Callable[[], RedisServer | KafkaBroker | MqttBroker | RtspCamera | PostgresServer]):  # type: ignore[no-untyped-def]
    try:
        server = factory()
    except ServerMissing as err:
        if IN_CI:
            pytest.fail(f"{err} (CI=true: a missing server fails the run)")
        pytest.skip(str(err))
    server.start()
    return server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = _start(RedisServer)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    server = _start(KafkaBroker)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[MqttBroker]:
    server = _start(MqttBroker)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = _start(PostgresServer)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty archive database at the newest schema: SQLite in a file (the embedded default), or a database of
    its own on the test PostgreSQL."""
    from command_center.sql import open_engine
    from processors.archive.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'archive.db'}"
    else:
        url = await request.getfixturevalue("postgres_server").new_database()
    engine = open_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url


@pytest.fixture
def rtsp_camera() -> Iterator[RtspCamera]:
    """An H.264 camera over RTSP (GStreamer's RTSP server), its own per test: tests kill and restart it."""
    server = _start(RtspCamera)
    yield server
    server.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """aiosmtpd on a free port."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def config() -> Config:
    return parse_config({}, env={})


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[Store]:
    store = Store.open(redis_server.url)
    await store.redis.flushall()
    yield store
    await store.close()


@dataclass
class Backend:
    """A bus and a store of one kind; new_bus() gives another client of the same log (a second process)."""

    name: str
    bus: Bus
    store: Store
    new_bus: Callable[[], Bus]
    prefix: str = ""


@pytest.fixture(params=["embedded", "real"])
async def backend(request: pytest.FixtureRequest, config: Config) -> AsyncIterator[Backend]:
    if request.param == "embedded":
        bus = EmbeddedBus()
        store = Store.open(MEMORY_URL)
        made = Backend("embedded", bus, store, lambda: bus)
    else:
        from command_center.bus.kafka import KafkaBus

        broker: KafkaBroker = request.getfixturevalue("kafka_broker")
        redis: RedisServer = request.getfixturevalue("redis_server")
        prefix = f"t{uuid.uuid4().hex[:8]}."
        store = Store.open(redis.url)
        await store.redis.flushall()
        made = Backend("real", KafkaBus(broker.bootstrap, topic_prefix=prefix, **FAST_GROUPS), store,
                       lambda: KafkaBus(broker.bootstrap, topic_prefix=prefix, **FAST_GROUPS), prefix)
    await made.bus.start()
    await made.bus.ensure_topics(topic_specs(config))
    yield made
    await made.bus.stop()
    await made.store.close()


# Every feature registers its event types when imported; the composition root imports them all, as the CLI does.
import processors.composition  # noqa: E402, F401
