"""The CCTV processor: snapshot events in, camera states in Redis, anomalies and activity on cc.cctv.events.

A batch's frames are fetched from the store in one round trip and measured in a thread pool, all at once
(decoding is the costly part and releases the GIL); then each event is judged in order against its
camera's memory, which lives in Redis so that any instance can take a camera over. Offline is a timer per
camera, moved forward by every frame; before it fires it checks the camera's newest stored frame, so a
processor that is behind on its input never declares a camera offline that is sending frames.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import cv2
import msgspec

from command_center.config import Config
from command_center.config.base import by_id
from command_center.events import Event, derive_id, new_event
from command_center.events.types import Location
from command_center.runtime import Context, Processor
from command_center.store.frames import latest_seqs
from processors.cctv.config import CameraConfig, CctvSettings
from processors.cctv.decide import (
    AnomalyMark,
    CameraMemory,
    Change,
    failed,
    mark_reference,
    observe,
    went_offline,
)
from processors.cctv.events import (
    CCTV_EVENTS,
    CCTV_SNAPSHOTS,
    CameraActivity,
    CameraAnomaly,
    CameraReference,
    CameraSnapshot,
    SnapshotFailed,
)
from processors.cctv.measure import Measurements, measure
from processors.cctv.view import CAMERAS, status_key, status_of

logger = logging.getLogger(__name__)

OFFLINE_TIMER = "cctv-offline"
OFFLINE_REPEAT = 10  # an offline camera's timer comes round again after this many offline periods
MARKS = 6  # anomalies remembered per camera for its detail view


def memory_key(camera_id: str) -> str:
    return f"cc:cctv:memory:{camera_id}"


def offline_after(camera: CameraConfig) -> timedelta:
    return timedelta(seconds=max(camera.detect.offline_intervals * camera.interval, camera.detect.offline_min_s))


def _counts_people(camera: CameraConfig, seq: int) -> bool:
    """Every `people_every`th frame, by capture time, so any instance picks the same frames."""
    return camera.count_people and int(seq / (camera.interval * 1000)) % camera.people_every == 0


@asynccontextmanager
async def analysis_pool(config: Config) -> AsyncIterator[ThreadPoolExecutor]:
    """Worker threads for decoding and measuring; OpenCV's own threads are off, the pool is the parallelism."""
    cv2.setNumThreads(1)
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="cctv-analysis")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


async def prepare(events: Sequence[Event], ctx: Context) -> Mapping[str, Measurements | Exception]:
    """Fetch and measure every frame of the batch in parallel; a frame that is gone or broken maps to its error."""
    cameras = by_id(CctvSettings.of(ctx.config).cameras)
    snapshots = [e for e in events if isinstance(e.data, CameraSnapshot | CameraReference)
                 and e.data.camera_id in cameras]
    if not snapshots:
        return {}
    raws = await ctx.state.store.many_bytes([e.data.frame_key for e in snapshots])
    loop = asyncio.get_running_loop()
    out: dict[str, Measurements | Exception] = {}
    jobs: dict[str, asyncio.Future[Measurements]] = {}
    for event, raw in zip(snapshots, raws, strict=True):
        snap: CameraSnapshot | CameraReference = event.data
        if raw is None:
            out[event.id] = LookupError(f"frame {snap.frame_key} expired before it was analysed")
            continue
        people = isinstance(snap, CameraSnapshot) and _counts_people(cameras[snap.camera_id], snap.seq)
        jobs[event.id] = loop.run_in_executor(ctx.resources, _measure, raw, snap.width, people)
    results = await asyncio.gather(*jobs.values(), return_exceptions=True)
    for event_id, result in zip(jobs, results, strict=True):
        out[event_id] = result if isinstance(result, Measurements | Exception) else RuntimeError(str(result))
    return out


def _measure(raw: bytes, width: int, people: bool) -> Measurements:
    return measure(raw, width, people=people)


def _location(camera: CameraConfig) -> Location | None:
    return Location(lat=camera.location.lat, long=camera.location.long) if camera.location else None


def _emit(ctx: Context, camera: CameraConfig, memory: CameraMemory, changes: list[Change], *, at: datetime,
          cause: str, frame_key: str = "", metrics: dict[str, float] | None = None) -> None:
    for change in changes:
        ctx.emit(CCTV_EVENTS, new_event(
            f"id.go.cc.cctv.{change.kind}", id=derive_id("cctv", camera.id, change.kind, change.active, cause),
            source="/processors/cctv", subject=camera.id, time=at,
            data=CameraAnomaly(camera_id=camera.id, kind=change.kind, active=change.active, state=memory.state,
                               since=change.since, area=camera.area, location=_location(camera),
                               frame_key=frame_key, metrics=metrics or {}),
        ))
        logger.info("camera anomaly %s", "raised" if change.active else "cleared",
                    extra={"camera": camera.id, "kind": change.kind, "state": memory.state, "metrics": metrics})


def _write(ctx: Context, camera: CameraConfig, memory: CameraMemory, frame_key: str = "") -> None:
    ctx.state.put(memory_key(camera.id), memory)
    ctx.state.put(status_key(camera.id), status_of(memory, frame_key, warmup=camera.detect.warmup))


async def handle(event: Event, ctx: Context) -> None:
    data = event.data
    if not isinstance(data, CameraSnapshot | SnapshotFailed | CameraReference):
        return
    camera = by_id(CctvSettings.of(ctx.config).cameras).get(data.camera_id)
    if camera is None:
        logger.warning("frame of an unknown camera ignored", extra={"camera": data.camera_id, "source": event.source})
        return
    memory = await ctx.state.get(memory_key(camera.id), CameraMemory) or CameraMemory(camera_id=camera.id)
    if isinstance(data, SnapshotFailed):
        _write(ctx, camera, failed(memory, f"{data.reason}: {data.detail}"))
        return
    measured = ctx.prepared
    if isinstance(data, CameraReference):
        _reference(ctx, camera, memory, data, measured, event)
        return
    if not isinstance(measured, Measurements):
        logger.warning("frame not analysed", extra={"camera": camera.id, "frame": data.frame_key,
                                                    "reason": str(measured)})
        _write(ctx, camera, failed(memory, f"not_an_image: {measured}"))
        return
    verdict = observe(camera.detect, memory, measured, seq=data.seq, at=data.captured_at, sha256=data.sha256,
                      relearn_after=max(1, int(camera.detect.relearn_after_s / camera.interval)))
    if verdict.memory is memory:
        return  # an old or repeated frame
    raised = [AnomalyMark(kind=c.kind, at=data.captured_at, frame_key=data.frame_key)
              for c in verdict.changes if c.active]
    after = msgspec.structs.replace(verdict.memory, width=data.width,
                                    marks=[*verdict.memory.marks, *raised][-MARKS:] if raised else verdict.memory.marks)
    _write(ctx, camera, after, data.frame_key)
    ctx.state.schedule(OFFLINE_TIMER, camera.id, data.captured_at + offline_after(camera))
    _emit(ctx, camera, after, verdict.changes, at=data.captured_at, cause=event.id,
          frame_key=data.frame_key, metrics=verdict.metrics)
    if verdict.activity:
        ctx.emit(CCTV_EVENTS, new_event(
            "id.go.cc.cctv.activity", id=derive_id("cctv-activity", event.id), source="/processors/cctv",
            subject=camera.id, time=data.captured_at,
            data=CameraActivity(camera_id=camera.id, motion=round(verdict.memory.motion, 4),
                                people=verdict.memory.people or 0, frame_key=data.frame_key)))


def _reference(ctx: Context, camera: CameraConfig, memory: CameraMemory, data: CameraReference,
               measured: object, event: Event) -> None:
    """An operator's good view: learned as the whole baseline; the tamper anomalies judged against the old one clear."""
    if not isinstance(measured, Measurements):
        logger.warning("reference frame not analysed", extra={"camera": camera.id, "frame": data.frame_key,
                                                              "reason": str(measured)})
        return
    after, changes = mark_reference(memory, measured, event.time, camera.detect)
    _write(ctx, camera, after, data.frame_key if data.seq >= memory.seq else "")
    _emit(ctx, camera, after, changes, at=event.time, cause=event.id, frame_key=data.frame_key,
          metrics={"reference": 1.0})
    logger.info("camera reference view marked", extra={"camera": camera.id, "frame": data.frame_key, "by": data.by})


async def tick(ctx: Context) -> None:
    """Cameras whose offline timer has passed with no frame captured since: raise offline once."""
    now = ctx.now()
    cameras = by_id(CctvSettings.of(ctx.config).cameras)
    ctx.state.schedule_all_if_absent(OFFLINE_TIMER, {c.id: now + offline_after(c) for c in CctvSettings.of(ctx.config).cameras})
    due = await ctx.state.claim_due(OFFLINE_TIMER, now)
    if not due:
        return
    newest = await latest_seqs(ctx.state.store, due)
    for camera_id in due:
        camera = cameras.get(camera_id)
        if camera is None:
            ctx.state.cancel(OFFLINE_TIMER, camera_id)
            continue
        seen = datetime.fromtimestamp(newest[camera_id] / 1000, UTC) if camera_id in newest else None
        if seen is not None and seen + offline_after(camera) > now:
            ctx.state.schedule(OFFLINE_TIMER, camera_id, seen + offline_after(camera))  # frames are on their way
            continue
        ctx.state.schedule(OFFLINE_TIMER, camera_id, now + OFFLINE_REPEAT * offline_after(camera))
        memory = await ctx.state.get(memory_key(camera_id), CameraMemory) or CameraMemory(camera_id=camera_id)
        after, changes = went_offline(memory, now, newest=seen)
        if changes:
            _write(ctx, camera, after)
            _emit(ctx, camera, after, changes, at=now, cause=f"offline|{camera_id}|{memory.seq}",
                  metrics={"silent_s": (now - (memory.at or now)).total_seconds()})


def _state_keys(event: Event, config: Config) -> tuple[str, ...]:
    return (memory_key(event.subject),)


CCTV = Processor(name="cctv", view=CAMERAS, inputs=(CCTV_SNAPSHOTS,), outputs=(CCTV_EVENTS,), handle=handle, tick=tick,
                 tick_every=1.0, state_keys=_state_keys, prepare=prepare, resources=analysis_pool, max_batch=64,
                 description="offline, frozen, black, blurred, covered and moved cameras; motion and people")

