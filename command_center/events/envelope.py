"""The CloudEvents 1.0 structured-JSON envelope that every message on the bus uses (DESIGN.md, contract)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from command_center.errors import DecodeError
from command_center.events.types import EVENT_TYPES

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
_ID_NAMESPACE = uuid.UUID("5f0c3a52-9a6b-4d35-8b2a-6f1e0c8d2b17")


class Event(msgspec.Struct, kw_only=True, frozen=True):
    """One CloudEvent; `data` is the typed payload declared for `type` in EVENT_TYPES."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str
    data: Any
    specversion: str = SPECVERSION
    datacontenttype: str = CONTENT_TYPE

    @property
    def key(self) -> bytes:
        """The Kafka key: the subject, so one entity's events stay in order on one partition."""
        return self.subject.encode()


class _RawEvent(msgspec.Struct, kw_only=True):
    id: str
    source: str
    type: str
    time: datetime
    subject: str
    data: msgspec.Raw
    specversion: str
    datacontenttype: str = CONTENT_TYPE


_encoder = msgspec.json.Encoder()
_raw_decoder = msgspec.json.Decoder(_RawEvent)
_payload_decoders: dict[type, msgspec.json.Decoder[Any]] = {}  # by payload, built the first time each is read


def derive_id(*parts: object) -> str:
    """A deterministic event id from the parts that identify it, so a replay produces the same id."""
    return str(uuid.uuid5(_ID_NAMESPACE, "|".join(str(p) for p in parts)))


def new_event(
    type: str,
    *,
    source: str,
    subject: str,
    data: msgspec.Struct,
    time: datetime,
    id: str | None = None,
) -> Event:
    """Build an event, checking that `data` is the payload declared for `type`."""
    expected = EVENT_TYPES.get(type)
    if expected is None:
        raise ValueError(f"unknown event type {type!r}")
    if not isinstance(data, expected):
        raise TypeError(f"{type} carries {expected.__name__}, not {data.__class__.__name__}")
    if time.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return Event(id=id or str(uuid.uuid4()), source=source, type=type, time=time, subject=subject, data=data)


def encode(event: Event) -> bytes:
    """Serialise an event as CloudEvents structured JSON."""
    return _encoder.encode(event)


_BINARY_ATTRIBUTES = ("id", "source", "type", "time", "subject", "specversion")


def _binary(raw: bytes, headers: Sequence[tuple[str, bytes]]) -> _RawEvent:
    """A CloudEvent in the Kafka binding's binary mode: attributes in `ce_` headers, the data as the value."""
    attributes = {name[3:].lower(): value.decode("utf-8", "replace") for name, value in headers
                  if name.lower().startswith("ce_")}
    content_type = next((v.decode("latin-1") for n, v in headers if n.lower() == "content-type"), CONTENT_TYPE)
    if content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise DecodeError(f"envelope: binary-mode data must be {CONTENT_TYPE}, not {content_type!r}")
    missing = [a for a in _BINARY_ATTRIBUTES if a not in attributes]
    if missing:
        raise DecodeError(f"envelope: binary mode without ce_{', ce_'.join(missing)}")
    try:
        return _raw_decoder.decode(msgspec.json.encode({**{a: attributes[a] for a in _BINARY_ATTRIBUTES},
                                                         "data": msgspec.Raw(raw)}))
    except msgspec.DecodeError as err:
        raise DecodeError(f"envelope: {err}") from err


def decode(raw: bytes, headers: Sequence[tuple[str, bytes]] = ()) -> Event:
    """Parse and validate an event (structured mode, or binary mode when `headers` carry `ce_` attributes);
    raise DecodeError with the reason when it is not a valid one."""
    if any(name[:3].lower() == "ce_" for name, _ in headers):
        env = _binary(raw, headers)
    else:
        try:
            env = _raw_decoder.decode(raw)
        except msgspec.DecodeError as err:
            raise DecodeError(f"envelope: {err}") from err
    if env.specversion != SPECVERSION:
        raise DecodeError(f"envelope: specversion {env.specversion!r} is not {SPECVERSION!r}")
    if env.time.tzinfo is None:
        raise DecodeError("envelope: time has no timezone")
    payload = EVENT_TYPES.get(env.type)
    if payload is None:
        raise DecodeError(f"envelope: unknown type {env.type!r}")
    decoder = _payload_decoders.get(payload) or _payload_decoders.setdefault(payload, msgspec.json.Decoder(payload))
    try:
        data = decoder.decode(env.data)
    except msgspec.DecodeError as err:
        raise DecodeError(f"data of {env.type}: {err}") from err
    return Event(
        id=env.id, source=env.source, type=env.type, time=env.time.astimezone(UTC), subject=env.subject, data=data
    )


def to_builtins(event: Event) -> dict[str, Any]:
    """The event as plain JSON-ready values (for the API and the hub)."""
    return msgspec.to_builtins(event)  # type: ignore[no-any-return]
