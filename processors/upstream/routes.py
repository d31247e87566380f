"""An upstream's answers: each step of a forwarded complaint, POSTed back signed, into the complaint's history."""

from __future__ import annotations

from aiohttp import web

from command_center.api.app import checked_body, runtime
from command_center.api.bodies import read_bytes
from command_center.api.errors import ApiError, not_found
from command_center.api.routes import Routes
from command_center.bus import Message
from command_center.config.base import by_id
from command_center.events import derive_id, encode, new_event
from command_center.signing import SIGNATURE, TIMESTAMP, verify
from processors.complaints.events import COMPLAINTS, ComplaintAction
from processors.upstream.config import UpstreamSettings
from processors.upstream.processor import Local, local_key

routes = Routes("upstream")
ACTIONS = {"responded": "respond", "feedback": "feedback", "closed": "close"}
TYPES = {"respond": "id.go.cc.complaint.responded", "feedback": "id.go.cc.complaint.feedback",
         "close": "id.go.cc.complaint.closed"}
BODY = {"type": "object", "required": ["event_id", "step", "service_request_id"], "properties": {
    "event_id": {"type": "string", "minLength": 1, "maxLength": 200},
    "step": {"type": "string", "minLength": 1, "maxLength": 40},
    "service_request_id": {"type": "string", "minLength": 1, "maxLength": 200},
    "token": {"type": "string", "maxLength": 200, "nullable": True},
    "status": {"type": "string", "maxLength": 40, "nullable": True},
    "status_notes": {"type": "string", "maxLength": 4000, "nullable": True},
    "agency_responsible": {"type": "string", "maxLength": 200, "nullable": True},
    "updated_datetime": {"type": "string", "maxLength": 40, "nullable": True},
    "rating": {"type": "integer", "minimum": 1, "maximum": 5, "nullable": True}}}


@routes.post("/webhooks/upstream/{upstream_id}", public=True, body=BODY,
             statuses={202: "applied to the complaint", 200: "a step that changes nothing here (received)",
                       401: "missing or wrong signature", 404: "unknown upstream or service request",
                       422: "a field is missing or wrong"},
             summary="An upstream system's answer on a complaint forwarded to it (signed with its secret)")
async def upstream_status(request: web.Request) -> web.Response:
    rt = runtime(request)
    upstream = by_id(UpstreamSettings.of(rt.config).upstreams).get(request.match_info["upstream_id"])
    if upstream is None:
        raise not_found(f"upstream {request.match_info['upstream_id']!r}")
    reason = verify(upstream.secret, await read_bytes(request), request.headers.get(SIGNATURE, ""),
                    request.headers.get(TIMESTAMP, ""))
    if reason:
        raise ApiError(401, "bad_signature", reason)
    body = await checked_body(request)  # the schema above, each wrong field named (422)
    notes, agency = body.get("status_notes") or "", body.get("agency_responsible") or ""
    local = await rt.store.get(local_key(upstream.id, body["service_request_id"]), Local)
    if local is None:
        raise not_found(f"service request {body['service_request_id']!r} of upstream {upstream.id}")
    action = ACTIONS.get(body["step"])
    if action is None:
        return web.json_response({"ignored": body["step"], "complaint": local.complaint_id})
    now = rt.clock.now()
    who = upstream.name or upstream.id
    event = new_event(TYPES[action], id=derive_id("upstream", upstream.id, body["event_id"]),
                      source=f"/webhooks/upstream/{upstream.id}", subject=local.complaint_id, time=now,
                      data=ComplaintAction(complaint_id=local.complaint_id, action=action, agency="",  # type: ignore[arg-type]
                                           actor=f"{who}: {agency}" if agency else who, at=now,
                                           status_notes=notes.strip()))
    await rt.bus.publish([Message(COMPLAINTS, event.key, encode(event))])
    return web.json_response({"accepted": event.id, "complaint": local.complaint_id, "action": action}, status=202)
