"""One way in for complaints from every channel: checked fields in, a complaint event and a contact event out.

Every check names the field and why, so the Open311 API can answer with its error list and a webhook with
a 4xx that says what to fix. Text is kept as text (HTML in it is not interpreted, and is escaped wherever
it is shown); control characters other than line breaks and tabs are removed. The citizen's identity never
enters the complaint event: it goes to the contact event, under a reference derived from the complaint's id.

A complaint's id is a UUIDv7 (48 bits of milliseconds and 74 random bits: no collision at any rate a province
sees), or, when the sender names the submission (an Idempotency-Key, a gateway's message id), a UUIDv5 of that
name, so a retry names the same complaint. The receipt's event id also covers a fingerprint of what was sent:
the same id with a different body is a different receipt, which the processor refuses.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import uuid6

from command_center.config import Config
from command_center.events import Event, derive_id, new_event
from command_center.events.types import Location
from processors.complaints.config import ComplaintsSettings
from processors.complaints.events import Channel, ComplaintContact, ComplaintReceived
from processors.complaints.record import contact_ref_of

MAX_DESCRIPTION = 4000
MAX_ADDRESS = 500
MAX_URL = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Invalid(ValueError):
    """A complaint that cannot be accepted; `problems` lists (field, reason); `status` is the HTTP answer."""

    def __init__(self, problems: list[tuple[str, str]], status: int = 400) -> None:
        super().__init__("; ".join(f"{f}: {r}" if f else r for f, r in problems))
        self.problems = problems
        self.status = status


@dataclass
class Submission:
    """What a channel knows of a complaint, before it is checked."""

    channel: Channel
    service_code: str
    description: str = ""
    lat: str | float | None = None
    long: str | float | None = None
    address: str = ""
    address_id: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)
    media_urls: list[str] = field(default_factory=list)  # links the sender gave
    photo_urls: list[str] = field(default_factory=list)  # photos it uploaded, as stored here
    photo_digests: list[str] = field(default_factory=list)  # SHA-256 of each uploaded photo, for the fingerprint
    name: str = ""
    phone: str = ""
    email: str = ""
    handle: str = ""
    device_id: str = ""
    account_id: str = ""
    client: str = ""  # the Open311 client that filed it (its status_webhook hears of each step)
    source_id: str = ""  # the channel's own id (an SMS's message id): the same message makes the same complaint


def clean(text: str) -> str:
    return _CONTROL.sub("", text).strip()


def complaint_id(name: str = "") -> str:
    """A new UUIDv7; with `name` (the caller and its Idempotency-Key, or a gateway's message id), its UUIDv5."""
    return derive_id("complaint", name) if name else str(uuid6.uuid7())


def fingerprint(sub: Submission) -> str:
    """What was sent, as a digest: photos by their bytes, not by where they were stored."""
    sent = {k: v for k, v in vars(sub).items() if k != "photo_urls"}
    return hashlib.sha256(msgspec.json.encode(sent, order="sorted")).hexdigest()[:32]


def _location(config: Config, sub: Submission, problems: list[tuple[str, str]]) -> Location | None:
    given = [v not in (None, "") for v in (sub.lat, sub.long)]
    if not any(given):
        return None
    if not all(given):
        problems.append(("lat" if not given[0] else "long", "lat and long must be sent together"))
        return None
    try:
        lat, long = float(sub.lat), float(sub.long)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        problems.append(("lat", "lat and long must be decimal degrees"))
        return None
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        problems.append(("lat", f"{lat} is outside -90..90"))
    if not (math.isfinite(long) and -180 <= long <= 180):
        problems.append(("long", f"{long} is outside -180..180"))
    region = config.region()
    if not problems and region is not None and not region.holds(lat, long):
        problems.append(("lat", f"({lat:g}, {long:g}) is outside {config.site.name} ({region.describe()}): "
                                "check the coordinates, or send address_string instead"))
    return Location(lat=lat, long=long) if not problems else None


def _attributes(config: Config, sub: Submission, problems: list[tuple[str, str]]) -> dict[str, str]:
    service = next((s for s in ComplaintsSettings.of(config).services if s.code == sub.service_code), None)
    known = {a.code: a for a in service.attributes} if service else {}
    out: dict[str, str] = {}
    for code, values in sub.attributes.items():
        attribute = known.get(code)
        if attribute is None:
            problems.append((f"attribute[{code}]", "not an attribute of this service"))
            continue
        values = [clean(v) for v in values if clean(v)]
        allowed = {v.key for v in attribute.values}
        if attribute.datatype in ("singlevaluelist", "multivaluelist") and any(v not in allowed for v in values):
            problems.append((f"attribute[{code}]", f"must be one of {', '.join(sorted(allowed))}"))
        if attribute.datatype == "singlevaluelist" and len(values) > 1:
            problems.append((f"attribute[{code}]", "takes one value"))
        if attribute.datatype == "number" and any(not re.fullmatch(r"-?\d+(\.\d+)?", v) for v in values):
            problems.append((f"attribute[{code}]", "must be a number"))
        if values:
            out[code] = ",".join(values)[:500]
    for attribute in known.values():
        if attribute.required and attribute.code not in out:
            problems.append((f"attribute[{attribute.code}]", "is required for this service"))
    return out


@dataclass(frozen=True)
class Receipt:
    """A checked submission: the complaint's id and what to publish once its tracking token is known."""

    complaint_id: str
    name: str  # what named the id (a caller's Idempotency-Key, a gateway's message id); empty for a UUIDv7
    fingerprint: str
    channel: str
    at: datetime
    data: ComplaintReceived  # with no token yet
    identity: dict[str, str]

    @property
    def received_id(self) -> str:
        """The receipt event's id: the same for a retry of the same body under the same name, another otherwise."""
        return derive_id("received", self.complaint_id, self.fingerprint)

    def events(self, token: str = "") -> tuple[Event, Event | None]:
        """The receipt (and the contact event when the citizen left any identity)."""
        cid, source = self.complaint_id, f"/ingest/complaints/{self.channel}"
        contact_ref = contact_ref_of(cid) if any(self.identity.values()) else ""
        received = new_event(
            "id.go.cc.complaint.received", id=self.received_id, source=source,
            subject=cid, time=self.at,
            data=msgspec.structs.replace(self.data, token=token, contact_ref=contact_ref))
        if not contact_ref:
            return received, None
        return received, new_event(
            "id.go.cc.complaint.contact", id=derive_id("contact-event", cid, self.fingerprint), source=source,
            subject=contact_ref, time=self.at,
            data=ComplaintContact(contact_ref=contact_ref, complaint_id=cid, channel=self.channel,  # type: ignore[arg-type]
                                  **self.identity))


def check(config: Config, sub: Submission, at: datetime, *, name: str = "") -> Receipt:
    """The checked receipt, its id named by `name` when the sender gave one; Invalid otherwise."""
    if not sub.service_code:
        raise Invalid([("service_code", "is required")])
    if not any(s.code == sub.service_code for s in ComplaintsSettings.of(config).services):
        raise Invalid([("service_code", f"{sub.service_code!r} is not a service here")], status=404)
    problems: list[tuple[str, str]] = []
    description = clean(sub.description)
    if len(description) > MAX_DESCRIPTION:
        problems.append(("description", f"is {len(description):,} characters; at most {MAX_DESCRIPTION:,}"))
    location = _location(config, sub, problems)
    address, address_id = clean(sub.address), clean(sub.address_id)
    if len(address) > MAX_ADDRESS:
        problems.append(("address_string", f"at most {MAX_ADDRESS} characters"))
    if location is None and not address and not address_id and not problems:
        problems.append(("", "a location is required: lat and long, address_string or address_id"))
    media_urls = [*sub.photo_urls, *sub.media_urls]
    for url in sub.media_urls:
        if not re.match(r"^https?://[^\s]+$", url) or len(url) > MAX_URL:
            problems.append(("media_url", "must be an http(s) URL of at most 2,000 characters"))
    if not description and not media_urls:
        problems.append(("description", "a description or a photo is required"))
    attributes = _attributes(config, sub, problems)
    if problems:
        raise Invalid(problems)
    name = name or (f"{sub.channel}|{sub.source_id}" if sub.source_id else "")
    cid = complaint_id(name)
    identity = {"name": clean(sub.name)[:200], "phone": clean(sub.phone)[:50], "email": clean(sub.email)[:254],
                "handle": clean(sub.handle)[:200], "device_id": clean(sub.device_id)[:200],
                "account_id": clean(sub.account_id)[:200]}
    data = ComplaintReceived(complaint_id=cid, channel=sub.channel, service_code=sub.service_code,
                             description=description, requested_at=at, location=location, address=address,
                             address_id=address_id[:100], media_urls=media_urls[:10], attributes=attributes,
                             client=sub.client[:200])
    return Receipt(complaint_id=cid, name=name, fingerprint=fingerprint(sub), channel=sub.channel, at=at, data=data,
                   identity=identity)
