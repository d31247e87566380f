"""ingest-cctv: polls this shard's snapshot cameras, reads its stream cameras, and publishes every frame.

A frame's bytes go to the store under a key with a TTL (the claim check) and become the camera's latest
frame; a snapshot event naming that key goes to cc.cctv.snapshots. A poll that yields no frame publishes a
snapshot_failed event with the reason. A camera that hangs costs its own poll slot until its timeout, never
another camera's, and ingest instances split the cameras between them by a stable hash of the id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from prometheus_client import Counter, Histogram

from command_center.bus import Bus
from command_center.clock import utcnow
from command_center.config import Config
from command_center.errors import Unavailable
from command_center.events import Event, new_event
from command_center.runtime.host import Runtime
from command_center.store import Store
from command_center.store.frames import put_frame
from ingest.cctv.snapshot import Failure, Frame, fetch_snapshot
from ingest.cctv.stream import StreamReader
from ingest.publisher import Publisher
from ingest.schedule import Scheduler
from processors.cctv.config import CameraConfig, CctvSettings
from processors.cctv.events import CCTV_SNAPSHOTS, CameraSnapshot, SnapshotFailed

logger = logging.getLogger(__name__)

POLLS = Counter("cc_cctv_polls_total", "Camera polls and stream frames by outcome", ["outcome"])
POLLS_LATE = Counter("cc_cctv_polls_late_total", "Polls started more than a second after they were due")
FRAME_BYTES = Histogram("cc_cctv_frame_bytes", "Size of stored frames",
                        buckets=(16e3, 64e3, 128e3, 256e3, 512e3, 1e6, 2e6, 4e6, 8e6))
STREAM_QUEUE = 1000


def snapshot_event(camera: CameraConfig, frame: Frame, key: str, seq: int, sha256: str) -> Event:
    return new_event("id.go.cc.cctv.snapshot", source=f"/ingest/cctv/{camera.id}", subject=camera.id,
                     time=frame.captured_at,
                     data=CameraSnapshot(camera_id=camera.id, frame_key=key, seq=seq, size=len(frame.data),
                                         width=frame.width, height=frame.height, captured_at=frame.captured_at,
                                         sha256=sha256))


def failure_event(camera: CameraConfig, failure: Failure) -> Event:
    return new_event("id.go.cc.cctv.snapshot_failed", source=f"/ingest/cctv/{camera.id}", subject=camera.id,
                     time=utcnow(), data=SnapshotFailed(camera_id=camera.id, reason=failure.reason,
                                                        detail=failure.detail[:1000], http_status=failure.http_status))


class CctvIngest:
    """An async context manager that owns the poll scheduler, the stream readers and the publisher."""

    def __init__(self, config: Config, bus: Bus, store: Store, *, publisher: Publisher | None = None) -> None:
        self.config = config
        self.store = store
        self.publisher = publisher or Publisher(bus, service="ingest-cctv")
        self._own_publisher = publisher is None
        self.cameras = [c for c in CctvSettings.of(config).cameras if config.ingest.owns(c.id)]
        snapshots = [(c, c.interval) for c in self.cameras if c.kind == "snapshot"]
        self.scheduler = Scheduler(snapshots, self.poll, concurrency=config.ingest.concurrency, name="ingest-cctv",
                                   on_late=POLLS_LATE.inc)
        self._digests = {c.id: aiohttp.DigestAuthMiddleware(c.username, c.password)
                         for c in self.cameras if c.auth == "digest"}
        self._readers = [StreamReader(c, self._from_thread, jpeg_quality=CctvSettings.of(config).cctv.jpeg_quality)
                         for c in self.cameras if c.kind != "snapshot"]
        self._last_seq: dict[str, int] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._streamed: asyncio.Queue[tuple[CameraConfig, Frame | Failure]] = asyncio.Queue(STREAM_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []

    async def ready(self) -> tuple[bool, str]:
        return await self.publisher.ready()

    async def __aenter__(self) -> CctvIngest:
        if self._own_publisher:
            await self.publisher.__aenter__()
        self._loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=self.config.ingest.concurrency, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                                              auto_decompress=False)
        self._tasks = [asyncio.create_task(self.scheduler.run(), name="ingest-cctv-polls"),
                       asyncio.create_task(self._drain_streams(), name="ingest-cctv-streams")]
        for reader in self._readers:
            reader.start()
        logger.info("cameras scheduled", extra={"cameras": len(self.cameras), "streams": len(self._readers),
                                                "shard": self.config.ingest.shard})
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.scheduler.stop()
        for reader in self._readers:
            reader.stop()
        await self._tasks[0]
        self._tasks[1].cancel()
        await asyncio.gather(self._tasks[1], return_exceptions=True)
        for reader in self._readers:
            if not await asyncio.to_thread(reader.join, 0.5):
                logger.info("stream reader still in a read; it ends at its timeout", extra={"camera": reader.camera.id})
        if self._session is not None:
            await self._session.close()
        if self._own_publisher:
            await self.publisher.__aexit__(None, None, None)

    async def poll(self, camera: CameraConfig) -> None:
        """Poll one snapshot camera and publish what came of it."""
        assert self._session is not None
        await self.accept(camera, await fetch_snapshot(self._session, camera, self._digests.get(camera.id)))

    async def accept(self, camera: CameraConfig, result: Frame | Failure) -> None:
        """Store a frame and publish its snapshot event, or publish the failure."""
        if isinstance(result, Failure):
            POLLS.labels(result.reason).inc()
            logger.info("camera poll failed", extra={"camera": camera.id, "reason": result.reason,
                                                     "detail": result.detail})
            self.publisher.send(CCTV_SNAPSHOTS, failure_event(camera, result))
            return
        seq = max(int(result.captured_at.timestamp() * 1000), self._last_seq.get(camera.id, 0) + 1)
        self._last_seq[camera.id] = seq
        try:
            key = await put_frame(self.store, camera.id, seq, result.data, ttl_s=CctvSettings.of(self.config).cctv.frame_ttl_s,
                                  latest_ttl_s=CctvSettings.of(self.config).cctv.latest_ttl_s)
        except Unavailable as err:
            POLLS.labels("store_unavailable").inc()
            logger.warning("frame not stored: the store is unavailable", extra={"camera": camera.id, "error": str(err)})
            return
        POLLS.labels("ok").inc()
        FRAME_BYTES.observe(len(result.data))
        digest = await asyncio.to_thread(hashlib.sha256, result.data) if len(result.data) > 1 << 20 else \
            hashlib.sha256(result.data)
        self.publisher.send(CCTV_SNAPSHOTS, snapshot_event(camera, result, key, seq, digest.hexdigest()))

    def _from_thread(self, camera: CameraConfig, result: Frame | Failure) -> None:
        """Called by a stream reader's thread: hand the frame to the event loop, dropping it if the loop lags."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._enqueue, camera, result)

    def _enqueue(self, camera: CameraConfig, result: Frame | Failure) -> None:
        try:
            self._streamed.put_nowait((camera, result))
        except asyncio.QueueFull:
            POLLS.labels("dropped").inc()

    async def _drain_streams(self) -> None:
        while True:
            camera, result = await self._streamed.get()
            await self.accept(camera, result)


@asynccontextmanager
async def ingest_cctv_service(rt: Runtime) -> AsyncIterator[CctvIngest]:
    """Polls this shard's snapshot cameras and reads its stream cameras; frames go to the store, events to Kafka."""
    ingest = CctvIngest(rt.config, rt.bus, rt.store)
    rt.readiness.add("ingest-cctv", ingest.ready)
    async with ingest:
        yield ingest
