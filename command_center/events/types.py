"""Every payload that rides on the bus, declared once, and the one table from event type to payload.

A CloudEvent's `type` names its payload here; decoding validates the payload against the struct.
Anomaly payloads share one shape per source: `kind` names the anomaly and `active` says whether it
was raised (True) or cleared (False), so the incident processor needs no per-type special cases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Long = Annotated[float, msgspec.Meta(ge=-180, le=180)]
NonNeg = Annotated[float, msgspec.Meta(ge=0)]
Severity = Literal["critical", "major", "minor", "info"]


class Payload(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base of every payload: keyword-only, immutable, strict about unknown fields."""


class Location(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    lat: Lat
    long: Long


# --- CCTV -------------------------------------------------------------------------------------------

CameraState = Literal["ok", "offline", "frozen", "black", "blurred", "covered", "moved"]
CameraAnomalyKind = Literal["offline", "frozen", "black", "blurred", "covered", "moved"]
SnapshotFailure = Literal[
    "timeout", "refused", "unreachable", "http_status", "not_an_image", "too_large", "stream_error", "redirect"
]


class CameraSnapshot(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A frame was captured; its bytes are in the store under `frame_key` (claim check)."""

    camera_id: Id
    frame_key: str
    seq: int
    size: Annotated[int, msgspec.Meta(ge=0)]
    width: Annotated[int, msgspec.Meta(ge=0)]
    height: Annotated[int, msgspec.Meta(ge=0)]
    captured_at: datetime
    sha256: str
    content_type: str = "image/jpeg"


class SnapshotFailed(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A poll of the camera produced no usable frame."""

    camera_id: Id
    reason: SnapshotFailure
    detail: Text = ""
    http_status: int | None = None


class CameraAnomaly(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A camera anomaly was raised or cleared; `state` is the camera's overall state afterwards."""

    camera_id: Id
    kind: CameraAnomalyKind
    active: bool
    state: CameraState
    since: datetime
    area: str = ""
    location: Location | None = None
    frame_key: str = ""
    metrics: dict[str, float] = {}


class CameraActivity(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Activity measured in a frame: motion share of the view and people counted."""

    camera_id: Id
    motion: Annotated[float, msgspec.Meta(ge=0, le=1)]
    people: Annotated[int, msgspec.Meta(ge=0)]
    frame_key: str = ""


# --- Application health -----------------------------------------------------------------------------

AppState = Literal["up", "down", "degraded", "maintenance", "unknown"]
CheckKind = Literal["http", "tcp", "dns", "tls", "push"]
AppAnomalyKind = Literal["down", "slow", "cert_expiring", "flapping"]


class CheckResult(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One run of one check against an application."""

    app_id: Id
    check_id: Id
    kind: CheckKind
    ok: bool
    started_at: datetime
    latency_ms: NonNeg = 0.0
    reason: str = ""
    detail: Text = ""
    http_status: int | None = None
    cert_days_left: float | None = None


class AppAnomaly(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An application anomaly was raised or cleared; `state` is the app's overall state afterwards."""

    app_id: Id
    kind: AppAnomalyKind
    active: bool
    state: AppState
    previous: AppState
    since: datetime
    reason: str = ""
    downtime_s: NonNeg | None = None
    latency_ms: NonNeg | None = None
    cert_days_left: float | None = None
    in_maintenance: bool = False
    area: str = ""


# --- Complaints -------------------------------------------------------------------------------------

Channel = Literal["web", "open311", "sms", "social", "phone"]
ComplaintDeadline = Literal["response", "feedback"]


class ComplaintReceived(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
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


class ComplaintContact(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
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


class ComplaintLinked(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A complaint repeats an earlier one (same category, close by, soon after): linked, not counted twice."""

    complaint_id: Id
    duplicate_of: Id
    distance_m: NonNeg
    minutes_apart: NonNeg


class ComplaintRouted(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The complaint was assigned to an agency (OPD) and its SLA clocks started."""

    complaint_id: Id
    agency: Id
    rule: str
    response_due: datetime
    feedback_due: datetime
    service_code: str = ""
    area: str = ""


class ComplaintAction(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An agency responded, gave feedback or closed the complaint."""

    complaint_id: Id
    action: Literal["respond", "feedback", "close"]
    agency: str
    actor: str
    at: datetime
    status_notes: Text = ""


class ComplaintBreach(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A complaint passed its response or feedback deadline."""

    complaint_id: Id
    deadline: ComplaintDeadline
    due: datetime
    agency: str
    service_code: str = ""
    area: str = ""
    escalated_to: str = ""


class ComplaintSurge(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Complaints of one category in one area far above their own recent baseline (or back to normal)."""

    service_code: Id
    area: str
    active: bool
    count: Annotated[int, msgspec.Meta(ge=0)]
    baseline: NonNeg
    window_start: datetime


# --- Sensors ----------------------------------------------------------------------------------------

SensorState = Literal["ok", "alarm", "stale", "flatline", "fault", "unknown"]
SensorAnomalyKind = Literal["threshold", "rate", "spike", "stale", "flatline", "fault"]


class SensorReading(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One measurement from a sensor, at the time it was measured."""

    sensor_id: Id
    quantity: str
    unit: str
    value: float
    measured_at: datetime
    via: Literal["mqtt", "http", "sim"] = "http"


class SensorAnomaly(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A sensor anomaly was raised or cleared; `state` is the sensor's overall state afterwards."""

    sensor_id: Id
    kind: SensorAnomalyKind
    active: bool
    state: SensorState
    since: datetime
    value: float | None = None
    level: str = ""
    detail: Text = ""
    area: str = ""
    severity: Severity = "major"


# --- Incidents, notifications, audit ----------------------------------------------------------------

IncidentStatus = Literal["open", "acknowledged", "cleared", "resolved"]


class TimelineEntry(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    at: datetime
    kind: str
    text: Text = ""
    actor: str = ""
    event_id: str = ""


class IncidentState(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The whole incident after a change (the compacted topic keeps the latest per incident)."""

    id: Id
    dedup_key: str
    title: str
    severity: Severity
    status: IncidentStatus
    source: Literal["cctv", "health", "complaints", "sensors", "correlation"]
    kind: str
    area: str
    opened_at: datetime
    updated_at: datetime
    acknowledged: bool = False
    cleared: bool = False
    resolved_at: datetime | None = None
    acknowledged_by: str = ""
    entities: list[str] = []
    parent_id: str = ""
    children: list[str] = []
    links: dict[str, str] = {}
    public: bool = False
    suppressed: bool = False
    count: int = 1
    timeline: list[TimelineEntry] = []
    escalate_to: list[str] = []  # contacts paged at the first step whatever the policy (an agency head)


class IncidentCommand(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An operator's action on an incident, from the API to the incident processor."""

    incident_id: Id
    action: Literal["ack", "resolve", "comment", "unack"]
    actor: str
    role: str
    text: Text = ""


class NotificationAttempt(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One push to one on-call contact for one escalation step."""

    notification_id: Id
    incident_id: Id
    step: int
    attempt: int
    channel: Literal["webhook", "telegram", "email"]
    target: str
    status: Literal["sent", "failed", "retrying", "acknowledged", "resolved"]
    detail: Text = ""


class AuditAction(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Who did what to which entity: every operator or agency action leaves one."""

    actor: str
    role: str
    action: str
    target_kind: str
    target_id: str
    detail: Text = ""


class DeadLetter(Payload, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An input that could not be processed, with the reason and its original bytes (base64)."""

    topic: str
    partition: int
    offset: int
    consumer: str
    reason: Text
    original: bytes
    key: str = ""


def _anomaly_types(prefix: str, kinds: tuple[str, ...], payload: type[Payload]) -> dict[str, type[Payload]]:
    return {f"{prefix}.{kind}": payload for kind in kinds}


EVENT_TYPES: dict[str, type[Payload]] = {
    "id.go.cc.cctv.snapshot": CameraSnapshot,
    "id.go.cc.cctv.snapshot_failed": SnapshotFailed,
    "id.go.cc.cctv.activity": CameraActivity,
    **_anomaly_types("id.go.cc.cctv", get_args(CameraAnomalyKind), CameraAnomaly),
    "id.go.cc.health.check": CheckResult,
    **_anomaly_types("id.go.cc.health", get_args(AppAnomalyKind), AppAnomaly),
    "id.go.cc.health.recovered": AppAnomaly,
    "id.go.cc.complaint.received": ComplaintReceived,
    "id.go.cc.complaint.contact": ComplaintContact,
    "id.go.cc.complaint.linked": ComplaintLinked,
    "id.go.cc.complaint.routed": ComplaintRouted,
    "id.go.cc.complaint.responded": ComplaintAction,
    "id.go.cc.complaint.feedback": ComplaintAction,
    "id.go.cc.complaint.closed": ComplaintAction,
    "id.go.cc.complaint.breached": ComplaintBreach,
    "id.go.cc.complaint.surge": ComplaintSurge,
    "id.go.cc.sensor.reading": SensorReading,
    **_anomaly_types("id.go.cc.sensor", get_args(SensorAnomalyKind), SensorAnomaly),
    **_anomaly_types(
        "id.go.cc.incident",
        ("opened", "updated", "acknowledged", "cleared", "resolved", "commented", "reopened"),
        IncidentState,
    ),
    "id.go.cc.incident.command": IncidentCommand,
    **_anomaly_types(
        "id.go.cc.notification", ("sent", "failed", "retrying", "acknowledged", "resolved"), NotificationAttempt
    ),
    "id.go.cc.audit.action": AuditAction,
    "id.go.cc.deadletter": DeadLetter,
}
