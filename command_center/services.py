"""The table of services the CLI can run (the kernel's api and hub, each feature's ingest services, each
processor), and how a process runs a set of them until told to stop."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Iterable
from contextlib import AsyncExitStack, asynccontextmanager

from command_center.api.app import build_app
from command_center.api.state import state_check
from command_center.features import Application, ServiceFactory
from command_center.runtime.host import Runtime
from command_center.runtime.http import HttpServer
from command_center.runtime.processor import Processor
from command_center.runtime.runner import ProcessorRunner

logger = logging.getLogger(__name__)


def api_service(application: Application) -> ServiceFactory:
    @asynccontextmanager
    async def api(rt: Runtime):  # type: ignore[no-untyped-def]
        """The HTTP API, the wall page, and /healthz, /readyz, /metrics; with hub.embed, /ws too."""
        if rt.directory is not None:
            rt.readiness.add("accounts", rt.directory.ready)
        rt.readiness.add("state", state_check(rt.store, [p.name for p in application.processors.values()
                                                         if p.replay]))
        if not rt.config.hub.embed:
            async with HttpServer(build_app(rt, application.routes), rt.config.http.host, rt.config.http.port,
                                  header_timeout_s=rt.config.http.header_timeout_s,
                                  name="api") as s:
                yield s
            return
        from command_center.api import ws
        from command_center.hub.core import Hub
        from command_center.hub.feed import HubFeed
        from command_center.hub.transports import publish_screens

        hub = Hub(rt.config, application.channels)
        publish_screens(rt, hub)
        app = build_app(rt, (*application.routes, ws.routes))
        app[ws.HUB] = hub
        feed = HubFeed(hub, rt.bus)
        rt.readiness.add("hub", feed.ready)
        async with feed, HttpServer(app, rt.config.http.host, rt.config.http.port,
                                  header_timeout_s=rt.config.http.header_timeout_s, name="api") as server:
            try:
                yield server
            finally:
                await hub.shutdown()

    return api


def hub_service(application: Application) -> ServiceFactory:
    """The websocket hub on hub.port, reading cc.views with its own consumer group."""
    from command_center.hub.transports import hub_service as serve_hub

    return lambda rt: serve_hub(rt, application.channels)


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


def service_table(application: Application) -> dict[str, ServiceFactory]:
    """Every service by name, in start order."""
    from command_center.watch import watch_service

    return {"api": api_service(application), "hub": hub_service(application),
            "watch": lambda rt: watch_service(rt, application.processors), **application.ingest_services,
            **{name: processor_service(p) for name, p in application.processors.items()}}


def expand(application: Application, names: Iterable[str]) -> list[str]:
    """Service names in start order, `all` meaning every service; unknown names raise ValueError."""
    services = service_table(application)
    wanted: list[str] = []
    for name in names:
        if name == "all":
            wanted.extend(services)
        elif name in services:
            wanted.append(name)
        else:
            raise ValueError(f"unknown service {name!r}; known: all, {', '.join(services)}")
    return list(dict.fromkeys(wanted))


async def run_services(rt: Runtime, application: Application, names: list[str], *,
                       stop: asyncio.Event | None = None, extra: Iterable[ServiceFactory] = ()) -> None:
    """Start the services in order, wait for SIGTERM or SIGINT (or `stop`), stop them in reverse."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with AsyncExitStack() as stack:
            if "api" not in names:
                await stack.enter_async_context(ops_service(rt))
            services = service_table(application)
            for name in names:
                await stack.enter_async_context(services[name](rt))
            for factory in extra:
                await stack.enter_async_context(factory(rt))
            logger.info("services running", extra={"services": names})
            # What start-up built (modules, configuration, tables) lives as long as the process: out of the
            # collector's way, so that a full collection scans only what requests and events leave behind.
            gc.collect()
            gc.freeze()
            await stop.wait()
            logger.info("stopping services", extra={"services": names})
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
