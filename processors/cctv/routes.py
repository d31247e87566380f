"""/api/cameras (states for the wall and the police) and /api/cameras/{id}/snapshot.jpg (the latest frame, or one
frame by its seq, as named by a CCTV event's frame_key)."""

from __future__ import annotations

from aiohttp import web

from command_center.api.app import runtime
from command_center.api.errors import bad_request, not_found
from command_center.api.routes import Routes, query_param
from command_center.config.base import by_id
from command_center.store.frames import frame_key, latest_frame_key
from processors.cctv.config import CameraConfig, CctvSettings
from processors.cctv.view import camera_views, one_camera_view

routes = Routes("cameras")
VIEWERS = ("operator", "oncall", "police")
CAMERA_ITEM = {"type": "object", "required": ["id", "name", "state", "since"],
               "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                              "state": {"enum": ["ok", "offline", "frozen", "black", "blurred", "covered", "moved"]},
                              "since": {"type": "string", "format": "date-time", "nullable": True},
                              "area": {"type": "string"},
                              "location": {"type": "object", "nullable": True,
                                           "properties": {"lat": {"type": "number"}, "long": {"type": "number"}}},
                              "anomalies": {"type": "array", "items": {"type": "string"}},
                              "reason": {"type": "string"},
                              "last_frame_at": {"type": "string", "format": "date-time", "nullable": True},
                              "motion": {"type": "number", "nullable": True},
                              "people": {"type": "integer", "nullable": True},
                              "snapshot": {"type": "string"}}}


def _camera(request: web.Request) -> CameraConfig:
    camera = by_id(CctvSettings.of(runtime(request).config).cameras).get(request.match_info["camera_id"])
    if camera is None:
        raise not_found(f"camera {request.match_info['camera_id']!r}")
    return camera


@routes.get("/api/cameras", roles=VIEWERS, summary="Every camera with its state, anomalies and activity",
            response={"type": "object", "properties": {"cameras": {"type": "array", "items": CAMERA_ITEM}}})
async def list_cameras(request: web.Request) -> web.Response:
    rt = runtime(request)
    return web.json_response({"cameras": await camera_views(rt.store, rt.config)})


@routes.get("/api/cameras/{camera_id}", roles=VIEWERS, summary="One camera", response=CAMERA_ITEM)
async def get_camera(request: web.Request) -> web.Response:
    return web.json_response(await one_camera_view(runtime(request).store, _camera(request)))


@routes.get("/api/cameras/{camera_id}/snapshot.jpg", roles=VIEWERS, query_token=True, response_type="image/jpeg",
            summary="The camera's latest frame, or the frame `frame` (its seq) while it is kept",
            params=(query_param("frame", "a frame's seq (the last part of a CCTV event's frame_key)",
                                {"type": "integer", "minimum": 0}),),
            statuses={404: "unknown camera, or no such frame (never received, or past its TTL)"})
async def snapshot(request: web.Request) -> web.Response:
    camera = _camera(request)
    wanted = request.query.get("frame")
    if wanted is not None and not wanted.isdigit():
        raise bad_request("frame must be a frame's seq (a whole number)")
    key = frame_key(camera.id, int(wanted)) if wanted is not None else latest_frame_key(camera.id)
    data = await runtime(request).store.get_bytes(key)
    if data is None:
        raise not_found(f"frame {wanted} of camera {camera.id!r}" if wanted else f"a frame of camera {camera.id!r}")
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
