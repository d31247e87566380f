"""/api/incidents: the incident list with filters, one incident, and operators' ack, resolve and comment."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from command_center.api.app import checked_body, principal, runtime
from command_center.api.errors import bad_request, conflict, not_found
from command_center.api.routes import VISIBLE, Routes, query_param
from command_center.api.state import missing
from command_center.bus import Message
from command_center.events import encode, new_event
from processors.incidents.events import INCIDENT_COMMANDS, IncidentCommand, IncidentState
from processors.incidents.keys import STATE
from processors.incidents.processor import incident_key
from processors.incidents.view import incident_view, matches, recent_incidents

routes = Routes("incidents")
READERS = ("operator", "oncall")
MAX_TEXT = 4000
STATUS = ["open", "acknowledged", "cleared", "resolved"]
INCIDENT_ITEM = {"type": "object", "required": ["id", "name", "status", "severity", "since"],
                 "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "status": {"enum": STATUS},
                                "severity": {"enum": ["critical", "major", "minor", "info"]},
                                "since": {"type": "string", "format": "date-time"}, "area": {"type": "string"},
                                "location": {"type": "object", "nullable": True}, "timeline": {"type": "array"},
                                "parent_id": {"type": "string"}, "children": {"type": "array"}}}
ACTION_BODY = {"type": "object", "properties": {"text": {"type": "string", "maxLength": MAX_TEXT}}}
COMMENT_BODY = {"type": "object", "required": ["text"],
                "properties": {"text": {"type": "string", "maxLength": MAX_TEXT, "pattern": VISIBLE}}}


SEVERITIES = ["critical", "major", "minor", "info"]
SOURCES = ["cctv", "health", "complaints", "sensors", "correlation"]


def _list(values: list[str]) -> dict[str, object]:
    return {"type": "array", "items": {"enum": values}, "style": "form", "explode": False}


def _set(request: web.Request, name: str) -> set[str]:
    return {v for v in request.query.get(name, "").split(",") if v}


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError as err:
        raise bad_request(f"{name}: not an RFC 3339 time: {raw!r}") from err
    if when.tzinfo is None:
        raise bad_request(f"{name}: the time needs a timezone")
    return when


@routes.get("/api/incidents", roles=READERS, summary="Incidents, newest first, with filters",
            params=(query_param("status", "comma-separated", _list(STATUS)),
                    query_param("severity", "comma-separated", _list(SEVERITIES)),
                    query_param("area", "comma-separated areas"),
                    query_param("source", "comma-separated", _list(SOURCES)),
                    query_param("since", "updated at or after (RFC 3339)", {"type": "string", "format": "date-time"}),
                    query_param("until", "opened at or before (RFC 3339)", {"type": "string", "format": "date-time"}),
                    query_param("limit", "at most this many (default 200)",
                                {"type": "integer", "minimum": 1, "maximum": 1000})),
            response={"type": "object", "properties": {"incidents": {"type": "array", "items": INCIDENT_ITEM}}})
async def list_incidents(request: web.Request) -> web.Response:
    rt, who = runtime(request), principal(request)
    limit = int(request.query.get("limit", "200"))  # the guard checked the query against the declaration
    statuses = _set(request, "status")
    found = [i for i in await recent_incidents(rt.store, limit=5000)
             if who.sees(i.area) and matches(i, statuses=statuses, severities=_set(request, "severity"), areas=_set(request, "area"),
                        sources=_set(request, "source"), since=_time(request, "since"), until=_time(request, "until"))]
    return web.json_response({"incidents": [incident_view(i, rt.config) for i in found[:limit]]})


async def _incident(request: web.Request) -> IncidentState:
    incident_id = request.match_info["incident_id"]
    incident = await runtime(request).store.get(incident_key(incident_id), IncidentState)
    if incident is None:
        raise await missing(runtime(request), STATE, f"incident {incident_id!r}")
    if not principal(request).sees(incident.area):
        raise not_found(f"incident {incident_id!r}")  # one outside the scope is not said to exist
    return incident


@routes.get("/api/incidents/{incident_id}", roles=READERS, summary="One incident with its whole timeline",
            response=INCIDENT_ITEM)
async def get_incident(request: web.Request) -> web.Response:
    return web.json_response(incident_view(await _incident(request), runtime(request).config, timeline=None))


async def _text(request: web.Request, required: bool) -> str:
    if not request.can_read_body:
        if required:
            raise bad_request("a JSON body with text is required")
        return ""
    text = str((await checked_body(request)).get("text", ""))
    if required and not text.strip():
        raise bad_request("text must not be empty")
    return text


async def _command(request: web.Request, action: str) -> web.Response:
    incident = await _incident(request)
    text = await _text(request, required=action == "comment")
    if action != "comment" and incident.status == "resolved":
        raise conflict(f"incident {incident.id} is already resolved")
    if action == "ack" and incident.acknowledged:
        raise conflict(f"incident {incident.id} is already acknowledged by {incident.acknowledged_by}")
    rt, who = runtime(request), principal(request)
    command = IncidentCommand(incident_id=incident.id, action=action, actor=who.name, role=who.role, text=text)  # type: ignore[arg-type]
    event = new_event("id.go.cc.incident.command", source="/api", subject=incident.id, time=rt.clock.now(),
                      data=command)
    await rt.bus.publish([Message(INCIDENT_COMMANDS, event.key, encode(event))])
    return web.json_response({"accepted": event.id, "incident": incident.id, "action": action}, status=202)


STATUSES = {202: "accepted: the incident changes as the processor applies it", 404: "no such incident",
            409: "already resolved, or already acknowledged", 422: "text longer than 4,000 characters"}


@routes.post("/api/incidents/{incident_id}/ack", roles=READERS, summary="Acknowledge: stops the escalation",
             body=ACTION_BODY, body_required=False, statuses=STATUSES)
async def ack(request: web.Request) -> web.Response:
    return await _command(request, "ack")


@routes.post("/api/incidents/{incident_id}/resolve", roles=READERS, summary="Resolve by hand", body=ACTION_BODY,
             body_required=False,
             statuses=STATUSES)
async def resolve(request: web.Request) -> web.Response:
    return await _command(request, "resolve")


@routes.post("/api/incidents/{incident_id}/comment", roles=READERS, summary="Add a comment to the timeline",
             body=COMMENT_BODY, statuses=STATUSES)
async def comment(request: web.Request) -> web.Response:
    return await _command(request, "comment")
