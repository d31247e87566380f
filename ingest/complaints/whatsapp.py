"""WhatsApp messages as Meta's Cloud API webhook delivers them, checked and turned into submissions.

Meta signs each POST with `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body under the app secret>`,
and subscribes a webhook with a GET carrying `hub.mode=subscribe`, `hub.verify_token` and `hub.challenge`,
which is answered with the challenge. A text message is a complaint (placed by keywords, as an SMS is), a
location message is a complaint at its coordinates; delivery statuses and other message types are not
complaints and are acknowledged without filing anything.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import msgspec

from command_center.config import Config
from ingest.complaints.channels import MAX_MESSAGE, classify, place_of
from ingest.complaints.intake import Invalid, Submission, clean

SIGNATURE = "X-Hub-Signature-256"


class _Text(msgspec.Struct):
    body: str


class _Location(msgspec.Struct):
    latitude: float
    longitude: float
    name: str = ""
    address: str = ""


class _Message(msgspec.Struct):
    id: str
    type: str
    sender: str = msgspec.field(default="", name="from")
    timestamp: str = ""
    text: _Text | None = None
    location: _Location | None = None


class _Profile(msgspec.Struct):
    name: str = ""


class _Contact(msgspec.Struct):
    wa_id: str = ""
    profile: _Profile = msgspec.field(default_factory=_Profile)


class _Value(msgspec.Struct):
    messaging_product: str = ""
    contacts: list[_Contact] = []
    messages: list[_Message] = []


class _Change(msgspec.Struct):
    value: _Value
    field: str = ""


class _Entry(msgspec.Struct):
    id: str = ""
    changes: list[_Change] = []


class Notification(msgspec.Struct):
    object: str
    entry: list[_Entry] = []


@dataclass(frozen=True)
class Incoming:
    """One message from a citizen: its id, number, name, and text (or place)."""

    message_id: str
    sender: str
    name: str
    text: str
    lat: float | None = None
    long: float | None = None


def verify(app_secret: str, body: bytes, signature: str) -> str | None:
    """None when the body is Meta's, signed with the app secret; otherwise why not."""
    if not app_secret:
        return "the WhatsApp webhook is not configured (replies.whatsapp.app_secret)"
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not signature:
        return f"{SIGNATURE} is missing"
    if not hmac.compare_digest(expected, signature):
        return f"{SIGNATURE} does not match the body"
    return None


def messages(body: bytes) -> list[Incoming]:
    """The citizens' messages in a notification; Invalid when it is not one."""
    try:
        note = msgspec.json.decode(body, type=Notification)
    except msgspec.ValidationError as err:
        raise Invalid([("", f"not a WhatsApp Business notification: {err}")], status=422) from err
    except msgspec.DecodeError as err:
        raise Invalid([("", f"the body is not JSON: {err}")]) from err
    if note.object != "whatsapp_business_account":
        raise Invalid([("object", f"{note.object!r} is not whatsapp_business_account")], status=422)
    found: list[Incoming] = []
    for entry in note.entry:
        for change in entry.changes:
            names = {c.wa_id: c.profile.name for c in change.value.contacts}
            for m in change.value.messages:
                who = m.sender
                if not who:
                    continue
                if m.type == "text" and m.text is not None:
                    found.append(Incoming(m.id, who, names.get(who, ""), m.text.body))
                elif m.type == "location" and m.location is not None:
                    place = " ".join(p for p in (m.location.name, m.location.address) if p)
                    found.append(Incoming(m.id, who, names.get(who, ""), place, m.location.latitude,
                                          m.location.longitude))
    return found


def submission(config: Config, message: Incoming) -> Submission:
    text = clean(message.text)
    if len(text) > MAX_MESSAGE:
        raise Invalid([("text", f"at most {MAX_MESSAGE:,} characters")], status=422)
    if not text and message.lat is None:
        raise Invalid([("text", "an empty message")], status=422)
    code = classify(config, text)
    if not code:
        raise Invalid([("text", "no service's keywords found and no default service is configured")], status=422)
    description, address = place_of(text)
    return Submission(channel="whatsapp", service_code=code, description=description, address=address,
                      lat=message.lat, long=message.long,
                      name=clean(message.name)[:200], phone=message.sender[:50],
                      source_id=f"whatsapp:{message.message_id[:200]}")
