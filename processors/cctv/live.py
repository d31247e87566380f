"""Live view of a camera for the wall's detail view: one connection to the camera however many watch.

A stream camera (MJPEG, RTSP) is read by one StreamReader per API process, started when its first viewer
arrives and stopped a few seconds after the last one leaves; each frame (the camera's own JPEG for MJPEG,
re-encoded for H.264/H.265) is handed to every viewer's queue, which keeps only the newest frame, so a slow
viewer skips frames instead of holding the camera or the others back. A snapshot camera is not pulled at all
for its viewers: they are sent the frames ingest already keeps, as each arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from ingest.cctv.snapshot import Failure, Frame
from ingest.cctv.stream import StreamReader
from processors.cctv.config import CameraConfig

logger = logging.getLogger(__name__)
LIVE_INTERVAL_S = 0.2  # five frames a second to a viewer: enough to watch traffic, light on the camera
LINGER_S = 5.0  # a reader outlives its last viewer this long (a viewer reloading the page keeps it)


class _Feed:
    def __init__(self, camera: CameraConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.viewers: set[asyncio.Queue[bytes]] = set()
        self.loop = loop
        self.reader = StreamReader(camera.model_copy(update={"interval": LIVE_INTERVAL_S}), self._deliver)
        self.stopper: asyncio.TimerHandle | None = None
        self.reader.start()

    def _deliver(self, camera: CameraConfig, result: Frame | Failure) -> None:  # from the reader's thread
        if isinstance(result, Frame):
            self.loop.call_soon_threadsafe(self._fan_out, result.data)

    def _fan_out(self, data: bytes) -> None:
        for queue in self.viewers:
            if queue.full():
                queue.get_nowait()  # the newest frame only
            queue.put_nowait(data)


class LiveRelay:
    """The API process's stream readers, shared by every viewer of a camera."""

    def __init__(self) -> None:
        self._feeds: dict[str, _Feed] = {}

    @property
    def connections(self) -> int:
        return len(self._feeds)

    @contextlib.asynccontextmanager
    async def watch(self, camera: CameraConfig) -> AsyncIterator[asyncio.Queue[bytes]]:
        feed = self._feeds.get(camera.id)
        if feed is None:
            feed = self._feeds[camera.id] = _Feed(camera, asyncio.get_running_loop())
            logger.info("live view opened", extra={"camera": camera.id})
        if feed.stopper is not None:
            feed.stopper.cancel()
            feed.stopper = None
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        feed.viewers.add(queue)
        try:
            yield queue
        finally:
            feed.viewers.discard(queue)
            if not feed.viewers:
                feed.stopper = feed.loop.call_later(LINGER_S, self._close, camera.id)

    def _close(self, camera_id: str) -> None:
        feed = self._feeds.get(camera_id)
        if feed is not None and not feed.viewers:
            feed.reader.stop()
            del self._feeds[camera_id]
            logger.info("live view closed", extra={"camera": camera_id})

    def close(self) -> None:
        for feed in self._feeds.values():
            feed.reader.stop()
        self._feeds.clear()
