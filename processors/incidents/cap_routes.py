"""/cap/alerts.xml (an Atom feed) and /cap/alerts/{id}.xml: public incidents as CAP 1.2, without a token."""

from __future__ import annotations

from aiohttp import web

from command_center.api.app import runtime
from command_center.api.errors import not_found
from command_center.api.routes import Routes
from processors.incidents.cap import atom_feed, cap_document, public_subject
from processors.incidents.events import IncidentState
from processors.incidents.processor import incident_key
from processors.incidents.view import recent_incidents

routes = Routes("public alerts")


@routes.get("/cap/alerts.xml", public=True, summary="Atom feed of public alerts (CAP 1.2 entries)",
            response_type="application/atom+xml")
async def feed(request: web.Request) -> web.Response:
    rt = runtime(request)
    public = [(i, s) for i in await recent_incidents(rt.store, limit=2000)
              if (s := public_subject(i, rt.config)) is not None][:100]
    return web.Response(body=atom_feed(public, rt.config), content_type="application/atom+xml")


@routes.get("/cap/alerts/{incident_id}.xml", public=True, summary="One public alert as a CAP 1.2 message",
            response_type="application/cap+xml", statuses={404: "no public alert with that id"})
async def alert(request: web.Request) -> web.Response:
    rt = runtime(request)
    incident = await rt.store.get(incident_key(request.match_info["incident_id"]), IncidentState)
    subject = public_subject(incident, rt.config) if incident is not None else None
    if incident is None or subject is None:
        raise not_found(f"public alert {request.match_info['incident_id']!r}")
    return web.Response(body=cap_document(incident, rt.config, subject), content_type="application/cap+xml")
