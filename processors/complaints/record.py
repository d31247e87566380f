"""The complaint record: everything known of one complaint and every change to it, kept in Redis and rebuilt
from cc.complaints. The citizen's identity is not in it: that lives under its own key (contact_key), which
only the admin role may read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from command_center.events import derive_id
from command_center.events.types import Location
from processors.complaints.events import ComplaintReceived


class StatusChange(msgspec.Struct, kw_only=True):
    at: datetime
    action: str  # received, routed, linked, forwarded, responded, feedback, closed, reopened, rated,
    # breached_response, breached_feedback, notes
    actor: str = ""
    notes: str = ""
    event_id: str = ""


class ComplaintRecord(msgspec.Struct, kw_only=True):
    id: str
    channel: str
    service_code: str
    description: str
    requested_at: datetime
    updated_at: datetime
    status: Literal["open", "closed"] = "open"
    status_notes: str = ""
    location: Location | None = None
    address: str = ""
    address_id: str = ""
    area: str = ""
    media_urls: list[str] = []
    attributes: dict[str, str] = {}
    token: str = ""
    contact_ref: str = ""
    agency: str = ""
    rule: str = ""
    response_due: datetime | None = None
    feedback_due: datetime | None = None
    responded_at: datetime | None = None
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    breached: list[str] = []
    escalated_to: str = ""
    duplicate_of: str = ""
    duplicates: list[str] = []
    client: str = ""  # the Open311 client that filed it
    rating: int | None = None  # the citizen's 1-5, asked at close
    rated_at: datetime | None = None
    upstream: str = ""  # the upstream system it was forwarded to, and its id there
    upstream_id: str = ""
    receipt_id: str = ""  # the event id of the receipt that made this record: another receipt for the id is refused
    history: list[StatusChange] = []


class TokenRef(msgspec.Struct):
    complaint_id: str


def from_receipt(data: ComplaintReceived, receipt_id: str = "") -> ComplaintRecord:
    """A complaint as its receipt says it, before routing."""
    return ComplaintRecord(
        id=data.complaint_id, channel=data.channel, service_code=data.service_code, description=data.description,
        requested_at=data.requested_at, updated_at=data.requested_at, location=data.location, address=data.address,
        address_id=data.address_id, area=data.area, media_urls=data.media_urls, attributes=data.attributes,
        token=data.token, contact_ref=data.contact_ref, client=data.client, receipt_id=receipt_id,
        history=[StatusChange(at=data.requested_at, action="received", actor=data.channel, event_id=receipt_id)])


def record_key(complaint_id: str) -> str:
    return f"cc:complaint:{complaint_id}"


def token_key(token: str) -> str:
    return f"cc:complaint:token:{token}"


def contact_key(contact_ref: str) -> str:
    return f"cc:complaint:contact:{contact_ref}"


def contact_ref_of(complaint_id: str) -> str:
    """The reference of a complaint's contact: one per complaint id, so two complaints never share one."""
    return derive_id("contact", complaint_id)


def pending_key(complaint_id: str) -> str:
    """Intake's own note of a receipt (its payload, with a TTL), so the complaint can be fetched before routing."""
    return f"cc:complaint:pending:{complaint_id}"


def idempotency_key(name: str) -> str:
    """The fingerprint of what was first sent under a caller's Idempotency-Key (or a gateway's message id)."""
    return f"cc:complaint:idempotency:{name}"


BY_TIME = "cc:complaints:by_time"


def by_service_key(service_code: str) -> str:
    return f"cc:complaints:by_time:{service_code}"


def geo_key(service_code: str) -> str:
    """Open, first-reported complaints of a service by place, for duplicates; trimmed to the duplicate window."""
    return f"cc:complaints:geo:{service_code}"


def recent_key(service_code: str) -> str:
    """The same members as geo_key, scored by time, so the geo set can be trimmed."""
    return f"cc:complaints:recent:{service_code}"
