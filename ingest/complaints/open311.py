"""Open311 GeoReport v2 under /open311/v2/: services, service definitions, filing, listing and fetching requests,
tokens, and the discovery document; `.json` and `.xml` alike, errors in the spec's list form.

Every call needs an Open311 client's api_key (query, or form field for POST) or a staff bearer token, unless
`complaints.public_reads` lets anyone read; the police role may not. `page` and `page_size` extend GET
requests; `media` (multipart, one or more) extends POST requests with photos.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from command_center.api.app import RUNTIME, principal, runtime
from command_center.api.bodies import read_form
from command_center.api.errors import ApiError, bad_request
from command_center.api.paging import Cursor, cursor_param, next_link, requested_cursor, with_next
from command_center.api.routes import VISIBLE, Routes, Schema, coordinates, query_param, variants
from command_center.api.state import missing
from command_center.api.validate import problems
from command_center.config import Config
from command_center.config.base import per_config
from ingest.complaints.accept import IDEMPOTENCY, IDEMPOTENCY_STATUSES, accept, idempotency_name
from ingest.complaints.intake import MAX_ADDRESS, MAX_DESCRIPTION, Invalid, Submission, check
from ingest.complaints.open311_format import open311_errors, respond
from ingest.complaints.photos import PhotoStore
from processors.complaints.config import ComplaintsSettings, ServiceAttribute
from processors.complaints.events import tracking_url
from processors.complaints.record import ComplaintRecord, TokenRef, record_key, token_key
from processors.complaints.view import RECORDS, find_record, open311_record, records_between

routes = Routes("open311", error_style=lambda request, status, code, message:
                 open311_errors(request, status, [message]), invalid_status=400)
PREFIX = "/open311/v2"
FORMAT = "{format:(json|xml)}"
READERS = ("operator", "oncall", "agency", "ingest")
FILERS = ("operator", "ingest")
PHOTOS = web.AppKey("photos", PhotoStore)
MAX_SPAN = timedelta(days=90)
MAX_PAGE = 1000
RECORD = {"type": "object", "properties": {k: {"type": "string", "nullable": True} for k in (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "media_url")} | {"lat": {"type": "number", "nullable": True},
                                                          "long": {"type": "number", "nullable": True}}}
ERRORS = {400: "a field is missing or wrong (the body lists each)", 403: "missing or invalid api_key",
          404: "unknown service_code, service request, token or jurisdiction_id"}
JURISDICTION = query_param("jurisdiction_id", "optional: this endpoint serves one jurisdiction")


@routes.on_build
def _photos(app: web.Application) -> None:
    config = app[RUNTIME].config
    app[PHOTOS] = PhotoStore(ComplaintsSettings.of(config).complaints.media_dir, public_url=config.site.public_url,
                             max_bytes=ComplaintsSettings.of(config).complaints.max_photo_bytes, max_side=ComplaintsSettings.of(config).complaints.max_photo_side)


def _jurisdiction(request: web.Request, given: str | None = None) -> None:
    served = ComplaintsSettings.of(runtime(request).config).complaints.jurisdiction_id
    asked = given if given is not None else request.query.get("jurisdiction_id", "")
    if served and asked and asked != served:
        raise ApiError(404, "not_found", f"jurisdiction_id {asked!r} is not served here (this is {served!r})")


DISCOVERY = {"type": "object", "required": ["changeset", "contact", "key_service", "endpoints"], "properties": {
    "changeset": {"type": "string"}, "contact": {"type": "string"}, "key_service": {"type": "string"},
    "endpoints": {"type": "array", "items": {"type": "object", "properties": {
        "specification": {"type": "string"}, "url": {"type": "string"}, "changeset": {"type": "string"},
        "type": {"enum": ["production", "test"]}, "formats": {"type": "array", "items": {"type": "string"}}}}}}}


@routes.get(f"{PREFIX}/discovery.{FORMAT}", public=True, response=DISCOVERY,
            summary="Open311 service discovery (GeoReport v2): where the endpoint is and what it speaks")
async def discovery(request: web.Request) -> web.Response:
    config = runtime(request).config
    return respond(request, {
        "changeset": "2026-12-01T00:00:00Z", "contact": config.site.name, "key_service": config.site.public_url,
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2",
                       "url": f"{config.site.public_url.rstrip('/')}{PREFIX}", "changeset": "2026-12-01T00:00:00Z",
                       "type": "production", "formats": ["application/json", "text/xml"]}]}, root="discovery")


@routes.get(f"{PREFIX}/services.{FORMAT}", roles=READERS, api_key=True, params=(JURISDICTION,),
            summary="Open311: the complaint categories", statuses=ERRORS)
async def services(request: web.Request) -> web.Response:
    _jurisdiction(request)
    return respond(request, [{
        "service_code": s.code, "service_name": s.name, "description": s.description,
        "metadata": bool(s.attributes), "type": "realtime", "keywords": ", ".join(s.keywords), "group": s.group,
    } for s in ComplaintsSettings.of(runtime(request).config).services], root="services", item="service")


@routes.get(f"{PREFIX}/services/{{service_code}}.{FORMAT}", roles=READERS, api_key=True, params=(JURISDICTION,),
            summary="Open311: a category's attributes (service definition)", statuses=ERRORS)
async def service_definition(request: web.Request) -> web.Response:
    _jurisdiction(request)
    code = request.match_info["service_code"]
    service = next((s for s in ComplaintsSettings.of(runtime(request).config).services if s.code == code), None)
    if service is None:
        raise ApiError(404, "not_found", f"service_code {code!r} not found")
    return respond(request, {"service_code": service.code, "attributes": [{
        "variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
        "datatype_description": a.datatype_description or None, "order": a.order, "description": a.description,
        "values": [{"key": v.key, "name": v.name} for v in a.values],
    } for a in sorted(service.attributes, key=lambda a: a.order)]}, root="service_definition")


def _attributes(form: Any) -> dict[str, list[str]]:
    """attribute[code]=v and attribute[code][]=v1&attribute[code][]=v2, as the spec writes them."""
    out: dict[str, list[str]] = {}
    for key in set(form.keys()):
        if key.startswith("attribute[") and key.endswith("]"):
            code = key[len("attribute["):].removesuffix("[]").rstrip("]")
            out.setdefault(code, []).extend(str(v) for v in form.getall(key))
    return out


def _read_upload(item: web.FileField) -> tuple[bytes, str]:
    """An uploaded photo's bytes and their SHA-256 (for the fingerprint)."""
    data = item.file.read()
    return data, hashlib.sha256(data).hexdigest()


def _discard(photos: PhotoStore, saved: list[str]) -> None:
    for url in saved:
        photos.discard(url)


FORM_SLACK = 256 * 1024  # a photo route's limit: one photo at the photo limit, and the form's other fields
FILED = {"type": "object", "required": ["service_request_id"], "properties": {
    "service_request_id": {"type": "string"},
    "token": {"type": "string", "nullable": True,
              "description": "the citizen's tracking number (null when it could not be given at once)"},
    "service_notice": {"type": "string", "nullable": True}, "account_id": {"type": "string", "nullable": True},
    "tracking_url": {"type": "string", "nullable": True,
                     "description": "extension: the citizen's tracking page of the token (/lapor/<token>)"}}}


def _attribute_schema(attribute: ServiceAttribute) -> Schema:
    if attribute.datatype in ("singlevaluelist", "multivaluelist"):
        keys = "|".join(re.escape(v.key) for v in attribute.values) or "(?!)"
        return {"type": "string", "pattern": f"^({keys})$" if attribute.datatype == "singlevaluelist"
                else f"^({keys})(,({keys}))*$"}
    if attribute.datatype == "number":
        return {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
    return {"type": "string", "maxLength": 500, "pattern": VISIBLE}


@per_config
def filing_body(config: Config) -> Schema:
    """A POST requests form as this site takes it: one of its services with that service's attributes
    (`attribute[code]`), a place inside the site (coordinates, or an address or address id), and a description
    (a photo in multipart `media` may stand in for it)."""
    common = {k: {"type": "string", "maxLength": n} for k, n in (
        ("api_key", 200), ("jurisdiction_id", 100), ("email", 200), ("device_id", 200), ("account_id", 200),
        ("first_name", 100), ("last_name", 100), ("phone", 50))} | {
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "pattern": VISIBLE},
        "media_url": {"type": "string", "maxLength": 2000, "pattern": "^https?://[^\\s]+$"},
        "media": {"type": "string", "format": "binary", "description": "a photo (multipart)"},
        "address_string": {"type": "string", "maxLength": MAX_ADDRESS, "pattern": VISIBLE},
        "address_id": {"type": "string", "maxLength": 100, "pattern": VISIBLE}}
    places = [(coordinates(config), ["lat", "long"]), ({}, ["address_string"]), ({}, ["address_id"])]
    shapes = []
    for service in ComplaintsSettings.of(config).services:
        own = {f"attribute[{a.code}]": _attribute_schema(a) for a in service.attributes}
        needed = [f"attribute[{a.code}]" for a in service.attributes if a.required]
        for extra, where in places:
            shapes.append(({"service_code": {"enum": [service.code]}, **own, **extra}, [*where, *needed]))
    return variants(common, ["service_code", "description"], shapes)


def _filing_problems(config: Config, form: dict[str, str]) -> list[str]:
    """What the schema says of a form; a photo stands in for the description, as the schema's note says. An
    unknown service_code is GeoReport's 404, before anything else is said of the form."""
    code = form.get("service_code", "")
    if code and not any(s.code == code for s in ComplaintsSettings.of(config).services):
        raise ApiError(404, "not_found", f"service_code {code!r} not found")
    fields = dict(form)
    if "media" in fields and not fields.get("description"):
        fields["description"] = "(a photo)"
    return problems(filing_body(config), fields, form=True)


@routes.post(f"{PREFIX}/requests.{FORMAT}", roles=FILERS, api_key=True, body_type="application/x-www-form-urlencoded",
             body=filing_body,
             params=(IDEMPOTENCY,), summary="Open311: file a complaint (form fields; multipart `media` for photos)",
             max_body=lambda config: ComplaintsSettings.of(config).complaints.max_photo_bytes + FORM_SLACK,
             response={"type": "array", "items": FILED},
             statuses={**ERRORS, 413: "the body or a photo is too large", **IDEMPOTENCY_STATUSES,
                       503: "the complaint could not be stored: retry with the same Idempotency-Key"})
async def file_request(request: web.Request) -> web.Response:
    form = await read_form(request)
    fields = {k: ("(a photo)" if isinstance(v, web.FileField) else str(v)) for k, v in form.items()}
    wrong = _filing_problems(runtime(request).config, fields)
    if wrong:
        return open311_errors(request, 400, wrong)
    _jurisdiction(request, str(form.get("jurisdiction_id", "")))
    rt, photos = runtime(request), request.app[PHOTOS]
    saved: list[str] = []
    try:
        name = idempotency_name(principal(request).name, request.headers.get("Idempotency-Key"))
        uploads = [await asyncio.to_thread(_read_upload, item)  # spooled to a file by aiohttp: off the loop
                   for item in form.getall("media", []) if isinstance(item, web.FileField)]
        for upload, _ in uploads:
            saved.append(await photos.save(upload))
        media_url = str(form.get("media_url", "")).strip()
        submission = Submission(
            channel="open311", service_code=str(form.get("service_code", "")),
            description=str(form.get("description", "")), lat=form.get("lat"), long=form.get("long"),  # type: ignore[arg-type]
            address=str(form.get("address_string", "")), address_id=str(form.get("address_id", "")),
            attributes=_attributes(form), media_urls=[media_url] if media_url else [], photo_urls=saved,
            photo_digests=[digest for _, digest in uploads],
            name=" ".join(str(form.get(k, "")).strip() for k in ("first_name", "last_name")).strip(),
            phone=str(form.get("phone", "")), email=str(form.get("email", "")),
            device_id=str(form.get("device_id", "")), account_id=str(form.get("account_id", "")),
            client=principal(request).name.removeprefix("open311:") if principal(request).name.startswith("open311:") else "")
        accepted = await accept(rt.bus, rt.store, check(rt.config, submission, rt.clock.now(), name=name))
    except Invalid as err:
        _discard(photos, saved)
        return open311_errors(request, err.status, [f"{f}: {r}" if f else r for f, r in err.problems])
    except BaseException:  # not stored (the broker did not answer, the client went away): keep no photo
        _discard(photos, saved)
        raise
    service = next(s for s in ComplaintsSettings.of(rt.config).services if s.code == submission.service_code)
    return respond(request, [{"service_request_id": accepted.complaint_id, "token": accepted.token or None,
                              "service_notice": service.service_notice or None, "account_id": None,
                              "tracking_url": tracking_url(rt.config, accepted.token) if accepted.token else None}],
                   root="service_requests", item="request")


def _when(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise bad_request(f"{name}: {raw!r} is not a w3c date-time such as 2026-01-01T00:00:00Z") from err
    if when.tzinfo is None:
        raise bad_request(f"{name}: the date-time needs a timezone (Z or +07:00)")
    return when


def _whole(request: web.Request, name: str, default: int, most: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise bad_request(f"{name}: a whole number from 1 to {most}")
    return int(raw)


@routes.get(f"{PREFIX}/requests.{FORMAT}", roles=READERS, api_key=True,
            params=(JURISDICTION, query_param("service_request_id", "comma-separated; overrides the other filters"),
                    query_param("service_code", "comma-separated"),
                    query_param("status", "open, closed, or both", {"type": "array", "items": {"enum": ["open", "closed"]}}),
                    query_param("start_date", "w3c date-time; a range of more than 90 days is cut to the 90 days "
                                              "before end_date, and one that ends before it starts is empty",
                                {"type": "string", "format": "date-time"}),
                    query_param("end_date", "w3c date-time; default: now", {"type": "string", "format": "date-time"}),
                    query_param("page", "extension: 1-based page (shifts as complaints arrive: use cursor)",
                                {"type": "integer", "minimum": 1, "maximum": 100_000}),
                    query_param("page_size", "extension: up to 1000 (default 1000)",
                                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
                    cursor_param()),
            response={"type": "array", "items": RECORD}, summary="Open311: complaints, newest first, with filters",
            statuses=ERRORS)
async def list_requests(request: web.Request) -> web.Response:
    _jurisdiction(request)
    rt, who = runtime(request), principal(request)
    ids = [i for i in request.query.get("service_request_id", "").split(",") if i.strip()]
    if ids:
        found = await rt.store.get_many([record_key(i.strip()) for i in ids[:MAX_PAGE]], ComplaintRecord)
        records = [r for r in found if r is not None and who.sees(r.area, r.agency)]
        return respond(request, [open311_record(r, rt.config) for r in records], root="service_requests",
                       item="request")
    statuses = {s for s in request.query.get("status", "").split(",") if s}
    if statuses - {"open", "closed"}:
        raise bad_request("status: open, closed, or both (comma-separated)")
    codes = [c for c in request.query.get("service_code", "").split(",") if c]
    start, end = _when(request, "start_date"), _when(request, "end_date")
    end = end or (start + MAX_SPAN if start else rt.clock.now())
    start = max(start or end - MAX_SPAN, end - MAX_SPAN)  # the spec's 90 days at most: the 90 before end_date
    page, size = _whole(request, "page", 1, 100_000), _whole(request, "page_size", MAX_PAGE, MAX_PAGE)
    cursor = requested_cursor(request)
    records, last = await records_between(
        rt.store, start, end, service_codes=codes or None, skip=0 if cursor else (page - 1) * size, limit=size,
        keep=lambda r: (not statuses or r.status in statuses) and who.sees(r.area, r.agency), before=(cursor.score, cursor.member) if cursor else None)
    return with_next(respond(request, [open311_record(r, rt.config) for r in records], root="service_requests",
                             item="request"), next_link(request, Cursor(*last) if last else None))


@routes.get(f"{PREFIX}/requests/{{service_request_id}}.{FORMAT}", roles=READERS, api_key=True, params=(JURISDICTION,),
            response={"type": "array", "items": RECORD}, summary="Open311: one complaint", statuses=ERRORS)
async def get_request(request: web.Request) -> web.Response:
    _jurisdiction(request)
    rt = runtime(request)
    record = await find_record(rt.store, request.match_info["service_request_id"])
    if record is None:
        raise await missing(rt, RECORDS, f"service_request_id {request.match_info['service_request_id']!r}")
    if not principal(request).sees(record.area, record.agency):
        raise ApiError(404, "not_found", f"service_request_id {request.match_info['service_request_id']!r} not found")
    return respond(request, [open311_record(record, rt.config)], root="service_requests", item="request")


@routes.get(f"{PREFIX}/tokens/{{token}}.{FORMAT}", roles=READERS, api_key=True, params=(JURISDICTION,),
            summary="Open311: the service_request_id of a token", statuses=ERRORS)
async def from_token(request: web.Request) -> web.Response:
    _jurisdiction(request)
    token = request.match_info["token"]
    ref = await runtime(request).store.get(token_key(token.upper()), TokenRef)
    if ref is None:
        raise await missing(runtime(request), RECORDS, f"token {token!r}")
    return respond(request, [{"service_request_id": ref.complaint_id, "token": token.upper()}],
                   root="service_requests", item="request")
