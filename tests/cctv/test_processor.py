"""The CCTV pipeline end to end over both adapters (in-process, and real Redis with the Kafka-protocol broker):
local HTTP cameras and an MJPEG stream through ingest-cctv and the cctv processor. Each anomaly kind is
raised and cleared once; a healthy camera whose light fades or whose street is busy raises nothing; a
replay changes nothing; another instance takes a camera over with its learned baseline."""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web

from command_center.bus import Message
from command_center.clock import ManualClock, SystemClock
from command_center.config import Config, parse_config
from command_center.events import Event, decode, new_event
from command_center.events import encode as encode_event
from command_center.runtime import ProcessorRunner
from command_center.store.frames import put_frame
from command_center.testing.servers import local_app
from command_center.topics import DEADLETTER
from ingest.cctv.service import CctvIngest
from processors.cctv import CCTV
from processors.cctv.decide import CameraMemory
from processors.cctv.events import (
    CCTV_EVENTS,
    CCTV_SNAPSHOTS,
    CameraActivity,
    CameraAnomaly,
    CameraReference,
    CameraSnapshot,
)
from processors.cctv.processor import memory_key
from processors.cctv.scenes import Scene, sequence
from processors.cctv.view import CameraStatus, status_key
from tests.conftest import Backend
from tests.helpers import T0, collect, drain, eventually, publish

FRAMES, ONSET, UNTIL = 90, 13, 23  # a long healthy tail: a script that ran out would freeze
SCRIPTS = {  # camera -> (fault, light fading from, to)
    "cam-frozen": ("frozen", (1.0, 1.0)), "cam-black": ("black", (1.0, 1.0)), "cam-blurred": ("blurred", (1.0, 1.0)),
    "cam-covered": ("covered", (1.0, 1.0)), "cam-moved": ("moved", (1.0, 1.0)), "cam-offline": ("offline", (1.0, 1.0)),
    "cam-dusk": (None, (1.0, 0.35)), "cam-busy": (None, (0.9, 0.9)),
}


class ScriptedCameras:
    """Each camera serves its script one frame per request, then its last frame again; `offline` answers 503."""

    def __init__(self) -> None:
        self.frames: dict[str, list[bytes]] = {}
        for i, (camera, (fault, light)) in enumerate(SCRIPTS.items()):
            scene = Scene(100 + i, 320, 180, cars=6 if camera == "cam-busy" else 3,
                          people=5 if camera == "cam-busy" else 2)
            self.frames[camera] = list(sequence(scene, frames=FRAMES, interval=10, light=light, onset=ONSET,
                                                until=UNTIL, fault=None if fault == "offline" else fault))
        self.stream = list(sequence(Scene(200, 320, 180), frames=2 * FRAMES, interval=10, light=(1.0, 0.6)))
        self.served: dict[str, int] = defaultdict(int)

    async def snapshot(self, request: web.Request) -> web.Response:
        camera = request.match_info["camera"]
        n = self.served[camera]
        self.served[camera] += 1
        if SCRIPTS[camera][0] == "offline" and ONSET <= n < UNTIL + 6:
            return web.Response(status=503, text="offline")
        return web.Response(body=self.frames[camera][min(n, FRAMES - 1)], content_type="image/jpeg")

    async def mjpeg(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=b"})
        await response.prepare(request)
        try:
            for i in range(10_000):
                data = self.stream[min(i // 2, len(self.stream) - 1)]
                await response.write(b"--b\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                                     + data + b"\r\n")
                await asyncio.sleep(0.1)
        except ConnectionError:
            pass
        return response


@pytest.fixture
async def cameras() -> AsyncIterator[tuple[ScriptedCameras, int]]:
    scripted = ScriptedCameras()
    app = web.Application()
    app.router.add_get("/{camera}.jpg", scripted.snapshot)
    app.router.add_get("/stream.mjpg", scripted.mjpeg)
    async with local_app(app) as url:
        yield scripted, int(url.rsplit(":", 1)[1])


def pipeline_config(port: int) -> Config:
    detect = {"offline_min_s": 1, "offline_intervals": 3}
    cams = [{"id": c, "name": c, "url": f"http://127.0.0.1:{port}/{c}.jpg", "interval": 0.25, "timeout": 2,
             "area": "mlati", "detect": detect} for c in SCRIPTS]
    cams.append({"id": "cam-stream", "name": "stream", "url": f"http://127.0.0.1:{port}/stream.mjpg",
                 "kind": "mjpeg", "interval": 0.25, "timeout": 3, "detect": detect})
    return parse_config({"cameras": cams, "cctv": {"frame_ttl_s": 60}}, env={})


def anomalies(events: list[Event]) -> dict[str, list[tuple[str, bool]]]:
    out: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for e in events:
        if isinstance(e.data, CameraAnomaly):
            out[e.subject].append((e.data.kind, e.data.active))
    return out


async def test_each_anomaly_is_raised_and_cleared_from_real_cameras(
        backend: Backend, cameras: tuple[ScriptedCameras, int]) -> None:
    scripted, port = cameras
    config = pipeline_config(port)
    expected = {c: [(fault, True), (fault, False)] for c, (fault, _) in SCRIPTS.items() if fault}
    seen: list[Event] = []
    consumer = backend.bus.consumer("watch", [CCTV_EVENTS])
    await consumer.start()

    async def all_cleared() -> bool:
        seen.extend(decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.2))
        return all(anomalies(seen).get(c, [])[-1:] == [(f, False)] for c, [_, (f, _)] in expected.items())

    async with ProcessorRunner(CCTV, bus=backend.bus, store=backend.store, config=config, clock=SystemClock(),
                               poll_timeout=0.1), \
            CctvIngest(config, backend.bus, backend.store):
        await eventually(all_cleared, within=60)
        await asyncio.sleep(1.0)  # anything more would show now
        seen.extend(decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.5))
    await consumer.stop()
    found = anomalies(seen)
    assert {c: found[c] for c in expected} == expected
    assert found.get("cam-dusk", []) == [] and found.get("cam-busy", []) == [] and found.get("cam-stream", []) == []
    covered = next(e for e in seen if isinstance(e.data, CameraAnomaly) and e.data.kind == "covered" and e.data.active)
    assert covered.data.area == "mlati" and covered.data.metrics["lost_share"] >= 0.6
    assert covered.data.frame_key.startswith("frame:cam-covered:")
    assert await backend.store.get_bytes(covered.data.frame_key) is not None  # the frame that raised it, for evidence
    marked = await backend.store.get(status_key("cam-covered"), CameraStatus)  # the detail view's recent anomalies
    assert marked is not None and ("covered", covered.data.frame_key) in [(m.kind, m.frame_key) for m in marked.marks]
    assert any(isinstance(e.data, CameraActivity) for e in seen)
    status = await backend.store.get(status_key("cam-stream"), CameraStatus)
    assert status is not None and status.state == "ok" and status.last_frame_at is not None


async def camera_anomalies(backend: Backend, count: int) -> list[Event]:
    """Anomalies (activity aside) on cc.cctv.events from the start, once `count` have arrived."""
    def only(events: list[Event]) -> list[Event]:
        return [e for e in events if isinstance(e.data, CameraAnomaly)]
    return only(await collect(backend.bus, CCTV_EVENTS, group="reader", enough=lambda es: len(only(es)) >= count,
                              within=30))


def snapshot_events(camera: str, frames: list[bytes]) -> list[tuple[Event, bytes]]:
    out = []
    for i, data in enumerate(frames):
        at = T0 + timedelta(seconds=10 * i)
        seq = int(at.timestamp() * 1000)
        out.append((new_event("id.go.cc.cctv.snapshot", source="/tests", subject=camera, time=at, id=f"{camera}-{i}",
                              data=CameraSnapshot(camera_id=camera, frame_key=f"frame:{camera}:{seq}", seq=seq,
                                                  size=len(data), width=320, height=180, captured_at=at,
                                                  sha256=hashlib.sha256(data).hexdigest())), data))
    return out


async def feed(backend: Backend, items: list[tuple[Event, bytes]]) -> None:
    for event, data in items:
        await put_frame(backend.store, event.subject, event.data.seq, data, ttl_s=600, latest_ttl_s=600)
    await publish(backend.bus, CCTV_SNAPSHOTS, [e for e, _ in items])


async def test_another_instance_takes_a_camera_over_and_a_replay_changes_nothing(backend: Backend) -> None:
    config = parse_config({"cameras": [{"id": "cam-1", "name": "c", "url": "http://127.0.0.1:1/x.jpg"}]}, env={})
    items = snapshot_events("cam-1", list(sequence(Scene(300, 320, 180), frames=24, interval=10, fault="covered",
                                                   onset=14)))
    clock = ManualClock(T0)
    await feed(backend, items[:12])
    async with ProcessorRunner(CCTV, bus=backend.bus, store=backend.store, config=config, clock=clock,
                               poll_timeout=0.1, run_ticks=False, group="cctv"):
        await eventually(lambda: _seen(backend, "cam-1", 12))
    await feed(backend, items[12:] + items[5:20])  # the rest, and a producer's retry of some frames
    async with ProcessorRunner(CCTV, bus=backend.bus, store=backend.store, config=config, clock=clock,
                               poll_timeout=0.1, run_ticks=False, group="cctv"):
        out = await camera_anomalies(backend, 1)
    raised = [(e.data.kind, e.data.active, e.time) for e in out]
    assert raised == [("covered", True, T0 + timedelta(seconds=160))]  # frame 16: no second warm-up, no repeat


async def _seen(backend: Backend, camera: str, frames: int) -> bool:
    memory = await backend.store.get(memory_key(camera), CameraMemory)
    return memory is not None and memory.learned >= frames - 1


async def test_offline_is_a_timer_on_the_test_clock(backend: Backend) -> None:
    config = parse_config({"cameras": [{"id": "cam-1", "name": "c", "url": "http://127.0.0.1:1/x.jpg",
                                        "interval": 10}]}, env={})
    items = snapshot_events("cam-1", list(sequence(Scene(301, 320, 180), frames=4, interval=10)))
    await feed(backend, items[:3])
    clock = ManualClock(T0 + timedelta(seconds=20))
    runner = ProcessorRunner(CCTV, bus=backend.bus, store=backend.store, config=config, clock=clock,
                             poll_timeout=0.1, run_ticks=False)
    async with runner:
        await eventually(lambda: _seen(backend, "cam-1", 3))
        await backend.store.redis.delete("frame:cam-1:seq")  # no newer frame waiting either
        for seconds in (49, 51, 60, 200):  # offline after 3 intervals of 10 s from the last frame, at 20 s
            clock.set(T0 + timedelta(seconds=seconds))
            await runner.tick()
        await feed(backend, items[3:])
        out = await camera_anomalies(backend, 2)
    changes = [(e.data.kind, e.data.active, e.time) for e in out]
    assert changes == [("offline", True, T0 + timedelta(seconds=51)), ("offline", False, T0 + timedelta(seconds=30))]


async def test_a_broken_frame_or_event_does_not_stop_the_camera(backend: Backend) -> None:
    config = parse_config({"cameras": [{"id": "cam-1", "name": "c", "url": "http://127.0.0.1:1/x.jpg"}]}, env={})
    items = snapshot_events("cam-1", list(sequence(Scene(302, 320, 180), frames=14, interval=10, fault="black",
                                                   onset=8)))
    broken = items[4][0]
    await feed(backend, items[:4])
    await put_frame(backend.store, "cam-1", broken.data.seq, b"\xff\xd8 not really a jpeg \xff\xd9", ttl_s=60,
                    latest_ttl_s=60)
    await backend.bus.publish([Message(CCTV_SNAPSHOTS, b"cam-1", b'{"specversion": "0.3"}'),
                               Message(CCTV_SNAPSHOTS, b"cam-1", encode_event(broken))])
    await feed(backend, items[5:])
    async with ProcessorRunner(CCTV, bus=backend.bus, store=backend.store, config=config, clock=ManualClock(T0),
                               poll_timeout=0.1, run_ticks=False):
        out = await camera_anomalies(backend, 1)
        dead = await drain(backend.bus, DEADLETTER, group="reader", expect=1)
    assert [(e.data.kind, e.data.active) for e in out] == [("black", True)]
    assert len(dead) == 1 and "missing required field" in dead[0].data.reason
    status = await backend.store.get(status_key("cam-1"), CameraStatus)
    assert status is not None and status.state == "black"


async def test_a_backlog_never_makes_offline_flap(backend: Backend) -> None:
    """200 cameras every 5 s; the processor stops for 60 s while 20 feeds stop too, then catches up on the backlog:
    each stopped camera is raised offline exactly once and no frame from the backlog clears it; no live camera
    is ever raised."""
    cameras = [f"cam-{n:03d}" for n in range(200)]
    stopped = set(cameras[::10])
    config = parse_config({"cameras": [{"id": c, "name": c, "url": "http://127.0.0.1:1/x.jpg", "interval": 5,
                                        "detect": {"offline_min_s": 10}} for c in cameras]}, env={})
    scenes = {c: list(sequence(Scene(400 + n, 160, 90), frames=4, interval=5)) for n, c in enumerate(cameras)}

    async def send(seconds: range, which: list[str]) -> None:
        events = []
        for s in seconds:
            at = T0 + timedelta(seconds=s)
            seq = int(at.timestamp() * 1000)
            for c in which:
                data = scenes[c][(s // 5) % 4]
                await put_frame(backend.store, c, seq, data, ttl_s=600, latest_ttl_s=600)
                events.append(new_event("id.go.cc.cctv.snapshot", source="/tests", subject=c, time=at,
                                        id=f"{c}-{s}", data=CameraSnapshot(
                                            camera_id=c, frame_key=f"frame:{c}:{seq}", seq=seq, size=len(data),
                                            width=160, height=90, captured_at=at,
                                            sha256=hashlib.sha256(data).hexdigest())))
        await publish(backend.bus, CCTV_SNAPSHOTS, events)

    async def caught_up(at: int) -> bool:
        memories = await backend.store.get_many([memory_key(c) for c in live], CameraMemory)
        seq = int((T0 + timedelta(seconds=at)).timestamp() * 1000)
        return all(m is not None and m.seq >= seq for m in memories)

    live = [c for c in cameras if c not in stopped]
    clock = ManualClock(T0 + timedelta(seconds=10))

    def runner() -> ProcessorRunner:
        return ProcessorRunner(CCTV, bus=backend.bus, store=backend.store, config=config, clock=clock,
                               poll_timeout=0.1, run_ticks=False, group="cctv")

    await send(range(0, 11, 5), cameras)
    async with runner() as first:
        await eventually(lambda: caught_up(10), within=60)
        await first.tick()
    # the processor is away for 60 s: every camera goes on until 20 s, then only the live ones
    await send(range(15, 21, 5), cameras)
    await send(range(25, 71, 5), live)
    async with runner() as second:
        for seconds in range(75, 121, 5):  # back, with the whole backlog waiting, and time moving on
            clock.set(T0 + timedelta(seconds=seconds))
            await second.tick()
            await send(range(seconds, seconds + 1), live)
        await eventually(lambda: caught_up(120), within=90)
        await second.tick()
        out = await collect(backend.bus, CCTV_EVENTS, group="reader", within=30,
                            enough=lambda es: sum(isinstance(e.data, CameraAnomaly) and e.data.kind == "offline"
                                                  for e in es) >= len(stopped))
    offline = [(e.data.camera_id, e.data.active) for e in out
               if isinstance(e.data, CameraAnomaly) and e.data.kind == "offline"]
    assert sorted(offline) == sorted((c, True) for c in stopped)  # once each, never cleared, no live camera
    since = {e.data.camera_id: e.data.since for e in out if isinstance(e.data, CameraAnomaly) and e.data.kind == "offline"}
    assert set(since.values()) == {T0 + timedelta(seconds=20)}  # silent since its last frame, not since the pause


async def test_an_operators_good_view_becomes_the_baseline(backend: Backend) -> None:
    """A camera turned for good raises moved; the operator marks its latest frame as the good view: moved clears,
    and the new view's frames raise nothing more."""
    config = parse_config({"cameras": [{"id": "cam-1", "name": "c", "url": "http://127.0.0.1:1/x.jpg"}]}, env={})
    items = snapshot_events("cam-1", list(sequence(Scene(303, 320, 180), frames=30, interval=10, fault="moved",
                                                   onset=12, until=30)))
    await feed(backend, items[:18])
    async with ProcessorRunner(CCTV, bus=backend.bus, store=backend.store, config=config, clock=ManualClock(T0),
                               poll_timeout=0.1, run_ticks=False):
        await camera_anomalies(backend, 1)
        latest, _ = items[17]
        await publish(backend.bus, CCTV_SNAPSHOTS, [new_event(
            "id.go.cc.cctv.reference", source="/api", subject="cam-1", time=latest.time + timedelta(seconds=5),
            data=CameraReference(camera_id="cam-1", frame_key=latest.data.frame_key, seq=latest.data.seq, width=320,
                                 by="operator"))])
        await feed(backend, items[18:])

        async def judged_all() -> bool:
            memory = await backend.store.get(memory_key("cam-1"), CameraMemory)
            return memory is not None and memory.seq == items[-1][0].data.seq
        await eventually(judged_all, within=30)
        out = await camera_anomalies(backend, 2)
    assert [(e.data.kind, e.data.active) for e in out] == [("moved", True), ("moved", False)]
    assert out[1].data.metrics == {"reference": 1.0}
    status = await backend.store.get(status_key("cam-1"), CameraStatus)
    assert status is not None and status.state == "ok" and status.reference_at == latest.time + timedelta(seconds=5)
