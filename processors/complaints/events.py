"""Complaint payloads: receipts, contacts (restricted), routing, links, agencies' actions, ratings, forwarding
upstream, breaches, surges; its topics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from command_center.config import Config
from command_center.events.types import (
    Id,
    Location,
    NonNeg,
    Payload,
    Text,
    register,
)
from command_center.topics import DAY_MS, TopicSpec, register_topics

Channel = Literal["web", "open311", "sms", "social", "phone", "whatsapp"]
ComplaintDeadline = Literal["response", "feedback"]


class ComplaintReceived(Payload, kw_only=True, frozen=True):
    """A citizen's complaint, normalised from any channel; the identity is kept apart under `contact_ref`."""

    complaint_id: Id
    channel: Channel
    service_code: Id
    description: Text
    requested_at: datetime
    location: Location | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] = ""
    area: str = ""
    media_urls: list[str] = []
    attributes: dict[str, str] = {}
    contact_ref: str = ""
    duplicate_of: str = ""
    address_id: Annotated[str, msgspec.Meta(max_length=100)] = ""
    token: str = ""  # the Open311 token the citizen can look the request up by
    client: Annotated[str, msgspec.Meta(max_length=200)] = ""  # the Open311 client that filed it (an app, a portal)


class ComplaintContact(Payload, kw_only=True, frozen=True):
    """Who complained: on its own compacted topic, readable only by admins, never on the wall or in Open311."""

    contact_ref: Id
    complaint_id: Id
    channel: Channel
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=50)] = ""
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""
    handle: Annotated[str, msgspec.Meta(max_length=200)] = ""  # a social-media account
    device_id: Annotated[str, msgspec.Meta(max_length=200)] = ""
    account_id: Annotated[str, msgspec.Meta(max_length=200)] = ""


class ComplaintLinked(Payload, kw_only=True, frozen=True):
    """A complaint repeats an earlier one (same category, close by, soon after): linked, not counted twice."""

    complaint_id: Id
    duplicate_of: Id
    distance_m: NonNeg
    minutes_apart: NonNeg


class ComplaintRouted(Payload, kw_only=True, frozen=True):
    """The complaint was assigned to an agency (OPD) and its SLA clocks started."""

    complaint_id: Id
    agency: Id
    rule: str
    response_due: datetime
    feedback_due: datetime
    service_code: str = ""
    area: str = ""


class ComplaintAction(Payload, kw_only=True, frozen=True):
    """An agency responded, gave feedback or closed the complaint."""

    complaint_id: Id
    action: Literal["respond", "feedback", "close", "reopen"]
    agency: str
    actor: str
    at: datetime
    status_notes: Text = ""


class ComplaintRated(Payload, kw_only=True, frozen=True):
    """The citizen rated the answer to a closed complaint (1 poor .. 5 good), replying on its channel."""

    complaint_id: Id
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    channel: Channel
    at: datetime
    comment: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ComplaintForwarded(Payload, kw_only=True, frozen=True):
    """The complaint was filed with an upstream system (SP4N-LAPOR!, a province's instance) under its id there."""

    complaint_id: Id
    upstream: Id
    remote_id: Annotated[str, msgspec.Meta(max_length=200)]
    remote_token: Annotated[str, msgspec.Meta(max_length=200)] = ""
    at: datetime


class ComplaintBreach(Payload, kw_only=True, frozen=True):
    """A complaint passed its response or feedback deadline."""

    complaint_id: Id
    deadline: ComplaintDeadline
    due: datetime
    agency: str
    service_code: str = ""
    area: str = ""
    escalated_to: str = ""


class ComplaintSurge(Payload, kw_only=True, frozen=True):
    """Complaints of one category in one area far above their own recent baseline (or back to normal)."""

    service_code: Id
    area: str
    active: bool
    count: Annotated[int, msgspec.Meta(ge=0)]
    baseline: NonNeg
    window_start: datetime


# --- Sensors ----------------------------------------------------------------------------------------


register({
    "id.go.cc.complaint.received": ComplaintReceived,
    "id.go.cc.complaint.contact": ComplaintContact,
    "id.go.cc.complaint.linked": ComplaintLinked,
    "id.go.cc.complaint.routed": ComplaintRouted,
    "id.go.cc.complaint.responded": ComplaintAction,
    "id.go.cc.complaint.feedback": ComplaintAction,
    "id.go.cc.complaint.closed": ComplaintAction,
    "id.go.cc.complaint.reopened": ComplaintAction,
    "id.go.cc.complaint.rated": ComplaintRated,
    "id.go.cc.complaint.forwarded": ComplaintForwarded,
    "id.go.cc.complaint.breached": ComplaintBreach,
    "id.go.cc.complaint.surge": ComplaintSurge,
})


COMPLAINTS = "cc.complaints"
COMPLAINT_CONTACTS = "cc.complaints.contacts"

register_topics(
    TopicSpec(name=COMPLAINTS, partitions=6, retention_ms=5 * 365 * DAY_MS, description="complaint record"),
    TopicSpec(name=COMPLAINT_CONTACTS, partitions=3, retention_ms=5 * 365 * DAY_MS, compacted=True,
                  description="who complained (restrict with ACLs)"),
)


def tracking_url(config: Config, token: str) -> str:
    """The citizen's tracking page of a token (the site's public address where the token is not yet known)."""
    base = config.site.public_url.rstrip("/")
    return f"{base}/lapor/{token}" if token else config.site.public_url
