"""Serves the wall page and its static files from web/, and tells the page where the hub is."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from command_center.api.app import runtime
from command_center.api.errors import not_found
from command_center.api.routes import Routes
from command_center.api.state import REBUILDING
from web import WEB_ROOT

routes = Routes("wall")

# a file of web/, or of a vendored library under web/vendor/<library>/ (its images too): nothing else
_ASSET = re.compile(r"^(vendor/[a-z0-9][a-z0-9_.-]*/(images/)?)?[A-Za-z0-9][A-Za-z0-9_.-]*\.(js|css|svg|html|png)$")
_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml", "html": "text/html", "png": "image/png"}


@routes.get("/", public=True, summary="The wall page", response_type="text/html")
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_ROOT / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/wall/{layout}", public=True, summary="The wall page in one of the site's layouts",
            response_type="text/html", statuses={200: "the page", 404: "no such layout"})
async def layout(request: web.Request) -> web.FileResponse:
    name = request.match_info["layout"]
    if not any(layout.id == name for layout in runtime(request).config.wall.layouts):
        raise not_found(f"wall layout {name[:40]!r}")
    return web.FileResponse(WEB_ROOT / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/static/{name:.+}", public=True, summary="A static file of the wall page", response_type="text/plain")
async def static(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = WEB_ROOT / name
    if not _ASSET.match(name) or ".." in name or not path.is_file():
        raise not_found(f"static file {name[:80]!r}")
    cache = "public, max-age=86400" if name.startswith("vendor/") else "no-cache"
    return web.FileResponse(path, headers={"Content-Type": _TYPES[path.suffix[1:]], "Cache-Control": cache})


def _area(area: Any) -> dict[str, Any]:
    return {"id": area.id, "name": area.name, "code": area.code,
            "polygon": [[p.lat, p.long] for p in area.polygon],
            "center": [area.center.lat, area.center.long] if area.center else None, "radius_km": area.radius_km}


@routes.get("/api/state", public=True, summary="Which processors are deriving their state again from the log (the "
            "state check of /readyz alone), for the wall's header",
            response={"type": "object", "properties": {"rebuilding": {"type": "boolean"},
                                                       "detail": {"type": "string"}}})
async def state(request: web.Request) -> web.Response:
    check = runtime(request).readiness.checks.get("state")
    detail = (await check())[1] if check is not None else ""
    return web.json_response({"rebuilding": REBUILDING in detail, "detail": detail})


@routes.get("/api/wall-config", public=True,
            summary="What the wall page needs: the hub, the site's name and time zone, layouts, districts, map")
async def wall_config(request: web.Request) -> web.Response:
    config = runtime(request).config
    region = config.region()
    return web.json_response({
        "site": config.site.name, "hub_url": config.hub.public_url or "/ws", "timezone": config.site.timezone,
        "layouts": [layout.model_dump() for layout in config.wall.layouts],
        "areas": [_area(a) for a in config.areas],
        "bounds": [[region.south, region.west], [region.north, region.east]] if region else None,
        "tile_url": config.wall.tile_url, "tile_attribution": config.wall.tile_attribution,
        "sound": config.wall.sound,
        "sso": config.accounts.oidc.label if config.accounts.oidc.issuer and config.accounts.url else None})
