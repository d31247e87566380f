"""One broken switch is one incident: what depends on it is folded under it as affected, pages nobody, and opens
its own incident only if it is still failing a grace period after the switch recovers. Over both adapters
(tansu and Redis), with a real webhook receiver, on a test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from command_center.api.auth import demo_tokens
from command_center.clock import ManualClock
from command_center.config import Config, parse_config
from command_center.events import Event, new_event
from processors.cctv.events import CCTV_EVENTS, CameraAnomaly
from processors.health.events import HEALTH_EVENTS, AppAnomaly
from processors.incidents import INCIDENTS_PROCESSOR
from processors.incidents.events import INCIDENT_COMMANDS, IncidentCommand, IncidentState
from processors.incidents.keys import dedup_key, parked_key
from processors.notify import NOTIFY
from tests.conftest import Backend
from tests.helpers import T0, eventually, publish
from tests.incidents.test_processor import Harness, Receiver, receiver, runner  # noqa: F401 (the fixture)

CAMERAS = [f"cam-{i:02d}" for i in range(40)]
APPS = ["e-sakip", "e-office"]


@pytest.fixture
def estate(receiver: Receiver) -> Config:  # noqa: F811
    hook = f"http://127.0.0.1:{receiver.port}"
    return parse_config({
        "webhook_secret": "rahasia", "site": {"public_url": "http://cc.test"},
        "incidents": {"dependency_hold_s": 30, "affected_grace_s": 120},
        "apps": [{"id": "sw-mlati", "name": "Switch Mlati", "kind": "switch", "area": "mlati",
                  "checks": [{"id": "ping", "kind": "icmp", "target": "10.20.0.1"}]},
                 *({"id": app, "name": app, "area": "mlati", "depends_on": ["sw-mlati"],
                    "checks": [{"id": "web", "kind": "http", "target": f"http://{app}.test/"}]} for app in APPS),
                 {"id": "e-bansos", "name": "e-Bansos", "checks": [{"id": "web", "kind": "http", "target": "http://x/"}]}],
        "cameras": [{"id": c, "name": f"Kamera {c}", "url": f"http://x/{c}.jpg", "area": "mlati",
                     "depends_on": ["sw-mlati"]} for c in CAMERAS],
        "areas": [{"id": "mlati", "name": "Mlati", "center": {"lat": -7.72, "long": 110.35}, "radius_km": 5}],
        "contacts": [{"id": "piket-1", "name": "Piket Satu", "webhook": f"{hook}/piket-1"},
                     {"id": "kadis", "name": "Kadis Kominfo", "webhook": f"{hook}/kadis"}],
        "teams": [{"id": "noc", "members": ["piket-1"]}],
        "escalation_policies": [{"id": "std", "steps": [{"wait_minutes": 0, "notify": ["noc"]},
                                                         {"wait_minutes": 5, "notify": ["kadis"]}]}],
        "escalation_routes": [{"policy": "std"}],
    }, env={}).model_copy(update={"tokens": demo_tokens()})


@pytest.fixture
async def harness(backend: Backend, estate: Config) -> AsyncIterator[Harness]:
    clock = ManualClock(T0)
    async with runner(backend, estate, clock, INCIDENTS_PROCESSOR) as inc, runner(backend, estate, clock, NOTIFY) as nt:
        yield Harness(backend, estate, clock, inc, nt)


def app(app_id: str, seconds: float, active: bool = True) -> Event:
    at = T0 + timedelta(seconds=seconds)
    return new_event(f"id.go.cc.health.{'down' if active else 'recovered'}", source="/t", subject=app_id, time=at,
                     data=AppAnomaly(app_id=app_id, kind="down", active=active, state="down" if active else "up",
                                     previous="up" if active else "down", since=at, area="mlati",
                                     downtime_s=None if active else seconds))


def camera(camera_id: str, seconds: float, active: bool = True) -> Event:
    at = T0 + timedelta(seconds=seconds)
    return new_event("id.go.cc.cctv.offline", source="/t", subject=camera_id, time=at, data=CameraAnomaly(
        camera_id=camera_id, kind="offline", active=active, state="offline" if active else "ok", since=at,
        area="mlati"))


async def _incidents(h: Harness) -> list[IncidentState]:
    found = [await h.incident(i) for i in await h.open_ids()]
    return [i for i in found if i is not None]


async def test_a_switch_with_forty_cameras_and_two_apps_is_one_incident_and_one_page_a_step(
        harness: Harness, receiver: Receiver) -> None:  # noqa: F811
    bus = harness.backend.bus
    # the cameras that time out first are seen before the switch stops answering its pings
    await publish(bus, CCTV_EVENTS, [camera(c, 2) for c in CAMERAS[:20]])
    await publish(bus, HEALTH_EVENTS, [app("sw-mlati", 5)])
    await publish(bus, CCTV_EVENTS, [camera(c, 8) for c in CAMERAS[20:]])
    await publish(bus, HEALTH_EVENTS, [app(a, 9) for a in APPS])

    async def folded() -> bool:
        await harness.ticks(1)
        found = await _incidents(harness)
        return len(found) == 1 and len(found[0].affected) == 42
    await eventually(folded)
    (switch,) = await _incidents(harness)
    assert switch.entities == ["sw-mlati"] and sorted(switch.affected) == sorted([*CAMERAS, *APPS])
    assert switch.title.endswith("(42 terdampak)")
    for _ in range(12):  # an hour: every step of the escalation, past every hold
        await harness.advance(5)
    assert len(await harness.open_ids()) == 1
    assert {b["incident_id"] for who in ("piket-1", "kadis") for b in receiver.delivered(who)} == {switch.id}
    assert [who for who, _ in receiver.order] == ["piket-1", "kadis"]  # one page a step, nothing for the 42
    assert "42 terdampak" in receiver.delivered("piket-1")[0]["text"]

    # the duty officer acknowledges; the switch comes back with one camera still dead, and another camera
    # recovered while it was down
    await publish(bus, INCIDENT_COMMANDS, [new_event(
        "id.go.cc.incident.command", source="/t", subject=switch.id, time=T0 + timedelta(seconds=3650),
        data=IncidentCommand(incident_id=switch.id, action="ack", actor="siti", role="operator"))])

    async def acknowledged() -> bool:
        found = await harness.incident(switch.id)
        return found is not None and found.acknowledged
    await eventually(acknowledged)
    harness.clock.advance(3730 - (harness.clock.now() - T0).total_seconds())
    await publish(bus, CCTV_EVENTS, [camera("cam-07", 3700, active=False)])
    await publish(bus, HEALTH_EVENTS, [app("sw-mlati", 3720, active=False)])
    await publish(bus, CCTV_EVENTS, [camera(c, 3725, active=False) for c in CAMERAS if c not in ("cam-07", "cam-13")])
    await publish(bus, HEALTH_EVENTS, [app(a, 3725, active=False) for a in APPS])

    async def switch_resolved() -> bool:
        await harness.ticks(1)
        found = await harness.incident(switch.id)
        return found is not None and found.status == "resolved"
    await eventually(switch_resolved)
    recovered = [*(f"cctv:{c}:offline" for c in CAMERAS if c != "cam-13"), *(f"health:{a}:down" for a in APPS)]

    async def all_recovered() -> bool:  # what came back is forgotten; only cam-13 waits out its grace
        found = [await harness.backend.store.get_bytes(parked_key(k)) for k in recovered]
        return all(f is None for f in found) and \
            await harness.backend.store.get_bytes(parked_key("cctv:cam-13:offline")) is not None
    await eventually(all_recovered)
    await eventually(lambda: _delivered(harness, receiver, 4))  # every resolution is sent: to both who were paged
    assert [b["kind"] for b in receiver.delivered("piket-1")] == ["page", "resolved"]
    assert await harness.open_ids() == []  # within the grace period: nothing opened yet
    await harness.advance(1.9)
    assert await harness.open_ids() == []

    async def own_incident() -> bool:
        await harness.ticks(1)
        return [i.entities for i in await _incidents(harness)] == [["cam-13"]]
    harness.clock.advance(10)
    await eventually(own_incident)
    (dead,) = await _incidents(harness)
    assert dead.opened_at == T0 + timedelta(seconds=2) and not dead.parent_id
    await eventually(lambda: _delivered(harness, receiver, 5))
    assert receiver.delivered("piket-1")[-1]["incident_id"] == dead.id


async def _delivered(h: Harness, receiver: Receiver, n: int) -> bool:  # noqa: F811
    await h.ticks(1)
    return len(receiver.order) >= n


async def test_an_outage_under_a_switch_that_stays_up_opens_after_the_hold(harness: Harness,
                                                                           receiver: Receiver) -> None:  # noqa: F811
    await publish(harness.backend.bus, CCTV_EVENTS, [camera("cam-01", 0)])

    async def held() -> bool:
        return await harness.backend.store.get_bytes(parked_key("cctv:cam-01:offline")) is not None
    await eventually(held)
    assert await harness.open_ids() == []  # held: its switch may yet go down
    await harness.advance(0.4)
    assert await harness.open_ids() == []
    await harness.advance(0.2)  # 36 s: past the hold, the switch still up

    async def opened() -> bool:
        await harness.ticks(1)
        return [i.entities for i in await _incidents(harness)] == [["cam-01"]]
    await eventually(opened)
    await eventually(lambda: _delivered(harness, receiver, 1))
    # a blip shorter than the hold opens nothing and pages nobody
    blip = parked_key("cctv:cam-02:offline")
    await publish(harness.backend.bus, CCTV_EVENTS, [camera("cam-02", 40)])

    async def parked(present: bool) -> bool:
        return (await harness.backend.store.get_bytes(blip) is not None) == present
    await eventually(lambda: parked(True))
    await publish(harness.backend.bus, CCTV_EVENTS, [camera("cam-02", 50, active=False)])
    await eventually(lambda: parked(False))  # raised and cleared again before its hold ended: forgotten
    assert await harness.backend.store.get_bytes(dedup_key("cctv:cam-02:offline")) is None
    for _ in range(3):
        await harness.advance(1)
    assert [i.entities for i in await _incidents(harness)] == [["cam-01"]] and len(receiver.order) == 1


async def test_an_outage_with_its_own_incident_keeps_it_when_its_switch_falls_later(harness: Harness) -> None:
    """A camera whose incident opened (its switch was up) is not folded when the switch falls afterwards: its own
    incident goes on, and its recovery clears it."""
    bus = harness.backend.bus
    await publish(bus, CCTV_EVENTS, [camera("cam-03", 0)])

    async def held() -> bool:
        return await harness.backend.store.get_bytes(parked_key("cctv:cam-03:offline")) is not None
    await eventually(held)
    await harness.advance(0.6)  # past the hold: its own incident

    async def own() -> bool:
        await harness.ticks(1)
        return [i.entities for i in await _incidents(harness)] == [["cam-03"]]
    await eventually(own)
    await publish(bus, HEALTH_EVENTS, [app("sw-mlati", 60)])

    async def two() -> bool:
        return len(await _incidents(harness)) == 2
    await eventually(two)
    await publish(bus, CCTV_EVENTS, [camera("cam-03", 70), camera("cam-03", 80, active=False)])

    async def cleared() -> bool:
        found = {tuple(i.entities): i for i in await _incidents(harness)}
        mine = found.get(("cam-03",))
        return mine is not None and mine.cleared and found[("sw-mlati",)].affected == []
    await eventually(cleared)
