"""An aiohttp application served on a host and port, as an async context manager."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from command_center.runtime import metrics

logger = logging.getLogger(__name__)

_REQUEST_LINE = re.compile(rb"(/|[A-Z]{3,10} |https?://)")  # a request line (or its target); a header has a name
HEADER_TIMEOUT_S = 15.0  # a client that has not sent a whole request line and headers by then is cut off
KEEPALIVE_S = 30.0


def _raw_error(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class GuardedHandler(RequestHandler):
    """aiohttp's connection handler with the API's manners at the protocol level: a malformed request, an
    oversized header or request line get the JSON error (never echoing the input, which may be a token), are
    logged at info without a traceback; a client that dribbles its headers is cut off with 408."""

    _cc_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._current_request is None and not self._messages:
            self._arm()  # between requests, or part of a request's head: its head must be complete in time

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._cc_deadline is not None:
            self._cc_deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._cc_deadline is None:
            timeout = getattr(self._manager, "header_timeout_s", HEADER_TIMEOUT_S)
            self._cc_deadline = self._loop.call_later(timeout, self._expire, self._request_count)

    def _expire(self, count: int) -> None:
        self._cc_deadline = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._request_count == count and self._current_request is None and not self._messages:
            metrics.HTTP_REQUESTS.labels("", "(protocol)", "408").inc()
            logger.info("client error", extra={"status": 408, "reason": "request head not complete in time",
                                               "peer": str(transport.get_extra_info("peername"))})
            transport.write(_raw_error(408, "Request Timeout", "request_timeout",
                                       "the request's head did not arrive in time"))
            self.force_close()
            transport.close()

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            logger.error("request failed in the HTTP layer", exc_info=exc)
            code, text = "internal", "the server failed to answer this request; it has been logged"
        elif isinstance(exc, LineTooLong) and _REQUEST_LINE.match(bytes(exc.args[0])[:20] if exc.args else b""):
            status, code, text = 400, "bad_request", "the request line (the URL and its query) is too long"
        elif isinstance(exc, LineTooLong):
            status, code, text = 431, "header_too_large", "a request header is too long"
        elif isinstance(exc, BadHttpMessage):
            code, text = "bad_request", "the request is not valid HTTP/1.1"
        else:
            code, text = "bad_request", "the request is malformed"
        metrics.HTTP_REQUESTS.labels(request.method if status == 500 else "", "(protocol)", str(status)).inc()
        if status < 500:
            logger.info("client error", extra={"status": status, "reason": text, "error": type(exc).__name__})
        response = web.json_response({"error": {"code": code, "message": text}}, status=status)
        response.force_close()
        return response


class GuardedServer(web.Server):
    header_timeout_s = HEADER_TIMEOUT_S

    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, loop=self._loop, **self._kwargs)


class HttpServer:
    """Serves `app`; `port` is the bound port (useful when asked for port 0)."""

    def __init__(self, app: web.Application, host: str, port: int, *, name: str = "http",
                 header_timeout_s: float = HEADER_TIMEOUT_S) -> None:
        self.header_timeout_s = header_timeout_s
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5,
                                     keepalive_timeout=KEEPALIVE_S, lingering_time=1.0)

    async def __aenter__(self) -> HttpServer:
        await self._runner.setup()
        assert self._runner.server is not None
        self._runner.server.__class__ = GuardedServer  # its connections are GuardedHandlers
        self._runner.server.header_timeout_s = self.header_timeout_s  # type: ignore[attr-defined]
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server: Any = site._server
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        logger.info("listening", extra={"service": self.name, "host": self.host, "port": self.port})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
