"""Thin transports over the hub core: the `websockets` server (the `hub` service on its own port) and an
aiohttp route (/ws in the API process, for the demo's single port)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from command_center.accounts.authn import Refused
from command_center.api.auth import Principal
from command_center.bus import Message
from command_center.errors import Unavailable
from command_center.events import encode, new_event
from command_center.events.types import ScreenReport
from command_center.hub.core import Disconnected, Hub
from command_center.hub.feed import HubFeed
from command_center.runtime.host import Runtime
from command_center.topics import WALL_SCREENS
from command_center.views import ViewSpec

logger = logging.getLogger(__name__)

MAX_MESSAGE = 64 * 1024
WRITE_NOW_BELOW = 64 * 1024  # a socket with less than this unsent takes a view at once
PING_S = 20
CLOSE_WITHIN_S = 2.0


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


async def handshake(rt: Runtime, hub: Hub, headers: Mapping[str, str], cookies: Mapping[str, str], *,
                    own_origin: str = "") -> Principal:
    """Who opens a hub connection: a bearer token, or the session cookie from one of the site's origins; a role
    with no channel is refused. Refused otherwise. The same check serves both transports."""
    who = await rt.auth.principal(headers, cookies)
    rt.auth.check_origin(who, headers, own_origin)
    if not hub.allowed(who.role):
        raise Refused(403, "forbidden", f"role {who.role} has no channels")
    return who


def publish_screens(rt: Runtime, hub: Hub) -> None:
    """Wall screens' reports go on cc.wall.screens (keyed by screen), where the health feature watches them."""
    pending: set[asyncio.Task[None]] = set()

    async def publish(report: ScreenReport) -> None:
        event = new_event("id.go.cc.wall.screen", source="/hub", subject=report.screen, time=rt.clock.now(),
                          data=report)
        try:
            await rt.bus.publish([Message(WALL_SCREENS, event.key, encode(event))])
        except Unavailable as err:  # the next report, seconds later, says the same
            logger.warning("screen report not published", extra={"screen": report.screen, "error": str(err)})

    def on_screen(report: ScreenReport) -> None:
        task = asyncio.ensure_future(publish(report))
        pending.add(task)
        task.add_done_callback(pending.discard)

    hub.on_screen = on_screen


class WebsocketsConnection:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws

    def try_send(self, text: str) -> bool:
        ws = self.ws
        if ws.state is not State.OPEN or ws.send_in_progress is not None or \
                ws.transport.get_write_buffer_size() > WRITE_NOW_BELOW:
            return False
        broadcast((ws,), text)  # the library's own synchronous write of one frame
        return True

    async def send(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except ConnectionClosed as err:
            raise Disconnected() from err

    async def recv(self) -> str:
        try:
            message = await self.ws.recv()
        except ConnectionClosed as err:
            raise Disconnected() from err
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    async def close(self, code: int, reason: str) -> None:
        closing = asyncio.ensure_future(self.ws.close(code, reason[:120]))
        done, _ = await asyncio.wait({closing}, timeout=CLOSE_WITHIN_S)
        if not done:
            self.ws.transport.abort()  # a client that reads nothing cannot take a close frame either


@asynccontextmanager
async def hub_service(rt: Runtime, channels: Mapping[str, ViewSpec]) -> AsyncIterator[Hub]:
    """The `hub` service: /ws on hub.port with the websockets library, fed from cc.views by its own group."""
    hub = Hub(rt.config, channels)
    publish_screens(rt, hub)
    feed = HubFeed(hub, rt.bus)
    rt.readiness.add("hub", feed.ready)

    async def authorise(connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != "/ws":
            return connection.respond(HTTPStatus.NOT_FOUND, "the hub serves /ws\n")
        try:
            who = await handshake(rt, hub, request.headers, _cookies(request.headers.get("Cookie", "")))
        except Refused as err:
            return connection.respond(HTTPStatus(err.status), err.message + "\n")
        connection.principal = who  # type: ignore[attr-defined]
        return None

    async def handler(ws: ServerConnection) -> None:
        await hub.serve(WebsocketsConnection(ws), ws.principal)  # type: ignore[attr-defined]

    async with feed:
        server = await serve(handler, rt.config.hub.host, rt.config.hub.port, process_request=authorise,
                             max_size=MAX_MESSAGE, ping_interval=PING_S, ping_timeout=PING_S, max_queue=16,
                             close_timeout=CLOSE_WITHIN_S,
                             compression="deflate" if rt.config.hub.compression else None)
        ports = {s.getsockname()[1] for s in server.sockets}
        hub.port = ports.pop() if ports else rt.config.hub.port  # type: ignore[attr-defined]
        logger.info("hub listening", extra={"port": hub.port})  # type: ignore[attr-defined]
        try:
            yield hub
        finally:
            await hub.shutdown()
            server.close(close_connections=False)
            for connection in list(server.connections):
                connection.transport.abort()  # whoever did not finish closing in time
            closed = asyncio.ensure_future(server.wait_closed())
            if not (await asyncio.wait({closed}, timeout=5))[0]:
                logger.warning("hub stopped with handlers still running")


class AiohttpConnection:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    def try_send(self, text: str) -> bool:
        return False  # aiohttp has no synchronous send: the relay task sends (the demo's /ws)

    async def send(self, text: str) -> None:
        if self.ws.closed:
            raise Disconnected()
        try:
            await self.ws.send_str(text)
        except (ConnectionResetError, RuntimeError) as err:
            raise Disconnected() from err

    async def recv(self) -> str:
        message = await self.ws.receive()
        if message.type == WSMsgType.TEXT:
            return message.data  # type: ignore[no-any-return]
        if message.type == WSMsgType.BINARY:
            return message.data.decode("utf-8", "replace")  # type: ignore[no-any-return]
        if message.type == WSMsgType.ERROR and "too big" in str(self.ws.exception() or "").lower():
            raise Disconnected()
        raise Disconnected()

    async def close(self, code: int, reason: str) -> None:
        closing = asyncio.ensure_future(self.ws.close(code=code, message=reason[:120].encode()))
        await asyncio.wait({closing}, timeout=CLOSE_WITHIN_S)
