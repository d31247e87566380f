"""SMS and social-media complaints, as their gateways deliver them, turned into submissions.

A message carries no service code: it is placed by the services' keywords (and names) found in its text,
else in `complaints.default_service`. Its place is what the citizen wrote: the text after a `#` if there is
one ("Jalan berlubang #Jl. Kaliurang km 5"), else the message itself (Open311's address_string is a
human-written description of the location); a social post's coordinates are used when it has them.
"""

from __future__ import annotations

import re
from typing import Any

from command_center.config import Config
from ingest.complaints.intake import Invalid, Submission, clean
from processors.complaints.config import ComplaintsSettings

MAX_MESSAGE = 4000
_WORD = re.compile(r"\w+", re.UNICODE)


def classify(config: Config, text: str) -> str:
    """The service whose keywords appear most in `text`, else the default service ("" if none is set)."""
    lowered = text.lower()
    words = set(_WORD.findall(lowered))
    best, score = "", 0
    for service in ComplaintsSettings.of(config).services:
        hits = sum(1 for k in service.keywords if (k.lower() in lowered if " " in k else k.lower() in words))
        if hits > score:
            best, score = service.code, hits
    return best or ComplaintsSettings.of(config).complaints.default_service


def _text(body: dict[str, Any], name: str, *, required: bool = True, limit: int = 500) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Invalid([(name, "is required")])
        return ""
    if not isinstance(value, str | int | float):
        raise Invalid([(name, "must be text")])
    text = clean(str(value))
    if len(text) > limit:
        raise Invalid([(name, f"at most {limit:,} characters")], status=413 if limit >= MAX_MESSAGE else 400)
    return text


def place_of(text: str) -> tuple[str, str]:
    """(description, address) from a message: the text after the last `#` is the place."""
    if "#" in text:
        description, _, place = text.rpartition("#")
        if place.strip() and description.strip():
            return description.strip(), place.strip()
    return text, text[:500]


def _service(config: Config, text: str) -> str:
    code = classify(config, text)
    if not code:
        raise Invalid([("text", "no service's keywords found and no default service is configured")], status=422)
    return code


def sms_submission(config: Config, body: dict[str, Any]) -> Submission:
    """{"message_id", "from", "text"}: what an SMS gateway posts."""
    text = _text(body, "text", limit=MAX_MESSAGE)
    description, address = place_of(text)
    return Submission(channel="sms", service_code=_service(config, text), description=description, address=address,
                      phone=_text(body, "from", limit=50), source_id=f"sms:{_text(body, 'message_id', limit=200)}")


def social_submission(config: Config, body: dict[str, Any]) -> Submission:
    """{"platform", "post_id", "author", "text", "url"?, "lat"?, "long"?, "place"?}: a mention or a message."""
    platform = _text(body, "platform", limit=40).lower()
    text = _text(body, "text", limit=MAX_MESSAGE)
    description, address = place_of(text)
    place = _text(body, "place", required=False)
    url = _text(body, "url", required=False, limit=2000)
    return Submission(channel="social", service_code=_service(config, text), description=description,
                      address=place or address, lat=body.get("lat"), long=body.get("long"),
                      media_urls=[url] if url else [], handle=f"{platform}:{_text(body, 'author', limit=150)}",
                      source_id=f"{platform}:{_text(body, 'post_id', limit=200)}")
