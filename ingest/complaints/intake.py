"""One way in for complaints from every channel: checked fields in, a complaint event and a contact event out.

Every check names the field and why, so the Open311 API can answer with its error list and a webhook with
a 4xx that says what to fix. Text is kept as text (HTML in it is not interpreted, and is escaped wherever
it is shown); control characters other than line breaks and tabs are removed. The citizen's identity never
enters the complaint event: it goes to the contact event, under a reference.
"""

from __future__ import annotations

import math
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from command_center.config import Config
from command_center.events import Event, derive_id, new_event
from command_center.events.types import Channel, ComplaintContact, ComplaintReceived, Location

MAX_DESCRIPTION = 4000
MAX_ADDRESS = 500
MAX_URL = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


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
    media_urls: list[str] = field(default_factory=list)
    name: str = ""
    phone: str = ""
    email: str = ""
    handle: str = ""
    device_id: str = ""
    account_id: str = ""
    source_id: str = ""  # the channel's own id (an SMS's message id): the same message makes the same complaint


def clean(text: str) -> str:
    return _CONTROL.sub("", text).strip()


def new_token() -> str:
    """8 characters from a 32-letter alphabet: 40 random bits."""
    number = secrets.randbits(40)
    return "".join(_TOKEN_ALPHABET[(number >> (5 * i)) & 31] for i in range(8))


def complaint_id(at: datetime, channel: str, source_id: str = "") -> str:
    """A short id that sorts by day: `yymmdd-` and 8 hex digits, derived from the channel's own id if it has one."""
    tail = derive_id("complaint", channel, source_id) if source_id else uuid.uuid4().hex
    return f"{at:%y%m%d}-{tail.replace('-', '')[:8]}"


def _location(sub: Submission, problems: list[tuple[str, str]]) -> Location | None:
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
    return Location(lat=lat, long=long) if not problems else None


def _attributes(config: Config, sub: Submission, problems: list[tuple[str, str]]) -> dict[str, str]:
    service = next((s for s in config.services if s.code == sub.service_code), None)
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


def check(config: Config, sub: Submission, at: datetime) -> tuple[Event, Event | None]:
    """The complaint event (and the contact event when the citizen left any identity); Invalid otherwise."""
    if not sub.service_code:
        raise Invalid([("service_code", "is required")])
    if not any(s.code == sub.service_code for s in config.services):
        raise Invalid([("service_code", f"{sub.service_code!r} is not a service here")], status=404)
    problems: list[tuple[str, str]] = []
    description = clean(sub.description)
    if len(description) > MAX_DESCRIPTION:
        problems.append(("description", f"is {len(description):,} characters; at most {MAX_DESCRIPTION:,}"))
    location = _location(sub, problems)
    address, address_id = clean(sub.address), clean(sub.address_id)
    if len(address) > MAX_ADDRESS:
        problems.append(("address_string", f"at most {MAX_ADDRESS} characters"))
    if location is None and not address and not address_id and not problems:
        problems.append(("", "a location is required: lat and long, address_string or address_id"))
    for url in sub.media_urls:
        if not re.match(r"^https?://[^\s]+$", url) or len(url) > MAX_URL:
            problems.append(("media_url", "must be an http(s) URL of at most 2,000 characters"))
    if not description and not sub.media_urls:
        problems.append(("description", "a description or a photo is required"))
    attributes = _attributes(config, sub, problems)
    if problems:
        raise Invalid(problems)
    cid = complaint_id(at, sub.channel, sub.source_id)
    identity = {"name": clean(sub.name)[:200], "phone": clean(sub.phone)[:50], "email": clean(sub.email)[:254],
                "handle": clean(sub.handle)[:200], "device_id": clean(sub.device_id)[:200],
                "account_id": clean(sub.account_id)[:200]}
    contact_ref = derive_id("contact", cid) if any(identity.values()) else ""
    token = new_token() if not sub.source_id else derive_id("token", cid).replace("-", "")[:8].upper()
    received = new_event(
        "id.go.cc.complaint.received", id=derive_id("received", cid), source=f"/ingest/complaints/{sub.channel}",
        subject=cid, time=at,
        data=ComplaintReceived(complaint_id=cid, channel=sub.channel, service_code=sub.service_code,
                               description=description, requested_at=at, location=location, address=address,
                               address_id=address_id[:100], media_urls=sub.media_urls[:10], attributes=attributes,
                               contact_ref=contact_ref, token=token))
    contact = None
    if contact_ref:
        contact = new_event("id.go.cc.complaint.contact", id=derive_id("contact-event", cid),
                            source=f"/ingest/complaints/{sub.channel}", subject=contact_ref, time=at,
                            data=ComplaintContact(contact_ref=contact_ref, complaint_id=cid, channel=sub.channel,
                                                  **identity))
    return received, contact
