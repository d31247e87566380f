"""CCTV payloads: snapshots, failed polls, anomalies and activity; its topics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

from command_center.events.types import (
    Id,
    Location,
    Payload,
    Text,
    anomaly_types,
    register,
)
from command_center.topics import DAY_MS, HOUR_MS, TopicSpec, register_topics

CameraState = Literal["ok", "offline", "frozen", "black", "blurred", "covered", "moved"]
CameraAnomalyKind = Literal["offline", "frozen", "black", "blurred", "covered", "moved"]
SnapshotFailure = Literal[
    "timeout", "refused", "unreachable", "http_status", "not_an_image", "too_large", "stream_error", "redirect"
]


class CameraSnapshot(Payload, kw_only=True, frozen=True):
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


class SnapshotFailed(Payload, kw_only=True, frozen=True):
    """A poll of the camera produced no usable frame."""

    camera_id: Id
    reason: SnapshotFailure
    detail: Text = ""
    http_status: int | None = None


class CameraAnomaly(Payload, kw_only=True, frozen=True):
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


class CameraActivity(Payload, kw_only=True, frozen=True):
    """Activity measured in a frame: motion share of the view and people counted."""

    camera_id: Id
    motion: Annotated[float, msgspec.Meta(ge=0, le=1)]
    people: Annotated[int, msgspec.Meta(ge=0)]
    frame_key: str = ""


class CameraReference(Payload, kw_only=True, frozen=True):
    """An operator marked the camera's frame `seq` as its good view: the processor learns it as the baseline
    (on the snapshots topic, keyed by the camera, so it is applied in order with the camera's frames)."""

    camera_id: Id
    frame_key: str
    seq: int
    width: Annotated[int, msgspec.Meta(ge=0)]
    by: Text = ""



register({
    "id.go.cc.cctv.snapshot": CameraSnapshot,
    "id.go.cc.cctv.snapshot_failed": SnapshotFailed,
    "id.go.cc.cctv.activity": CameraActivity,
    "id.go.cc.cctv.reference": CameraReference,
    **anomaly_types("id.go.cc.cctv", get_args(CameraAnomalyKind), CameraAnomaly),
})


CCTV_SNAPSHOTS = "cc.cctv.snapshots"
CCTV_EVENTS = "cc.cctv.events"

register_topics(
    TopicSpec(name=CCTV_SNAPSHOTS, partitions=12, retention_ms=6 * HOUR_MS, description="frame metadata"),
    TopicSpec(name=CCTV_EVENTS, partitions=6, retention_ms=30 * DAY_MS, description="camera anomalies"),
)
