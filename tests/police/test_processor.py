"""The police feed against a real local police endpoint: signed deliveries, every CCTV event through an outage
of the endpoint, in order per camera, none twice (also after a replay), a refused event dead-lettered
without stopping the feed, and the same events on cc.police.cctv."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web

from command_center.clock import ManualClock
from command_center.config import Config, parse_config
from command_center.events import Event, decode, new_event
from command_center.runtime import ProcessorRunner
from command_center.signing import SIGNATURE, TIMESTAMP, verify
from command_center.testing.servers import local_app
from command_center.topics import DEADLETTER
from processors.cctv.events import CCTV_EVENTS, CameraActivity, CameraAnomaly
from processors.police import POLICE
from processors.police.events import POLICE_CCTV
from tests.conftest import Backend
from tests.helpers import T0, drain, eventually, publish

SECRET = "police-shared-secret"


class PoliceEndpoint:
    """The police system's receiver: checks each signature, answers 503 while down, records what it accepts."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.refuse: set[str] = set()
        self.received: list[tuple[str, str]] = []  # (camera, event id), in arrival order
        self.refused_while_down = 0
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if verify(SECRET, body, request.headers.get(SIGNATURE, ""), request.headers.get(TIMESTAMP, "")):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        if time.monotonic() < self.down_until:
            self.refused_while_down += 1
            return web.Response(status=503, text="maintenance")
        event = decode(body)
        if event.id in self.refuse:
            return web.json_response({"error": "unknown camera"}, status=422)
        assert request.headers["X-CC-Event-Id"] == event.id
        self.received.append((event.subject, event.id))
        return web.json_response({"ok": True})


@pytest.fixture
async def police() -> AsyncIterator[tuple[PoliceEndpoint, str]]:
    endpoint = PoliceEndpoint()
    app = web.Application()
    app.router.add_post("/cctv-events", endpoint.handle)
    async with local_app(app) as url:
        yield endpoint, f"{url}/cctv-events"


def police_config(url: str, *, activity: bool = True) -> Config:
    return parse_config({"police": {"url": url, "secret": SECRET, "timeout_s": 2, "activity": activity}},
                        env={})


def cctv_events(cameras: int, per_camera: int) -> list[Event]:
    """Anomalies and activity of several cameras, interleaved as they would arrive."""
    out = []
    for n in range(per_camera):
        for c in range(cameras):
            camera = f"cam-{c:03d}"
            at = T0 + timedelta(seconds=10 * n)
            data = CameraAnomaly(camera_id=camera, kind="covered", active=n % 2 == 0, state="covered", since=at) \
                if n % 3 else CameraActivity(camera_id=camera, motion=0.2, people=n % 4)
            kind = "activity" if isinstance(data, CameraActivity) else "covered"
            out.append(new_event(f"id.go.cc.cctv.{kind}", source="/tests", subject=camera, time=at,
                                 id=f"{camera}-{n}", data=data))
    return out


def per_camera(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for camera, event_id in pairs:
        out[camera].append(event_id)
    return out


async def _feed_through_outage(backend: Backend, endpoint: PoliceEndpoint, url: str, down_s: float) -> None:
    events = cctv_events(cameras=4, per_camera=12)
    endpoint.down_until = time.monotonic() + down_s
    await publish(backend.bus, CCTV_EVENTS, events)
    async with ProcessorRunner(POLICE, bus=backend.bus, store=backend.store, config=police_config(url),
                               clock=ManualClock(T0), poll_timeout=0.1):
        await eventually(lambda: _count(endpoint, len(events)), within=down_s + 30)
        await asyncio.sleep(0.5)
    assert endpoint.refused_while_down >= 2 and endpoint.bad_signatures == 0
    ids = [event_id for _, event_id in endpoint.received]
    assert len(ids) == len(set(ids)) == len(events)  # every event, none twice
    assert per_camera(endpoint.received) == per_camera([(e.subject, e.id) for e in events])  # in order per camera
    topic = await drain(backend.bus, POLICE_CCTV, group="police-consumer", expect=len(events))
    assert sorted(e.id for e in topic) == sorted(e.id for e in events)


async def _count(endpoint: PoliceEndpoint, n: int) -> bool:
    return len(endpoint.received) >= n


async def test_every_event_arrives_in_order_through_an_outage(backend: Backend,
                                                              police: tuple[PoliceEndpoint, str]) -> None:
    await _feed_through_outage(backend, *police, down_s=4)


@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_the_police_endpoint_down_for_a_minute_then_up(backend: Backend,
                                                             police: tuple[PoliceEndpoint, str]) -> None:
    """Real Kafka-protocol broker and Redis; the endpoint answers 503 for 60 seconds."""
    await _feed_through_outage(backend, *police, down_s=60)


async def test_a_replay_sends_nothing_twice(backend: Backend, police: tuple[PoliceEndpoint, str]) -> None:
    endpoint, url = police
    events = cctv_events(cameras=2, per_camera=5)
    await publish(backend.bus, CCTV_EVENTS, events)
    for group in ("police", "police-restored-from-scratch"):  # a new group re-reads the topic from the start
        runner = ProcessorRunner(POLICE, bus=backend.bus, store=backend.store, config=police_config(url),
                                 clock=ManualClock(T0), poll_timeout=0.1, group=group)
        async with runner:
            await eventually(lambda r=runner: _consumed(r, len(events)))
    assert len(endpoint.received) == len(events)


async def _consumed(runner: ProcessorRunner, n: int) -> bool:
    return runner.batches > 0 and runner.lag() == 0


async def test_a_refused_event_is_dead_lettered_and_the_feed_goes_on(backend: Backend,
                                                                    police: tuple[PoliceEndpoint, str]) -> None:
    endpoint, url = police
    events = cctv_events(cameras=1, per_camera=6)
    endpoint.refuse = {events[2].id}
    await publish(backend.bus, CCTV_EVENTS, events)
    async with ProcessorRunner(POLICE, bus=backend.bus, store=backend.store, config=police_config(url),
                               clock=ManualClock(T0), poll_timeout=0.1):
        await eventually(lambda: _count(endpoint, len(events) - 1))
        dead = await drain(backend.bus, DEADLETTER, group="reader", expect=1)
    assert [event_id for _, event_id in endpoint.received] == [e.id for e in events if e.id != events[2].id]
    assert len(dead) == 1 and "HTTP 422" in dead[0].data.reason


async def test_activity_can_be_kept_from_the_police(backend: Backend, police: tuple[PoliceEndpoint, str]) -> None:
    endpoint, url = police
    events = cctv_events(cameras=1, per_camera=6)
    await publish(backend.bus, CCTV_EVENTS, events)
    anomalies = [e for e in events if isinstance(e.data, CameraAnomaly)]
    async with ProcessorRunner(POLICE, bus=backend.bus, store=backend.store,
                               config=police_config(url, activity=False), clock=ManualClock(T0), poll_timeout=0.1):
        await eventually(lambda: _count(endpoint, len(anomalies)))
        await asyncio.sleep(0.5)
    assert [event_id for _, event_id in endpoint.received] == [e.id for e in anomalies]
