"""The camera read model: each configured camera with its status in Redis (`cc:camera:{id}`).

A camera with no status yet has not been seen by the CCTV processor: its state is `unknown`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from command_center.config import CameraConfig, Config
from command_center.store import Store


class CameraStatus(msgspec.Struct, kw_only=True):
    camera_id: str
    state: str = "ok"
    since: datetime | None = None
    anomalies: list[str] = []
    last_frame_at: datetime | None = None
    frame_key: str = ""
    motion: float = 0.0
    people: int = 0


def status_key(camera_id: str) -> str:
    return f"cc:camera:{camera_id}"


async def camera_view(store: Store, camera: CameraConfig, status: CameraStatus | None = None,
                      *, fetch: bool = True) -> dict[str, Any]:
    if status is None and fetch:
        status = await store.get(status_key(camera.id), CameraStatus)
    return {
        "id": camera.id, "name": camera.name, "state": status.state if status else "unknown",
        "since": status.since.isoformat() if status and status.since else None,
        "area": camera.area, "location": camera.location.model_dump() if camera.location else None,
        "anomalies": status.anomalies if status else [],
        "last_frame_at": status.last_frame_at.isoformat() if status and status.last_frame_at else None,
        "motion": status.motion if status else None, "people": status.people if status else None,
        "snapshot": f"/api/cameras/{camera.id}/snapshot.jpg",
    }


async def camera_views(store: Store, config: Config) -> list[dict[str, Any]]:
    statuses = await store.get_many([status_key(c.id) for c in config.cameras], CameraStatus)
    return [await camera_view(store, c, s, fetch=False) for c, s in zip(config.cameras, statuses, strict=True)]
