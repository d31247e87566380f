"""Complaints for staff and agencies: the list, one complaint with its history, statistics, the agencies' respond,
feedback and close, phone complaints entered by operators, SMS and social-media webhooks, and the photos.

An agency's desk (a token with `agency`) sees and acts on its own agency's complaints only. The citizen's
identity is served only by /api/complaints/{id}/contact, to admins.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web

from command_center.api.app import checked_body, principal, runtime
from command_center.api.bodies import read_bytes
from command_center.api.errors import ApiError, bad_request, conflict, not_found, unprocessable
from command_center.api.paging import Cursor, cursor_param, next_link, requested_cursor, with_next
from command_center.api.routes import VISIBLE, Routes, Schema, coordinates, query_param, variants
from command_center.api.state import missing
from command_center.bus import Message
from command_center.config import Config
from command_center.config.base import per_config
from command_center.events import derive_id, encode, new_event
from ingest.complaints import whatsapp as wa
from ingest.complaints.accept import IDEMPOTENCY, IDEMPOTENCY_STATUSES, accept, idempotency_name
from ingest.complaints.channels import MAX_MESSAGE, sms_submission, social_submission
from ingest.complaints.intake import MAX_ADDRESS, MAX_DESCRIPTION, Invalid, Submission, check
from ingest.complaints.open311 import PHOTOS
from processors.complaints.config import ComplaintsSettings
from processors.complaints.events import COMPLAINTS, ComplaintAction, ComplaintContact, ComplaintRated
from processors.complaints.record import ComplaintRecord, contact_key, record_key
from processors.complaints.stats import complaint_stats
from processors.complaints.view import RECORDS, complaint_view, records_between
from processors.replies.keys import Awaiting, awaiting_key, rating_of

routes = Routes("complaints")
READERS = ("operator", "oncall", "agency")
MAX_NOTES = 4000
VIEW = {"type": "object", "required": ["id", "name", "status", "since"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "status": {"enum": ["open", "closed"]},
    "since": {"type": "string", "format": "date-time"}, "agency": {"type": "string"}, "area": {"type": "string"},
    "response_due": {"type": "string", "nullable": True}, "breached": {"type": "boolean"},
    "history": {"type": "array"}}}
ACTION_TYPES = {"respond": "id.go.cc.complaint.responded", "feedback": "id.go.cc.complaint.feedback",
                "close": "id.go.cc.complaint.closed", "reopen": "id.go.cc.complaint.reopened"}
NOTES_BODY = {"type": "object", "properties": {"status_notes": {"type": "string", "maxLength": MAX_NOTES}}}
NOTES_REQUIRED = {"type": "object", "required": ["status_notes"], "properties": {
    "status_notes": {"type": "string", "maxLength": MAX_NOTES, "pattern": VISIBLE,
                     "description": "what the citizen is told"}}}


MAX_STATS_DAYS = 367


@per_config
def phone_body(config: Config) -> Schema:
    common: dict[str, Schema] = {"service_code": {"enum": [s.code for s in ComplaintsSettings.of(config).services]},
              "description": {"type": "string", "minLength": 1, "maxLength": MAX_DESCRIPTION, "pattern": VISIBLE},
              "caller_name": {"type": "string", "maxLength": 100}, "caller_phone": {"type": "string", "maxLength": 50}}
    address = {"address": {"type": "string", "maxLength": MAX_ADDRESS, "pattern": VISIBLE}}
    return variants(common, ["service_code", "description"], [
        ({**coordinates(config), **address}, ["lat", "long"]), (address, ["address"])])


@per_config
def social_body(config: Config) -> Schema:
    common = {
        "platform": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": VISIBLE},
        "post_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": VISIBLE},
        "author": {"type": "string", "minLength": 1, "maxLength": 150, "pattern": VISIBLE},
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE, "pattern": VISIBLE},
        "url": {"type": "string", "maxLength": 2000, "pattern": "^https?://[^\\s]+$"},
        "place": {"type": "string", "maxLength": MAX_ADDRESS}}
    return variants(common, ["platform", "post_id", "author", "text"],
                    [(coordinates(config), ["lat", "long"]), ({}, [])])


def _invalid(err: Invalid) -> ApiError:
    message = "; ".join(f"{f}: {r}" if f else r for f, r in err.problems)
    return ApiError(err.status, {404: "not_found", 409: "conflict", 413: "too_large", 422: "unprocessable"}.get(err.status,
                                                                                              "bad_request"), message)


async def _record(request: web.Request) -> ComplaintRecord:
    complaint_id = request.match_info["complaint_id"]
    record = await runtime(request).store.get(record_key(complaint_id), ComplaintRecord)
    if record is None:
        raise await missing(runtime(request), RECORDS, f"complaint {complaint_id!r}")
    who = principal(request)
    if not who.sees(record.area, record.agency):
        raise ApiError(403, "forbidden", f"complaint {complaint_id} is outside your scope (its agency or district)")
    return record


@routes.get("/api/complaints", roles=READERS, summary="Complaints, newest first, with filters (no identities)",
            params=(query_param("status", "open or closed", {"enum": ["open", "closed"]}),
                    query_param("agency", "an agency id"), query_param("service_code", "a service code"),
                    query_param("breached", "true: past an SLA only", {"enum": ["true", "false"]}),
                    query_param("days", "received in the last N days (default 30)",
                                {"type": "integer", "minimum": 1, "maximum": 366}),
                    query_param("limit", "at most this many (default 200)",
                                {"type": "integer", "minimum": 1, "maximum": 1000}),
                    cursor_param()),
            response={"type": "object", "properties": {"complaints": {"type": "array", "items": VIEW},
                                                       "next": {"type": "string", "nullable": True}}})
async def list_complaints(request: web.Request) -> web.Response:
    rt, who = runtime(request), principal(request)
    q = request.query
    days, limit = int(q.get("days", "30")), int(q.get("limit", "200"))  # checked by the guard against the params
    agency = q.get("agency", "")

    def keep(r: ComplaintRecord) -> bool:
        return (not q.get("status") or r.status == q["status"]) and (not agency or r.agency == agency) and \
            (q.get("breached") != "true" or bool(r.breached)) and who.sees(r.area, r.agency)

    now, cursor = rt.clock.now(), requested_cursor(request)
    found, last = await records_between(rt.store, now - timedelta(days=days), now,
                                        service_codes=[q["service_code"]] if q.get("service_code") else None,
                                        keep=keep, limit=limit, before=(cursor.score, cursor.member) if cursor else None)
    link = next_link(request, Cursor(*last) if last else None)
    return with_next(web.json_response({"complaints": [complaint_view(r, rt.config) for r in found], "next": link}),
                     link)


def _day(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as err:
        raise bad_request(f"{name}: {raw!r} is not a date such as 2026-11-23") from err


@routes.get("/api/complaints/stats", roles=READERS,
            summary="Per agency and per category: received, open, within SLA (%), median response, by day or month",
            params=(query_param("from", "first day (default: 30 days before `to`, in the site's timezone)",
                                {"type": "string", "format": "date"}),
                    query_param("to", "last day (default: today)", {"type": "string", "format": "date"}),
                    query_param("by", "day (default) or month", {"enum": ["day", "month"]})),
            statuses={400: "a date is not a date"})
async def stats(request: web.Request) -> web.Response:
    """The window is at most 367 days ending at `to` (an earlier `from` is moved up to it, and the answer's
    `from` says so); a `from` after `to` is an empty window."""
    rt, who = runtime(request), principal(request)
    today = rt.clock.now().astimezone(ZoneInfo(rt.config.site.timezone)).date()
    end = _day(request.query["to"], "to") if request.query.get("to") else today
    start = _day(request.query["from"], "from") if request.query.get("from") else end - timedelta(days=29)
    by = request.query.get("by", "day")
    start = max(start, end - timedelta(days=MAX_STATS_DAYS - 1))
    if who.areas:
        raise ApiError(403, "forbidden", "these figures are region-wide; a district's are in "
                                         "/api/reports/complaints/districts")
    body = await complaint_stats(rt.store, rt.config, start, end, by)
    if who.agencies:
        body["agencies"] = [a for a in body["agencies"] if a["agency"] in who.agencies]
    return web.json_response(body)


@routes.get("/api/complaints/{complaint_id}", roles=READERS, summary="One complaint with every status change",
            response=VIEW)
async def get_complaint(request: web.Request) -> web.Response:
    return web.json_response(complaint_view(await _record(request), runtime(request).config, history=True))


@routes.get("/api/complaints/{complaint_id}/contact", roles=("admin",),
            summary="Who complained (admins only; never on the wall or in Open311)")
async def get_contact(request: web.Request) -> web.Response:
    record = await _record(request)
    contact = await runtime(request).store.get(contact_key(record.contact_ref), ComplaintContact) \
        if record.contact_ref else None
    if contact is None:
        raise not_found(f"a contact for complaint {record.id}")
    return web.json_response({"complaint": record.id, "channel": contact.channel, "name": contact.name,
                              "phone": contact.phone, "email": contact.email, "handle": contact.handle})


async def _act(request: web.Request, action: str) -> web.Response:
    record = await _record(request)
    body = await checked_body(request) if request.can_read_body else {}
    notes = body.get("status_notes", "")
    if not isinstance(notes, str):
        raise bad_request("status_notes must be a string")
    if len(notes) > MAX_NOTES:
        raise unprocessable(f"status_notes is {len(notes):,} characters; at most {MAX_NOTES:,}")
    if action != "respond" and not notes.strip():
        raise bad_request(f"status_notes: what the citizen is told is required to {action}")
    if action == "reopen":
        if record.status != "closed":
            raise conflict(f"complaint {record.id} is open")
        if record.rating is None or record.rating > 2:
            raise conflict(f"complaint {record.id} was not rated 1 or 2 by its citizen "
                           f"({'not rated' if record.rating is None else f'rated {record.rating}'})")
    elif record.status == "closed":
        raise conflict(f"complaint {record.id} is already closed")
    if action == "respond" and record.responded_at is not None:
        raise conflict(f"complaint {record.id} was already responded to")
    if action == "feedback" and record.feedback_at is not None:
        raise conflict(f"complaint {record.id} already has its feedback")
    rt, who = runtime(request), principal(request)
    event = new_event(ACTION_TYPES[action],
                      source="/api/complaints", subject=record.id, time=rt.clock.now(),
                      data=ComplaintAction(complaint_id=record.id, action=action, agency=record.agency,  # type: ignore[arg-type]
                                           actor=who.name, at=rt.clock.now(), status_notes=notes.strip()))
    await rt.bus.publish([Message(COMPLAINTS, event.key, encode(event))])
    return web.json_response({"accepted": event.id, "complaint": record.id, "action": action}, status=202)


ACT_STATUSES = {202: "accepted: the processor applies it (Open311 status and status_notes follow)",
                400: "status_notes missing", 403: "another agency's complaint", 404: "no such complaint",
                409: "already closed, responded or given feedback", 422: "status_notes over 4,000 characters"}


@routes.post("/api/complaints/{complaint_id}/respond", roles=READERS, body=NOTES_BODY, body_required=False, statuses=ACT_STATUSES,
             summary="The agency responded (stops the response clock)")
async def respond(request: web.Request) -> web.Response:
    return await _act(request, "respond")


@routes.post("/api/complaints/{complaint_id}/feedback", roles=READERS, body=NOTES_REQUIRED, statuses=ACT_STATUSES,
             summary="Feedback to the citizen (stops the feedback clock)")
async def feedback(request: web.Request) -> web.Response:
    return await _act(request, "feedback")


@routes.post("/api/complaints/{complaint_id}/close", roles=READERS, body=NOTES_REQUIRED, statuses=ACT_STATUSES,
             summary="Close the complaint (and its duplicates); status_notes go to the citizen")
async def close(request: web.Request) -> web.Response:
    return await _act(request, "close")


@routes.post("/api/complaints/{complaint_id}/reopen", roles=READERS, body=NOTES_REQUIRED,
             statuses={**ACT_STATUSES, 409: "open, or not rated 1 or 2 by its citizen"},
             summary="Reopen a closed complaint its citizen rated 1 or 2 (the feedback is owed again)")
async def reopen(request: web.Request) -> web.Response:
    return await _act(request, "reopen")


@routes.post("/api/complaints", roles=("operator",), summary="A complaint taken by phone, entered by an operator",
             body=phone_body,
             params=(IDEMPOTENCY,),
             statuses={201: "filed", 400: "a field is missing or wrong", 404: "unknown service_code",
                       **IDEMPOTENCY_STATUSES, 503: "not stored: retry with the same Idempotency-Key"})
async def phone_complaint(request: web.Request) -> web.Response:
    body = await checked_body(request)
    submission = Submission(channel="phone", service_code=str(body.get("service_code", "")),
                            description=str(body.get("description", "")), lat=body.get("lat"), long=body.get("long"),
                            address=str(body.get("address", "")), name=str(body.get("caller_name", "")),
                            phone=str(body.get("caller_phone", "")))
    return await _file(request, submission, status=201)


async def _file(request: web.Request, submission: Submission, status: int = 202) -> web.Response:
    """File a checked submission; a gateway's redelivery of one message (or a retry under one Idempotency-Key)
    answers as the first time did and files nothing more."""
    rt = runtime(request)
    try:
        name = idempotency_name(principal(request).name, request.headers.get("Idempotency-Key"))
        accepted = await accept(rt.bus, rt.store, check(rt.config, submission, rt.clock.now(), name=name),
                                key_name="Idempotency-Key" if name else "message_id")
    except Invalid as err:
        raise _invalid(err) from err
    code = accepted.token or accepted.complaint_id
    return web.json_response({"service_request_id": accepted.complaint_id, "token": accepted.token or None,
                              "reply": f"Terima kasih. Aduan Anda tercatat dengan kode {code}."}, status=status)


WEBHOOK_STATUSES = {202: "filed (or this message was filed before: the same answer); `reply` is the text to send "
                         "back", 400: "the body is not JSON or a form", 401: "bad or stale signature",
                    409: "this message id is still being filed: deliver it again later",
                    422: "a field is missing, unknown or of the wrong type (each is named), no service fits and "
                         "no default service is set, or this message id was already used for another text",
                    503: "not stored: deliver the message again"}


@routes.post("/webhooks/sms", roles=("ingest",), signed=True, statuses=WEBHOOK_STATUSES,
             body={"type": "object", "required": ["message_id", "from", "text"], "properties": {
                 "message_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": VISIBLE},
                 "from": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": VISIBLE},
                 "text": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE, "pattern": VISIBLE}}},
             summary="An SMS from the gateway (JSON or form; ingest token or HMAC signature)")
async def sms(request: web.Request) -> web.Response:
    body = await checked_body(request)
    rated = await _rating(request, "sms", str(body["from"]), str(body["text"]), f"sms:{body['message_id']}")
    return rated or await _webhook(request, sms_submission, body)


async def _rating(request: web.Request, channel: str, sender: str, text: str, message_id: str) -> web.Response | None:
    """A 1-5 reply from a number asked to rate a complaint: the rating, filed once per message; None for a text
    that is not a rating (it is a complaint). A bare 1-5 that no complaint awaits is refused, not filed."""
    rating = rating_of(text)
    if rating is None:
        return None
    rt = runtime(request)
    raw = await rt.store.get_bytes(awaiting_key(channel, sender))
    if raw is None:
        raise unprocessable("text: a rating (1-5), but no complaint from this number awaits one")
    awaiting = msgspec.json.decode(raw, type=Awaiting)
    now = rt.clock.now()
    event = new_event("id.go.cc.complaint.rated", id=derive_id("rated", message_id), source=f"/webhooks/{channel}",
                      subject=awaiting.complaint_id, time=now,
                      data=ComplaintRated(complaint_id=awaiting.complaint_id, rating=rating, channel=channel,  # type: ignore[arg-type]
                                          at=now))
    await rt.bus.publish([Message(COMPLAINTS, event.key, encode(event))])
    return web.json_response({"rated": awaiting.token, "rating": rating,
                              "reply": f"Terima kasih, penilaian {rating}/5 untuk aduan {awaiting.token} tercatat."},
                             status=202)


@routes.get("/webhooks/whatsapp", public=True, response_type="text/plain",
            params=(query_param("hub.mode", "subscribe", required=True),
                    query_param("hub.verify_token", "the configured verify token", required=True),
                    query_param("hub.challenge", "echoed back", required=True)),
            statuses={200: "the challenge", 403: "a wrong verify token"},
            summary="Meta's subscription check of the WhatsApp webhook")
async def whatsapp_subscribe(request: web.Request) -> web.Response:
    expected = ComplaintsSettings.of(runtime(request).config).complaints.whatsapp_verify_token
    q = request.query
    if not expected or q.get("hub.mode") != "subscribe" or \
            not hmac.compare_digest(q.get("hub.verify_token", ""), expected):
        raise ApiError(403, "forbidden", "hub.verify_token does not match (or WhatsApp is not configured)")
    return web.Response(text=q.get("hub.challenge", "")[:200], content_type="text/plain")


@routes.post("/webhooks/whatsapp", public=True, body_required=False,
             statuses={200: "taken: each message filed as a complaint or a rating, or acknowledged",
                       400: "not JSON", 401: "missing or wrong X-Hub-Signature-256",
                       422: "not a WhatsApp Business notification", 503: "not stored: Meta delivers it again"},
             summary="Messages from WhatsApp (Meta's Cloud API webhook, signed with the app secret)")
async def whatsapp(request: web.Request) -> web.Response:
    rt = runtime(request)
    raw = await read_bytes(request)
    reason = wa.verify(ComplaintsSettings.of(rt.config).complaints.whatsapp_app_secret, raw,
                       request.headers.get(wa.SIGNATURE, ""))
    if reason:
        raise ApiError(401, "bad_signature", reason)
    try:
        incoming = wa.messages(raw)
    except Invalid as err:
        raise _invalid(err) from err
    results: list[dict[str, Any]] = []
    for message in incoming:
        try:
            rated = await _rating(request, "whatsapp", message.sender, message.text, f"whatsapp:{message.message_id}") \
                if message.lat is None else None
            if rated is not None:
                results.append({"message_id": message.message_id, "rated": True})
                continue
            accepted = await accept(rt.bus, rt.store, check(rt.config, wa.submission(rt.config, message),
                                                             rt.clock.now()))
            results.append({"message_id": message.message_id, "service_request_id": accepted.complaint_id,
                            "token": accepted.token or None})
        except (Invalid, ApiError) as err:  # one message Meta should not send again: said, not retried
            results.append({"message_id": message.message_id, "refused": str(err)})
    return web.json_response({"messages": results})


@routes.post("/webhooks/social", roles=("ingest",), signed=True, statuses=WEBHOOK_STATUSES,
             body=social_body,
             summary="A social-media mention or message (ingest token or HMAC signature)")
async def social(request: web.Request) -> web.Response:
    return await _webhook(request, social_submission)


async def _webhook(request: web.Request, read: Callable[[Config, dict[str, Any]], Submission],
                   body: dict[str, Any] | None = None) -> web.Response:
    try:
        submission = read(runtime(request).config, body if body is not None else await checked_body(request))
    except Invalid as err:
        raise _invalid(err) from err
    return await _file(request, submission)


@routes.get("/media/{name}", public=True, response_type="image/jpeg",
            summary="A complaint's photo (an unguessable name, re-encoded without metadata)")
async def media(request: web.Request) -> web.FileResponse:
    path = request.app[PHOTOS].path(request.match_info["name"])
    if path is None:
        raise not_found("photo")
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=86400",
                                           "X-Content-Type-Options": "nosniff"})

