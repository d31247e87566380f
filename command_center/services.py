"""The one table of services the CLI can run, and how a process runs a set of them until told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from command_center.api.app import build_app
from command_center.api.tables import API_ROUTES
from command_center.runtime.host import Runtime
from command_center.runtime.http import HttpServer
from command_center.runtime.processor import Processor
from command_center.runtime.runner import ProcessorRunner
from processors import PROCESSORS

logger = logging.getLogger(__name__)

ServiceFactory = Callable[[Runtime], AbstractAsyncContextManager[Any]]


@asynccontextmanager
async def api_service(rt: Runtime):  # type: ignore[no-untyped-def]
    """The HTTP API, the wall page, and /healthz, /readyz, /metrics; with hub.embed, /ws too."""
    if not rt.config.hub.embed:
        async with HttpServer(build_app(rt, API_ROUTES), rt.config.http.host, rt.config.http.port, name="api") as s:
            yield s
        return
    from command_center.api import ws
    from command_center.hub.core import Hub
    from command_center.hub.feed import HubFeed

    hub = Hub(rt.config, rt.store)
    app = build_app(rt, (*API_ROUTES, ws.routes))
    app[ws.HUB] = hub
    feed = HubFeed(hub, rt.bus)
    rt.readiness.add("hub", feed.ready)
    async with feed, HttpServer(app, rt.config.http.host, rt.config.http.port, name="api") as server:
        try:
            yield server
        finally:
            await hub.shutdown()


def hub_service(rt: Runtime) -> AbstractAsyncContextManager[Any]:
    """The websocket hub on hub.port, reading Kafka with its own consumer group."""
    from command_center.hub.transports import hub_service as serve_hub

    return serve_hub(rt)


def ops_service(rt: Runtime) -> HttpServer:
    """Only /healthz, /readyz, /metrics and /openapi.json, for processes that run no API."""
    from command_center.api import ops

    return HttpServer(build_app(rt, (ops.routes,)), rt.config.ops.host, rt.config.ops.port, name="ops")


def processor_service(processor: Processor) -> ServiceFactory:
    @asynccontextmanager
    async def run(rt: Runtime):  # type: ignore[no-untyped-def]
        runner = ProcessorRunner(processor, bus=rt.bus, store=rt.store, config=rt.config, clock=rt.clock)
        rt.readiness.add(f"processor:{processor.name}", runner.ready)
        async with runner:
            yield runner
        rt.readiness.remove(f"processor:{processor.name}")

    return run


def ingest_health_service(rt: Runtime) -> AbstractAsyncContextManager[Any]:
    """Probes this shard's applications and publishes every result."""
    from ingest.health.scheduler import HealthIngest

    return HealthIngest(rt.config, rt.bus)


@asynccontextmanager
async def ingest_cctv_service(rt: Runtime):  # type: ignore[no-untyped-def]
    """Polls this shard's snapshot cameras and reads its stream cameras; frames go to the store, events to Kafka."""
    from ingest.cctv.service import CctvIngest

    ingest = CctvIngest(rt.config, rt.bus, rt.store)
    rt.readiness.add("ingest-cctv", ingest.ready)
    async with ingest:
        yield ingest


@asynccontextmanager
async def ingest_sensors_service(rt: Runtime):  # type: ignore[no-untyped-def]
    """Subscribes to the MQTT broker; HTTP pushes arrive through the api service's /webhooks/sensors."""
    if rt.config.mqtt is None:
        logger.info("no mqtt section: sensor readings arrive only by HTTP push to the api")
        yield None
        return
    from ingest.sensors.mqtt import MqttIngest

    ingest = MqttIngest(rt.config, rt.bus)
    rt.readiness.add("mqtt", ingest.ready)
    async with ingest:
        yield ingest


SERVICES: dict[str, ServiceFactory] = {
    "api": api_service,
    "hub": hub_service,
    "ingest-cctv": ingest_cctv_service,
    "ingest-health": ingest_health_service,
    "ingest-sensors": ingest_sensors_service,
    **{name: processor_service(p) for name, p in PROCESSORS.items()},
}


def expand(names: Iterable[str]) -> list[str]:
    """Service names in start order, `all` meaning every service; unknown names raise ValueError."""
    wanted: list[str] = []
    for name in names:
        if name == "all":
            wanted.extend(SERVICES)
        elif name in SERVICES:
            wanted.append(name)
        else:
            raise ValueError(f"unknown service {name!r}; known: all, {', '.join(SERVICES)}")
    return list(dict.fromkeys(wanted))


async def run_services(rt: Runtime, names: list[str], *, stop: asyncio.Event | None = None,
                       extra: Iterable[ServiceFactory] = ()) -> None:
    """Start the services in order, wait for SIGTERM or SIGINT (or `stop`), stop them in reverse."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with AsyncExitStack() as stack:
            if "api" not in names:
                await stack.enter_async_context(ops_service(rt))
            for name in names:
                await stack.enter_async_context(SERVICES[name](rt))
            for factory in extra:
                await stack.enter_async_context(factory(rt))
            logger.info("services running", extra={"services": names})
            await stop.wait()
            logger.info("stopping services", extra={"services": names})
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
