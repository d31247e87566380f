"""/ws served by the API process (the demo's single port): the hub protocol over aiohttp's websockets."""

from __future__ import annotations

from aiohttp import web

from command_center.accounts.authn import Refused
from command_center.api.app import RUNTIME, principal
from command_center.api.errors import ApiError
from command_center.api.routes import Routes
from command_center.hub.core import Hub
from command_center.hub.transports import MAX_MESSAGE, PING_S, AiohttpConnection

routes = Routes("hub")
HUB = web.AppKey("hub", Hub)


@routes.get("/ws", roles=("operator", "oncall", "police", "agency"),
            summary="The live hub (websocket): subscribe, snapshot or resume, then events (see DESIGN.md)",
            statuses={101: "switching protocols", 400: "not a websocket handshake"}, in_openapi=False)
async def websocket(request: web.Request) -> web.WebSocketResponse:
    rt = request.app[RUNTIME]
    try:
        rt.auth.check_origin(principal(request), request.headers, f"{request.scheme}://{request.host}")
    except Refused as err:
        raise ApiError(err.status, err.code, err.message) from None
    ws = web.WebSocketResponse(heartbeat=PING_S, max_msg_size=MAX_MESSAGE,
                               compress=rt.config.hub.compression)
    await ws.prepare(request)
    await request.app[HUB].serve(AiohttpConnection(ws), principal(request))
    return ws
