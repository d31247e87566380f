"""Simulated government applications for the demo, on real local HTTP and HTTPS listeners.

Some are healthy; one goes down for a while every few minutes, one turns slow, one serves a certificate
that expires in five days, and one reports by heartbeat to the demo's own webhook.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from command_center.testing.servers import free_port
from command_center.testing.tls import TestCA

logger = logging.getLogger(__name__)

# (seconds into a cycle, cycle length): the app misbehaves while (now % cycle) < first
DOWN_CYCLE = (90, 300)
SLOW_CYCLE = (120, 360)


def _phase(cycle: tuple[int, int], offset: float = 0) -> bool:
    bad, length = cycle
    return (time.time() + offset) % length < bad


async def _page(request: web.Request) -> web.Response:
    app = request.match_info["app"]
    if app == "e-statistik" and _phase(DOWN_CYCLE):
        return web.Response(status=503, text="Service Unavailable")
    if app == "e-yankes" and _phase(SLOW_CYCLE, 100):
        await asyncio.sleep(2.5)
    if app == "e-bansos" and request.path.endswith("/api/health"):
        return web.json_response({"status": "ok", "db": "ok"})
    return web.Response(text=f"<html><title>{app}</title><body>Selamat datang di {app} - LPSE Bansos</body></html>",
                        content_type="text/html")


async def _pager(request: web.Request) -> web.Response:
    """A stand-in for on-call phones: logs each push it receives."""
    body = await request.json()
    logger.info("push received", extra={"contact": request.match_info["who"], "kind": body.get("kind"),
                                        "subject": body.get("subject"), "ack_link": bool(body.get("ack_url"))})
    return web.json_response({"ok": True})


class SimulatedApps:
    """An async context manager serving the simulated applications; `port` is HTTP, `tls_port` HTTPS."""

    def __init__(self, *, port: int | None = None, tls_port: int | None = None, workdir: Path,
                 heartbeat_url: str = "", heartbeat_token: str = "demo-ingest") -> None:
        self.port = port or free_port()
        self.tls_port = tls_port or free_port()
        self.ca = TestCA(workdir)
        self.cert = self.ca.issue("e-lpse", ["localhost", "127.0.0.1"], days=5)
        self.heartbeat_url = heartbeat_url
        self.heartbeat_token = heartbeat_token
        app = web.Application()
        app.router.add_get("/{app}/{tail:.*}", _page)
        app.router.add_post("/pager/{who}", _pager)
        self._runner = web.AppRunner(app, access_log=None)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SimulatedApps:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        await web.TCPSite(self._runner, "127.0.0.1", self.tls_port, ssl_context=self.cert.server_context()).start()
        if self.heartbeat_url:
            self._task = asyncio.create_task(self._heartbeats(), name="sim-heartbeats")
        logger.info("simulated applications up", extra={"port": self.port, "tls_port": self.tls_port})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._runner.cleanup()

    async def _heartbeats(self) -> None:
        """e-simparda calls home every 20 s, but goes quiet for 4 minutes in every 15."""
        headers = {"Authorization": f"Bearer {self.heartbeat_token}"}
        await asyncio.sleep(3)  # let the API come up first
        async with aiohttp.ClientSession(headers=headers) as session:
            while True:
                if time.time() % 900 >= 240:
                    try:
                        async with session.post(self.heartbeat_url) as response:
                            await response.read()
                    except aiohttp.ClientError as err:
                        logger.warning("heartbeat not delivered", extra={"error": str(err)})
                await asyncio.sleep(20)


@asynccontextmanager
async def demo_apps(workdir: Path, api_url: str) -> AsyncIterator[dict[str, str]]:
    """The demo's simulated applications; demo.yaml's {sim}, {sim_tls} and {ca}."""
    async with SimulatedApps(workdir=workdir, heartbeat_url=f"{api_url}/webhooks/heartbeat/e-simparda") as apps:
        yield {"sim": str(apps.port), "sim_tls": str(apps.tls_port), "ca": str(apps.ca.ca.cert)}
