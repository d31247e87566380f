"""Simulated cameras for the demo, on a real local HTTP listener, and a stand-in for the police endpoint.

`/cam/{id}.jpg` answers one rendered JPEG (a snapshot camera); `/cam/{id}.mjpg` streams them as
multipart/x-mixed-replace (an MJPEG camera). Each camera is its own street scene, with moving traffic and
pedestrians and a day that turns to night and back every DAY_S seconds. The URL names how a camera
misbehaves: `?fault=blurred&offset=60` makes it blurred for FAULT_S seconds in every CYCLE_S, starting
`offset` seconds into the cycle; `offline` refuses to answer, `frozen` serves the same JPEG again.
`POST /police/events` logs each CCTV event the police feed delivers and checks its signature.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from command_center.signing import SIGNATURE, TIMESTAMP, verify
from command_center.testing.servers import free_port
from processors.cctv.scenes import FAULTS, Scene, daylight, encode

logger = logging.getLogger(__name__)

CYCLE_S = 300
FAULT_S = 60
DAY_S = 1200
MJPEG_FPS = 2.0


@dataclass
class _Camera:
    scene: Scene
    frozen: bytes | None = None


class SimulatedCameras:
    """An async context manager serving the simulated cameras on `port`."""

    def __init__(self, *, port: int | None = None, police_secret: str = "") -> None:
        self.port = port or free_port()
        self.police_secret = police_secret
        self.police_received = 0
        self._cameras: dict[str, _Camera] = {}
        app = web.Application()
        app.router.add_get("/cam/{camera}.jpg", self._snapshot)
        app.router.add_get("/cam/{camera}.mjpg", self._stream)
        app.router.add_post("/police/events", self._police)
        self._runner = web.AppRunner(app, access_log=None)

    async def __aenter__(self) -> SimulatedCameras:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        logger.info("simulated cameras up", extra={"port": self.port})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    def _camera(self, camera_id: str) -> _Camera:
        if camera_id not in self._cameras:
            self._cameras[camera_id] = _Camera(Scene(zlib.crc32(camera_id.encode()) % 10_000, cars=3, people=3))
        return self._cameras[camera_id]

    @staticmethod
    def fault_now(request: web.Request, now: float) -> str | None:
        fault = request.query.get("fault")
        if fault not in (*FAULTS, "offline"):
            return None
        offset = float(request.query.get("offset", "0") or 0)
        return fault if (now - offset) % CYCLE_S < FAULT_S else None

    async def _frame(self, request: web.Request) -> bytes | None:
        """The camera's current JPEG, or None while it is offline."""
        camera = self._camera(request.match_info["camera"])
        now = time.time()
        fault = self.fault_now(request, now)
        if fault == "offline":
            return None
        if fault == "frozen" and camera.frozen is not None:
            return camera.frozen
        image = await asyncio.to_thread(camera.scene.render, now, light=daylight(now, DAY_S),
                                        fault=fault if fault != "frozen" else None)
        data = await asyncio.to_thread(encode, image, 80)
        camera.frozen = data if fault == "frozen" else None
        return data

    async def _snapshot(self, request: web.Request) -> web.Response:
        data = await self._frame(request)
        if data is None:
            raise web.HTTPServiceUnavailable(text="camera offline")
        return web.Response(body=data, content_type="image/jpeg")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"})
        await response.prepare(request)
        try:
            while True:
                data = await self._frame(request)
                if data is None:
                    break  # the camera drops its stream; the reader reconnects with backoff
                await response.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                                     + data + b"\r\n")
                await asyncio.sleep(1 / MJPEG_FPS)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def _police(self, request: web.Request) -> web.Response:
        body = await request.read()
        problem = verify(self.police_secret, body, request.headers.get(SIGNATURE, ""),
                         request.headers.get(TIMESTAMP, ""))
        if problem:
            logger.warning("police stand-in refused an event", extra={"reason": problem})
            return web.json_response({"error": problem}, status=401)
        self.police_received += 1
        logger.info("police stand-in received a CCTV event", extra={"event_id": request.headers.get("X-CC-Event-Id")})
        return web.json_response({"ok": True})


DEMO_POLICE_SECRET = "demo-police-secret"  # demo.yaml's police.secret


@asynccontextmanager
async def demo_cameras(workdir: Path, api_url: str) -> AsyncIterator[dict[str, str]]:
    """The demo's simulated cameras and police endpoint; demo.yaml's {cams}."""
    async with SimulatedCameras(police_secret=DEMO_POLICE_SECRET) as cameras:
        yield {"cams": str(cameras.port)}
