"""/api/cameras (states for the wall and the police) and /api/cameras/{id}/snapshot.jpg (the latest frame, or one
frame by its seq, as named by a CCTV event's frame_key)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from command_center.api.app import principal, runtime, visible
from command_center.api.errors import bad_request, conflict, not_found
from command_center.api.routes import Routes, query_param
from command_center.bus import Message
from command_center.config.base import by_id
from command_center.events import encode, new_event
from command_center.store.frames import frame_key, latest_frame_key, latest_seqs
from processors.cctv.config import CameraConfig, CctvSettings
from processors.cctv.events import CCTV_SNAPSHOTS, CameraReference
from processors.cctv.live import LiveRelay
from processors.cctv.view import CameraStatus, camera_views, one_camera_view, status_key

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
                              "snapshot": {"type": "string"},
                              "baseline": {"enum": ["learning", "learned", "suspect"]},
                              "reference_at": {"type": "string", "format": "date-time", "nullable": True}}}


def _camera(request: web.Request) -> CameraConfig:
    camera = by_id(CctvSettings.of(runtime(request).config).cameras).get(request.match_info["camera_id"])
    if camera is None or not principal(request).sees(camera.area):
        raise not_found(f"camera {request.match_info['camera_id']!r}")  # one outside the scope is not said to exist
    return camera


@routes.get("/api/cameras", roles=VIEWERS, summary="Every camera with its state, anomalies and activity",
            response={"type": "object", "properties": {"cameras": {"type": "array", "items": CAMERA_ITEM}}})
async def list_cameras(request: web.Request) -> web.Response:
    rt = runtime(request)
    return web.json_response({"cameras": visible(request, await camera_views(rt.store, rt.config))})


@routes.get("/api/cameras/{camera_id}", roles=VIEWERS, summary="One camera", response=CAMERA_ITEM)
async def get_camera(request: web.Request) -> web.Response:
    return web.json_response(await one_camera_view(runtime(request).store, _camera(request)))


@routes.get("/api/cameras/{camera_id}/snapshot.jpg", roles=VIEWERS, response_type="image/jpeg",
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


BOUNDARY = "ccframe"
LIVE = web.AppKey("live", LiveRelay)
LIVE_FOR_S = 600  # a live view ends after ten minutes; the page opens a new one if still shown


@routes.on_build
def _relay(app: web.Application) -> None:
    app[LIVE] = LiveRelay()

    async def close(app: web.Application) -> None:
        app[LIVE].close()

    app.on_cleanup.append(close)


@routes.get("/api/cameras/{camera_id}/live.mjpg", roles=VIEWERS, in_openapi=False,
            response_type="multipart/x-mixed-replace",  # an endless stream, like /ws: the README describes it
            summary="The camera live, as MJPEG: one connection to a stream camera however many watch; a snapshot "
                    "camera's frames as ingest keeps them",
            statuses={404: "unknown camera"})
async def live(request: web.Request) -> web.StreamResponse:
    camera, rt = _camera(request), runtime(request)
    response = web.StreamResponse(headers={
        "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}", "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff"})
    await response.prepare(request)

    async def part(data: bytes) -> None:
        await response.write(b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                             % (BOUNDARY.encode(), len(data), data))

    loop = asyncio.get_running_loop()
    until = loop.time() + LIVE_FOR_S
    try:
        if camera.kind in ("mjpeg", "rtsp"):
            async with request.app[LIVE].watch(camera) as frames:
                while loop.time() < until:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(camera.timeout + 5):
                            frame = await frames.get()
                        await part(frame)
        else:
            sent = -1
            while loop.time() < until:
                seq = (await latest_seqs(rt.store, [camera.id])).get(camera.id, -1)
                data = await rt.store.get_bytes(frame_key(camera.id, seq)) if seq != sent and seq >= 0 else None
                if data is not None:
                    await part(data)
                    sent = seq
                await asyncio.sleep(min(1.0, camera.interval / 2))
    except ConnectionResetError:
        pass  # the viewer left
    return response


@routes.post("/api/cameras/{camera_id}/reference", roles=("operator",),
             summary="Mark the camera's latest frame as its good view: the detector learns it as the baseline",
             statuses={202: "accepted: the processor learns the frame as it reaches it, in order with the camera's frames",
                       404: "unknown camera", 409: "no frame of the camera is kept to learn from"})
async def mark_reference(request: web.Request) -> web.Response:
    camera, rt = _camera(request), runtime(request)
    seq = (await latest_seqs(rt.store, [camera.id])).get(camera.id)
    if seq is None or await rt.store.get_bytes(frame_key(camera.id, seq)) is None:
        raise conflict(f"no frame of camera {camera.id!r} is kept to learn from: wait for the next one")
    status = await rt.store.get(status_key(camera.id), CameraStatus)
    width = status.width if status else 0  # 0: decoded at full size
    event = new_event("id.go.cc.cctv.reference", source="/api", subject=camera.id, time=rt.clock.now(),
                      data=CameraReference(camera_id=camera.id, frame_key=frame_key(camera.id, seq), seq=seq,
                                           width=width, by=principal(request).name))
    await rt.bus.publish([Message(CCTV_SNAPSHOTS, event.key, encode(event))])
    return web.json_response({"accepted": event.id, "camera": camera.id, "frame": seq}, status=202)
