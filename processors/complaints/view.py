"""The complaint read model: the Open311 record, the staff view and the wall's view, and the queries behind them.

None of these carry the citizen's identity; only /api/complaints/{id}/contact (admin) reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from command_center.config import Config
from command_center.config.base import by_id
from command_center.store import Store
from processors.complaints.record import BY_TIME, ComplaintRecord, by_service_key, record_key

CHUNK = 500


def _local(when: datetime | None, config: Config) -> str | None:
    return when.astimezone(ZoneInfo(config.site.timezone)).isoformat(timespec="seconds") if when else None


def open311_record(record: ComplaintRecord, config: Config) -> dict[str, Any]:
    """A GeoReport v2 service request, field for field."""
    service = next((s for s in config.services if s.code == record.service_code), None)
    agency = by_id(config.agencies).get(record.agency)
    return {
        "service_request_id": record.id, "status": record.status, "status_notes": record.status_notes or None,
        "service_name": service.name if service else record.service_code, "service_code": record.service_code,
        "description": record.description or None,
        "agency_responsible": agency.name if agency else (record.agency or None),
        "service_notice": service.service_notice or None if service else None,
        "requested_datetime": _local(record.requested_at, config),
        "updated_datetime": _local(record.updated_at, config),
        "expected_datetime": _local(record.feedback_due, config),
        "address": record.address or None, "address_id": record.address_id or None, "zipcode": None,
        "lat": record.location.lat if record.location else None,
        "long": record.location.long if record.location else None,
        "media_url": record.media_urls[0] if record.media_urls else None,
    }


def complaint_view(record: ComplaintRecord, config: Config, *, history: bool = False) -> dict[str, Any]:
    """What staff and the wall see of a complaint (never who sent it)."""
    service = next((s for s in config.services if s.code == record.service_code), None)
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
    }
    if history:
        view["history"] = [{"at": _local(h.at, config), "action": h.action, "actor": h.actor, "notes": h.notes}
                           for h in record.history]
    return view


async def records_between(store: Store, start: datetime, end: datetime, *, service_codes: list[str] | None = None,
                          keep: Callable[[ComplaintRecord], bool] = lambda r: True, skip: int = 0,
                          limit: int = 1000) -> list[ComplaintRecord]:
    """Records received from `start` to `end`, newest first, that `keep` accepts: `limit` after `skip`."""
    indexes = [by_service_key(c) for c in service_codes] if service_codes else [BY_TIME]
    members: list[str] = []
    for index in indexes:
        members.extend(await store.range_by_score(index, start.timestamp(), end.timestamp(), newest_first=True))
    wanted = skip + limit
    found: list[ComplaintRecord] = []
    for i in range(0, len(members), CHUNK):
        chunk = members[i:i + CHUNK]
        found.extend(r for r in await store.get_many([record_key(m) for m in chunk], ComplaintRecord)
                     if r is not None and keep(r))
        if len(indexes) == 1 and len(found) >= wanted:  # one index is in time order already: enough read
            break
    found.sort(key=lambda r: r.requested_at, reverse=True)
    return found[skip:wanted]


async def open_complaints(store: Store, config: Config, *, limit: int = 500) -> list[dict[str, Any]]:
    """The wall's snapshot: open complaints, newest first, then a few just closed."""
    recent = await store.range_by_score(BY_TIME, 0, float("inf"), limit=5000, newest_first=True)
    records = [r for r in await store.get_many([record_key(m) for m in recent], ComplaintRecord) if r is not None]
    open_ones = [r for r in records if r.status == "open"][:limit]
    closed = [r for r in records if r.status == "closed"][:30]
    return [complaint_view(r, config) for r in open_ones + closed]
