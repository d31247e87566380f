"""/cap/alerts.xml (an Atom feed) and /cap/alerts/{id}.xml: public incidents as CAP 1.2, without a token."""

from __future__ import annotations

from aiohttp import web

from command_center.api.app import runtime
from command_center.api.errors import not_found
from command_center.api.routes import Routes
from processors.incidents.cap import atom_feed, cap_document
from processors.incidents.events import IncidentState
from processors.incidents.processor import incident_key
from processors.incidents.view import recent_incidents

routes = Routes("public alerts")


def _public(incident: IncidentState | None) -> bool:
    return incident is not None and incident.public and not incident.suppressed


@routes.get("/cap/alerts.xml", public=True, summary="Atom feed of public alerts (CAP 1.2 entries)",
            response_type="application/atom+xml")
async def feed(request: web.Request) -> web.Response:
    rt = runtime(request)
    incidents = [i for i in await recent_incidents(rt.store, limit=2000) if _public(i)][:100]
    return web.Response(body=atom_feed(incidents, rt.config), content_type="application/atom+xml")


@routes.get("/cap/alerts/{incident_id}.xml", public=True, summary="One public alert as a CAP 1.2 message",
            response_type="application/cap+xml", statuses={404: "no public alert with that id"})
async def alert(request: web.Request) -> web.Response:
    rt = runtime(request)
    incident = await rt.store.get(incident_key(request.match_info["incident_id"]), IncidentState)
    if incident is None or not _public(incident):
        raise not_found(f"public alert {request.match_info['incident_id']!r}")
    return web.Response(body=cap_document(incident, rt.config), content_type="application/cap+xml")
