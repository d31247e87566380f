"""What one process shares between its services: configuration, bus, store, clock, auth and readiness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from command_center.accounts.authn import Authenticator
from command_center.accounts.directory import Directory
from command_center.accounts.sessions import Sessions
from command_center.api.auth import TokenAuth
from command_center.bus import Bus, open_bus
from command_center.clock import Clock, SystemClock
from command_center.config import Config
from command_center.errors import Unavailable
from command_center.runtime import metrics
from command_center.runtime.readiness import Readiness
from command_center.store import MEMORY_URL, Store
from command_center.topics import TOPICS, TopicSpec

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Runtime:
    config: Config
    bus: Bus
    store: Store
    clock: Clock
    readiness: Readiness
    tokens: TokenAuth
    directory: Directory | None = None  # people and named API tokens (accounts.url); None: tokens only
    sessions: Sessions | None = None
    auth: Authenticator = field(init=False)

    def __post_init__(self) -> None:
        self.auth = Authenticator.of(self.tokens, self.directory, self.sessions,
                                     [self.config.site.public_url, *self.config.accounts.origins])


def topic_specs(config: Config) -> list[TopicSpec]:
    """The topic table with the configuration's partition overrides applied."""
    out = []
    for spec in TOPICS.values():
        partitions = config.kafka.partitions.get(spec.name, spec.partitions)
        out.append(TopicSpec(name=spec.name, partitions=partitions, retention_ms=spec.retention_ms,
                             compacted=spec.compacted, description=spec.description))
    return out


def bus_for(config: Config) -> Bus:
    k = config.kafka
    return open_bus(
        k.bootstrap, client_id=k.client_id, topic_prefix=k.topic_prefix, replication_factor=k.replication_factor,
        enable_idempotence=k.enable_idempotence, linger_ms=k.linger_ms, request_timeout_ms=k.request_timeout_ms,
        session_timeout_ms=k.session_timeout_ms, heartbeat_interval_ms=k.heartbeat_interval_ms,
        rebalance_timeout_ms=k.rebalance_timeout_ms,
    )


@asynccontextmanager
async def open_runtime(
    config: Config, *, clock: Clock | None = None, bus: Bus | None = None, store: Store | None = None
) -> AsyncIterator[Runtime]:
    """Connect to the bus and the store; an unreachable one is reported on /readyz, not fatal."""
    bus = bus or bus_for(config)
    store = store or Store.open(config.redis.url)
    readiness = Readiness()

    async def bus_ready() -> tuple[bool, str]:
        ok, detail = await bus.ready()
        metrics.DEPENDENCY_UP.labels("bus").set(int(ok))
        return ok, detail

    async def store_ready() -> tuple[bool, str]:
        ok = await store.ping()
        metrics.DEPENDENCY_UP.labels("store").set(int(ok))
        return store.ready()

    readiness.add("bus", bus_ready)
    readiness.add("store", store_ready)
    try:
        await bus.start()
    except Unavailable as err:
        logger.warning("bus not reachable at start; will keep trying", extra={"error": str(err)})
    if not await store.ping():
        logger.warning("store not reachable at start; will keep trying", extra={"error": store.ready()[1]})
    clock = clock or SystemClock()
    tokens = TokenAuth(config.tokens, config.api_clients()[0])
    directory = Directory.open(config.accounts.url, clock.now) if config.accounts.url else None
    sessions = Sessions(store, config.accounts) if directory is not None else None
    rt = Runtime(config=config, bus=bus, store=store, clock=clock, readiness=readiness, tokens=tokens,
                 directory=directory, sessions=sessions)
    sweeper = asyncio.create_task(store.sweep_expired(), name="store-sweep") if store.url == MEMORY_URL else None
    try:
        yield rt
    finally:
        if sweeper is not None:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
        await bus.stop()
        await store.close()
        if directory is not None:
            await directory.close()
