"""/api/apps (application states, uptime, latency) and the heartbeat webhook for push checks."""

from __future__ import annotations

from aiohttp import web

from command_center.api.app import principal, runtime, visible
from command_center.api.errors import bad_request, not_found
from command_center.api.routes import Routes, query_param
from command_center.bus import Message
from command_center.config.base import by_id
from command_center.events import encode, new_event
from processors.health.config import HealthSettings
from processors.health.decide import AppHealth
from processors.health.events import HEALTH_CHECKS, CheckResult
from processors.health.processor import app_key
from processors.health.view import app_view, app_views

routes = Routes("apps")
READERS = ("operator", "oncall")
APP_ITEM = {"type": "object", "required": ["id", "name", "state", "since"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                           "state": {"enum": ["up", "down", "degraded", "maintenance", "unknown"]},
                           "since": {"type": "string", "format": "date-time", "nullable": True},
                           "uptime": {"type": "object"}, "latency_ms": {"type": "object"},
                           "checks": {"type": "array"},
                           "location": {"type": "object", "nullable": True,
                                        "properties": {"lat": {"type": "number"}, "long": {"type": "number"}}},
                           "path": {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                                               "minItems": 2, "maxItems": 2}}}}


@routes.get("/api/apps", roles=READERS, summary="Every application with its state, uptime and latency",
            response={"type": "object", "properties": {"apps": {"type": "array", "items": APP_ITEM}}})
async def list_apps(request: web.Request) -> web.Response:
    rt = runtime(request)
    return web.json_response({"apps": visible(request, await app_views(rt.store, rt.config))})


@routes.get("/api/apps/{app_id}", roles=READERS, summary="One application", response=APP_ITEM)
async def get_app(request: web.Request) -> web.Response:
    rt = runtime(request)
    app = by_id(HealthSettings.of(rt.config).apps).get(request.match_info["app_id"])
    if app is None or not principal(request).sees(app.area, app.agency):
        raise not_found(f"app {request.match_info['app_id']!r}")
    return web.json_response(await app_view(rt.store, app, await rt.store.get(app_key(app.id), AppHealth)))


@routes.post("/webhooks/heartbeat/{app_id}", roles=("ingest",), summary="A push check's heartbeat from the app",
             params=(query_param("check", "the push check's id (default: the app's only push check)"),),
             statuses={202: "accepted", 404: "unknown app or check"})
async def heartbeat(request: web.Request) -> web.Response:
    rt = runtime(request)
    app = by_id(HealthSettings.of(rt.config).apps).get(request.match_info["app_id"])
    if app is None or not principal(request).sees(app.area, app.agency):
        raise not_found(f"app {request.match_info['app_id']!r}")
    pushes = [c for c in app.checks if c.kind == "push"]
    wanted = request.query.get("check")
    check = next((c for c in pushes if c.id == wanted), None) if wanted else (pushes[0] if len(pushes) == 1 else None)
    if check is None:
        raise not_found(f"push check {wanted!r} of app {app.id!r}" if wanted else f"a push check of app {app.id!r}") \
            if wanted or not pushes else \
            bad_request(f"app {app.id!r} has several push checks: name one with ?check=")
    now = rt.clock.now()
    event = new_event("id.go.cc.health.check", source=f"/webhooks/heartbeat/{app.id}", subject=app.id, time=now,
                      data=CheckResult(app_id=app.id, check_id=check.id, kind="push", ok=True, started_at=now))
    await rt.bus.publish([Message(HEALTH_CHECKS, event.key, encode(event))])
    return web.json_response({"accepted": event.id}, status=202)
