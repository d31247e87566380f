"""An aiohttp application served on a host and port, as an async context manager."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)


class HttpServer:
    """Serves `app`; `port` is the bound port (useful when asked for port 0)."""

    def __init__(self, app: web.Application, host: str, port: int, *, name: str = "http") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)

    async def __aenter__(self) -> HttpServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server: Any = site._server
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        logger.info("listening", extra={"service": self.name, "host": self.host, "port": self.port})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
