"""The complaint read model: the Open311 record, the staff view and the wall's view, and the queries behind them.

None of these carry the citizen's identity; only /api/complaints/{id}/contact (admin) reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from command_center.config import Config
from command_center.config.base import by_id
from command_center.events import Event
from command_center.store import StateOf, Store
from command_center.views import STAFF, ViewSpec
from processors.complaints.config import ComplaintsSettings, deadlines
from processors.complaints.events import (
    COMPLAINT_CONTACTS,
    COMPLAINTS,
    ComplaintContact,
    ComplaintReceived,
    ComplaintSurge,
)
from processors.complaints.record import (
    BY_TIME,
    ComplaintRecord,
    by_service_key,
    from_receipt,
    pending_key,
    record_key,
)

CHUNK = 500


def _local(when: datetime | None, config: Config) -> str | None:
    return when.astimezone(ZoneInfo(config.site.timezone)).isoformat(timespec="seconds") if when else None


def open311_record(record: ComplaintRecord, config: Config) -> dict[str, Any]:
    """A GeoReport v2 service request, field for field."""
    service = next((s for s in ComplaintsSettings.of(config).services if s.code == record.service_code), None)
    agency = by_id(config.agencies).get(record.agency)
    return {
        "service_request_id": record.id, "status": record.status, "status_notes": record.status_notes or None,
        "service_name": service.name if service else record.service_code, "service_code": record.service_code,
        "description": record.description or None,
        "agency_responsible": agency.name if agency else (record.agency or None),
        "service_notice": service.service_notice or None if service else None,
        "requested_datetime": _local(record.requested_at, config),
        "updated_datetime": _local(record.updated_at, config),
        "expected_datetime": _local(_expected(record, config), config),
        "address": record.address or None, "address_id": record.address_id or None, "zipcode": None,
        "lat": record.location.lat if record.location else None,
        "long": record.location.long if record.location else None,
        "media_url": record.media_urls[0] if record.media_urls else None,
    }


def _expected(record: ComplaintRecord, config: Config) -> datetime | None:
    """When the complaint is due to be answered: known from its service and its time as soon as it is accepted
    (before the processor has routed it); none for a duplicate, answered with the complaint it repeats."""
    if record.feedback_due is not None or record.duplicate_of or record.status != "open":
        return record.feedback_due
    return deadlines(record.service_code, record.requested_at, config)[1]


def complaint_view(record: ComplaintRecord, config: Config, *, history: bool = False) -> dict[str, Any]:
    """What staff and the wall see of a complaint (never who sent it)."""
    service = next((s for s in ComplaintsSettings.of(config).services if s.code == record.service_code), None)
    view: dict[str, Any] = {
        "id": record.id, "name": service.name if service else record.service_code, "status": record.status,
        "since": _local(record.requested_at, config), "channel": record.channel, "service_code": record.service_code,
        "agency": record.agency, "area": record.area,
        "location": {"lat": record.location.lat, "long": record.location.long} if record.location else None,
        "address": record.address, "description": record.description, "status_notes": record.status_notes,
        "response_due": _local(record.response_due, config), "feedback_due": _local(record.feedback_due, config),
        "responded_at": _local(record.responded_at, config), "feedback_at": _local(record.feedback_at, config),
        "closed_at": _local(record.closed_at, config), "breached": bool(record.breached),
        "breaches": record.breached, "duplicate_of": record.duplicate_of, "duplicates": record.duplicates,
        "media_urls": record.media_urls, "updated_at": _local(record.updated_at, config),
        "token": record.token, "rating": record.rating, "rated_at": _local(record.rated_at, config),
        "upstream": record.upstream or None, "upstream_id": record.upstream_id or None,
    }
    if history:
        view["history"] = [{"at": _local(h.at, config), "action": h.action, "actor": h.actor, "notes": h.notes}
                           for h in record.history]
    return view


Place = tuple[float, str]  # (received time as a timestamp, complaint id): the order lists page by


async def records_between(store: Store, start: datetime, end: datetime, *, service_codes: list[str] | None = None,
                          keep: Callable[[ComplaintRecord], bool] = lambda r: True, skip: int = 0,
                          limit: int = 1000, before: Place | None = None) -> tuple[list[ComplaintRecord], Place | None]:
    """Records received from `start` to `end` that `keep` accepts, newest first by (received, id), strictly
    after `before` in that order: `limit` after `skip`, and the place of the last one when the page is full."""
    indexes = [by_service_key(c) for c in service_codes] if service_codes else [BY_TIME]
    high = min(end.timestamp(), before[0]) if before else end.timestamp()
    wanted = skip + limit
    reach = max(wanted, CHUNK)  # how far down each index to read; widened when `keep` turns too many away
    while True:
        members: list[tuple[str, float]] = []
        exhausted = True
        for index in indexes:
            got = await store.range_with_scores(index, start.timestamp(), high, limit=reach, newest_first=True)
            exhausted &= len(got) < reach
            members.extend((m, s) for m, s in got if before is None or (s, m) < before)
        members.sort(key=lambda ms: (ms[1], ms[0]), reverse=True)
        found: list[tuple[ComplaintRecord, Place]] = []
        for i in range(0, len(members), CHUNK):
            chunk = members[i:i + CHUNK]
            records = await store.get_many([record_key(m) for m, _ in chunk], ComplaintRecord)
            found.extend((r, (s, m)) for r, (m, s) in zip(records, chunk, strict=True) if r is not None and keep(r))
            if len(found) >= wanted:
                break
        if len(found) >= wanted or exhausted:
            break
        reach *= 4
    page = found[skip:wanted]
    return [r for r, _ in page], (page[-1][1] if len(page) == limit else None)


# whose state holds the records, and what it derives them from (a read of one it lost answers 503, not 404)
RECORDS = StateOf("complaints", (COMPLAINTS, COMPLAINT_CONTACTS))


async def find_record(store: Store, complaint_id: str) -> ComplaintRecord | None:
    """The complaint, or, before the processor has routed it, what intake published of it."""
    record, pending = await store.many_bytes([record_key(complaint_id), pending_key(complaint_id)])
    if record is not None:
        return msgspec.json.decode(record, type=ComplaintRecord)
    return from_receipt(msgspec.json.decode(pending, type=ComplaintReceived)) if pending is not None else None


async def open_complaints(store: Store, config: Config, *, limit: int = 500) -> list[dict[str, Any]]:
    """The wall's snapshot: open complaints, newest first, then a few just closed."""
    recent = await store.range_by_score(BY_TIME, 0, float("inf"), limit=5000, newest_first=True)
    records = [r for r in await store.get_many([record_key(m) for m in recent], ComplaintRecord) if r is not None]
    open_ones = [r for r in records if r.status == "open"][:limit]
    closed = [r for r in records if r.status == "closed"][:30]
    return [complaint_view(r, config) for r in open_ones + closed]


def _complaints_of(event: Event) -> tuple[str, ...]:
    return () if isinstance(event.data, ComplaintContact | ComplaintSurge) else (event.subject,)


async def render(store: Store, config: Config, complaint_id: str) -> dict[str, Any] | None:
    record = await store.get(record_key(complaint_id), ComplaintRecord)
    return None if record is None else complaint_view(record, config)


async def render_many(store: Store, config: Config, complaint_ids: list[str]) -> list[dict[str, Any] | None]:
    """The views of a batch's complaints in one round trip."""
    records = await store.get_many([record_key(c) for c in complaint_ids], ComplaintRecord)
    return [None if r is None else complaint_view(r, config) for r in records]


COMPLAINTS_VIEW = ViewSpec(channel="complaints", roles=STAFF | {"agency"}, entities=_complaints_of, render=render,
                           render_many=render_many, active=lambda view: view.get("status") == "open")
