"""One-click acknowledgement from a page: /ack/<token> shows what would be acknowledged (a GET changes nothing,
so mail scanners and link previews cannot stop an escalation); the page's button POSTs, which acknowledges once.
A link works once: a second POST answers 409."""

from __future__ import annotations

import hashlib
import html

import msgspec
from aiohttp import web

from command_center.api.app import principal, runtime
from command_center.api.errors import ApiError, conflict, not_found
from command_center.api.routes import Routes
from command_center.bus import Message
from command_center.config.base import by_id
from command_center.events import derive_id, encode, new_event
from command_center.runtime.host import Runtime
from processors.incidents.events import INCIDENT_COMMANDS, IncidentCommand, IncidentState
from processors.incidents.keys import incident_key
from processors.notify.config import NotifySettings
from processors.notify.links import BadLink, read_token
from processors.notify.processor import PageTry, pages_key

routes = Routes("notify")
PAGE = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}, "contact": {"type": "string"},
                                          "name": {"type": "string"}, "channel": {"type": "string"},
                                          "kind": {"enum": ["page", "resolved"]}, "step": {"type": "integer"},
                                          "round": {"type": "integer"}, "attempt": {"type": "integer"},
                                          "status": {"enum": ["sent", "resolved", "retrying", "failed"]}}}


@routes.get("/api/incidents/{incident_id}/pages", roles=("operator", "oncall"),
            summary="Who was paged for an incident, on which channel, at which step, and whether it got through",
            response={"type": "object", "properties": {"pages": {"type": "array", "items": PAGE}}},
            statuses={404: "no such incident"})
async def pages(request: web.Request) -> web.Response:
    rt = runtime(request)
    incident_id = request.match_info["incident_id"]
    incident = await rt.store.get(incident_key(incident_id), IncidentState)
    if incident is None or not principal(request).sees(incident.area):
        raise not_found(f"incident {incident_id[:80]!r}")
    contacts = by_id(NotifySettings.of(rt.config).contacts)
    tries = [msgspec.json.decode(raw, type=PageTry) for raw in await rt.store.list_range(pages_key(incident_id))]
    shown = [f for f in PageTry.__struct_fields__ if f != "detail"]  # the receiver's own answer stays internal
    return web.json_response({"pages": [
        {**{f: msgspec.to_builtins(getattr(p, f)) for f in shown},
         "name": contacts[p.contact].name if p.contact in contacts else p.contact} for p in tries]})


LINK_STATUSES = {403: "forged or expired link", 404: "no such incident", 409: "already resolved or acknowledged, "
                                                                             "or the link was used"}


def _used_key(token: str) -> str:
    return "cc:notify:ack-used:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


async def _incident(rt: Runtime, token: str) -> tuple[IncidentState, str]:
    try:
        incident_id, contact_id = read_token(rt.config.webhook_secret, token, now=rt.clock.now().timestamp())
    except BadLink as err:
        raise ApiError(403, "forbidden", str(err)) from err
    incident = await rt.store.get(incident_key(incident_id), IncidentState)
    if incident is None:
        raise not_found(f"incident {incident_id!r}")
    if incident.status == "resolved" or incident.acknowledged:
        raise conflict(f"incident {incident.id} is already {incident.status}")
    return incident, contact_id


def _page(title: str, body: str, status: int = 200) -> web.Response:
    page = (f"<!doctype html><html lang=id><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<meta name=referrer content=no-referrer><title>{html.escape(title)}</title>"
            f"<body style='font:1.2rem sans-serif;padding:2rem;max-width:40rem'>{body}</body></html>")
    return web.Response(text=page, content_type="text/html", status=status,
                        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


@routes.get("/ack/{token}", public=True, summary="The acknowledge page of a pushed link (changes nothing)",
            response_type="text/html", statuses=LINK_STATUSES)
async def ack_page(request: web.Request) -> web.Response:
    incident, _ = await _incident(runtime(request), request.match_info["token"])
    title = html.escape(incident.title)
    return _page("Terima insiden / Acknowledge", f"<h1>{title}</h1><p>Status: {html.escape(incident.status)}</p>"
                 "<form method=post><button style='font-size:1.4rem;padding:.6rem 1.4rem'>"
                 "Terima / Acknowledge</button></form>")


@routes.post("/ack/{token}", public=True, summary="Acknowledge from a pushed link (once per link)",
             response_type="text/html", statuses={202: "acknowledged", **LINK_STATUSES})
async def ack(request: web.Request) -> web.Response:
    rt = runtime(request)
    token = request.match_info["token"]
    incident, contact_id = await _incident(rt, token)
    contact = by_id(NotifySettings.of(rt.config).contacts).get(contact_id)
    ttl = NotifySettings.of(rt.config).notify.ack_link_hours * 3600
    if not await rt.store.set_if_absent(_used_key(token), b"1", ttl=ttl):
        raise conflict("this link was already used")
    command = IncidentCommand(incident_id=incident.id, action="ack", actor=contact.name if contact else contact_id,
                              role="oncall", text="acknowledged from a push")
    event = new_event("id.go.cc.incident.command", source="/ack", subject=incident.id, time=rt.clock.now(),
                      data=command, id=derive_id("ack-link", token))
    try:
        await rt.bus.publish([Message(INCIDENT_COMMANDS, event.key, encode(event))])
    except BaseException:
        await rt.store.apply([("delete", (_used_key(token),), {})])  # the link still works: try again
        raise
    return _page("Diterima / Acknowledged", f"<h1>Diterima / Acknowledged</h1><p>{html.escape(incident.title)}</p>",
                 status=202)
