"""The payloads' common ground and the registry from event type to payload.

Each feature declares its payloads beside its code (`processors/<feature>/events.py`) and registers their
event types here when it is imported; the kernel declares only its own (audit, dead letters). A CloudEvent's
`type` names its payload; decoding validates the payload against the struct. Anomaly payloads share one
shape per source: `kind` names the anomaly and `active` says whether it was raised (True) or cleared
(False), so the incident processor needs no per-type special cases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Long = Annotated[float, msgspec.Meta(ge=-180, le=180)]
NonNeg = Annotated[float, msgspec.Meta(ge=0)]
Severity = Literal["critical", "major", "minor", "info"]


class Payload(msgspec.Struct, kw_only=True, frozen=True):
    """Base of every payload: keyword-only and immutable. Unknown fields are ignored when decoding, so a producer
    deployed before its consumers (a new field) never dead-letters their events; input from outside is checked
    by its own intake (Open311 forms, sensor payloads), which names what it does not know."""


class Location(Payload, kw_only=True, frozen=True):
    lat: Lat
    long: Long


# --- CCTV -------------------------------------------------------------------------------------------


class AuditAction(Payload, kw_only=True, frozen=True):
    """Who did what to which entity: every operator or agency action leaves one."""

    actor: str
    role: str
    action: str
    target_kind: str
    target_id: str
    detail: Text = ""


class DeadLetter(Payload, kw_only=True, frozen=True):
    """An input that could not be processed, with the reason and its original bytes (base64)."""

    topic: str
    partition: int
    offset: int
    consumer: str
    reason: Text
    original: bytes
    key: str = ""


class ScreenReport(Payload, kw_only=True, frozen=True):
    """A wall screen says it is alive: which screen, the layout it shows, when it last drew, whether it is
    visible; sent by the page through the hub every few seconds."""

    screen: str
    layout: str = ""
    rendered_at: datetime
    visible: bool
    by: str = ""  # who the screen is signed in as


class SystemAnomaly(Payload, kw_only=True, frozen=True):
    """The centre's own machinery went wrong (a processor falling ever further behind), or came right again."""

    component: str
    kind: Literal["lag"]
    active: bool
    detail: Text = ""
    lag: int = 0


class WatchBeat(Payload, kw_only=True, frozen=True):
    """The watch's beat through the bus: written, then read back."""

    nonce: str


def anomaly_types(prefix: str, kinds: tuple[str, ...], payload: type[Payload]) -> dict[str, type[Payload]]:
    return {f"{prefix}.{kind}": payload for kind in kinds}


EVENT_TYPES: dict[str, type[Payload]] = {
    "id.go.cc.audit.action": AuditAction,
    "id.go.cc.deadletter": DeadLetter,
    "id.go.cc.wall.screen": ScreenReport,
    "id.go.cc.system.lag": SystemAnomaly,
    "id.go.cc.watch.beat": WatchBeat,
}


def register(types: dict[str, type[Payload]]) -> None:
    """Add a feature's event types; one type names one payload, whichever feature registers it."""
    for name, payload in types.items():
        if EVENT_TYPES.setdefault(name, payload) is not payload:
            raise ValueError(f"event type {name} is already {EVENT_TYPES[name].__name__}, not {payload.__name__}")
