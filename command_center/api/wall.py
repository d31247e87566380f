"""Serves the wall page and its static files from web/, and tells the page where the hub is."""

from __future__ import annotations

import re

from aiohttp import web

from command_center.api.app import runtime
from command_center.api.errors import not_found
from command_center.api.routes import Routes
from web import WEB_ROOT

routes = Routes("wall")

_ASSET = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(js|css|svg|html)$")
_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml", "html": "text/html"}


@routes.get("/", public=True, summary="The wall page", response_type="text/html")
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_ROOT / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/static/{name}", public=True, summary="A static file of the wall page", response_type="text/plain")
async def static(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = WEB_ROOT / name
    if not _ASSET.match(name) or not path.is_file():
        raise not_found(f"static file {name!r}")
    return web.FileResponse(path, headers={"Content-Type": _TYPES[path.suffix[1:]], "Cache-Control": "no-cache"})


@routes.get("/api/wall-config", public=True, summary="Where the wall finds the hub, and the site's name")
async def wall_config(request: web.Request) -> web.Response:
    config = runtime(request).config
    return web.json_response({"site": config.site.name, "hub_url": config.hub.public_url or "/ws"})
