"""The camera read model: each configured camera with its status in Redis (`cc:camera:{id}`).

The status is a small record written with every judged frame, apart from the processor's larger memory
(thumbnails, baselines), so the wall and /api/cameras read only what they show. A camera the processor has
not seen a frame from yet is `offline` with the reason "no frame received yet".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from command_center.config import Config
from command_center.config.base import by_id
from command_center.store import Store
from command_center.store.frames import frame_key
from command_center.views import STAFF, ViewSpec, subjects
from processors.cctv.config import CameraConfig, CctvSettings
from processors.cctv.decide import PRIORITY, AnomalyMark, CameraMemory

NOT_SEEN = "no frame received yet"


class CameraStatus(msgspec.Struct, kw_only=True):
    camera_id: str
    state: str = "ok"
    since: datetime | None = None
    anomalies: list[str] = []
    last_frame_at: datetime | None = None
    frame_key: str = ""
    motion: float = 0.0
    people: int | None = None
    reason: str = ""
    width: int = 0  # the latest frame's width (a reference marked on it is decoded at the same scale)
    baseline: str = "learning"  # learning, learned, or suspect (the first baseline had almost no detail)
    reference_at: datetime | None = None
    marks: list[AnomalyMark] = []


def status_key(camera_id: str) -> str:
    return f"cc:camera:{camera_id}"


def baseline_of(memory: CameraMemory, warmup: int) -> str:
    return "suspect" if memory.suspect else "learned" if memory.learned >= warmup else "learning"


def status_of(memory: CameraMemory, key: str = "", *, warmup: int = 8) -> CameraStatus:
    return CameraStatus(camera_id=memory.camera_id, state=memory.state, since=memory.since,
                        anomalies=[k for k in PRIORITY if memory.tracks.get(k) and memory.tracks[k].active],
                        last_frame_at=memory.at, frame_key=key or (frame_key(memory.camera_id, memory.seq)
                                                                    if memory.seq else ""),
                        motion=round(memory.motion, 4), people=memory.people, reason=memory.failure,
                        width=memory.width, baseline=baseline_of(memory, warmup), reference_at=memory.reference_at,
                        marks=memory.marks)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def camera_view(camera: CameraConfig, status: CameraStatus | None) -> dict[str, Any]:
    return {
        "id": camera.id, "name": camera.name, "kind": camera.kind,
        "state": status.state if status else "offline",
        "since": _iso(status.since) if status else None,
        "area": camera.area, "location": camera.location.model_dump() if camera.location else None,
        "anomalies": status.anomalies if status else [],
        "reason": (status.reason if status else NOT_SEEN),
        "last_frame_at": _iso(status.last_frame_at) if status else None,
        "motion": status.motion if status else None, "people": status.people if status else None,
        "snapshot": f"/api/cameras/{camera.id}/snapshot.jpg", "interval_s": camera.interval,
        "baseline": status.baseline if status else "learning",
        "reference_at": _iso(status.reference_at) if status else None,
        "recent_anomalies": [{"kind": m.kind, "at": _iso(m.at), "frame": m.frame_key.rpartition(":")[2]}
                             for m in (status.marks if status else [])][::-1],
    }


async def camera_views(store: Store, config: Config) -> list[dict[str, Any]]:
    statuses = await store.get_many([status_key(c.id) for c in CctvSettings.of(config).cameras], CameraStatus)
    return [camera_view(c, s) for c, s in zip(CctvSettings.of(config).cameras, statuses, strict=True)]


async def one_camera_view(store: Store, camera: CameraConfig) -> dict[str, Any]:
    return camera_view(camera, await store.get(status_key(camera.id), CameraStatus))


async def render(store: Store, config: Config, camera_id: str) -> dict[str, Any] | None:
    camera = by_id(CctvSettings.of(config).cameras).get(camera_id)
    return None if camera is None else await one_camera_view(store, camera)


CAMERAS = ViewSpec(state=lambda view: str(view["state"]), channel="cctv", roles=STAFF | {"police"}, entities=subjects, render=render,
                   catalogue=lambda config: [c.id for c in CctvSettings.of(config).cameras],
                   every_s=1.0)  # a tile shows a new frame at most once a second
