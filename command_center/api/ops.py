"""Operational endpoints every service serves: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from command_center.api.app import OPENAPI, principal, runtime
from command_center.api.auth import ROLES
from command_center.api.routes import Routes

routes = Routes("operations")


@routes.get("/healthz", public=True, summary="Liveness: the process is up and its event loop answers")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get(
    "/readyz", public=True, summary="Readiness: every dependency and component can work",
    statuses={503: "a dependency or component is not ready; the body says which"},
)
async def readyz(request: web.Request) -> web.Response:
    ok, checks = await runtime(request).readiness.report()
    return web.json_response({"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503)


@routes.get("/metrics", public=True, summary="Prometheus metrics", response_type="text/plain")
async def metrics_endpoint(request: web.Request) -> web.Response:
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/openapi.json", public=True, summary="This OpenAPI 3 document")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


@routes.get(
    "/api/whoami", roles=ROLES, summary="The name and role of the presented token",
    response={"type": "object", "properties": {"name": {"type": "string"}, "role": {"type": "string"}}},
)
async def whoami(request: web.Request) -> web.Response:
    who = principal(request)
    return web.json_response({"name": who.name, "role": who.role})
