"""The complaints processor over both adapters, on a test clock: SLA breaches fire at their minute and not when
the agency answered in time; a restarted processor keeps every deadline; duplicates are linked and not
counted twice; a surge is raised; statistics count each complaint once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from command_center.clock import ManualClock
from command_center.config import Config, parse_config
from command_center.events import Event, new_event
from command_center.runtime import ProcessorRunner
from command_center.testing.estates import complaint_estate
from command_center.topics import DEADLETTER
from ingest.complaints.intake import Submission, check
from processors.complaints import COMPLAINTS_PROCESSOR
from processors.complaints.events import (
    COMPLAINT_CONTACTS,
    COMPLAINTS,
    ComplaintAction,
    ComplaintBreach,
    ComplaintContact,
    ComplaintLinked,
    ComplaintSurge,
)
from processors.complaints.record import ComplaintRecord, contact_key, record_key
from processors.complaints.routes import ACTION_TYPES
from processors.complaints.stats import complaint_stats
from tests.conftest import Backend
from tests.helpers import T0, collect, eventually, publish


@pytest.fixture
def estate() -> Config:
    return parse_config(complaint_estate(), env={})


def filed(config: Config, minutes: float, *, service: str = "jalan-rusak", lat: float = -7.7651,
          long: float = 110.4001, text: str = "Jalan berlubang") -> list[tuple[str, Event]]:
    received, contact = check(config, Submission(channel="open311", service_code=service, description=text, lat=lat,
                                                 long=long, name="Warga"), T0 + timedelta(minutes=minutes)).events()
    return [(COMPLAINTS, received)] + ([(COMPLAINT_CONTACTS, contact)] if contact else [])


def action(complaint_id: str, kind: str, minutes: float, notes: str = "Ditangani") -> tuple[str, Event]:
    at = T0 + timedelta(minutes=minutes)
    return COMPLAINTS, new_event(ACTION_TYPES[kind], source="/tests", subject=complaint_id, time=at,
                                 data=ComplaintAction(complaint_id=complaint_id, action=kind, agency="dpupkp",  # type: ignore[arg-type]
                                                      actor="desk", at=at, status_notes=notes))


async def send(backend: Backend, items: list[tuple[str, Event]]) -> None:
    for topic in (COMPLAINTS, COMPLAINT_CONTACTS):
        events = [e for t, e in items if t == topic]
        if events:
            await publish(backend.bus, topic, events)


def runner(backend: Backend, config: Config, clock: ManualClock) -> ProcessorRunner:
    return ProcessorRunner(COMPLAINTS_PROCESSOR, bus=backend.bus, store=backend.store, config=config, clock=clock,
                           poll_timeout=0.1, run_ticks=False)


async def record(backend: Backend, complaint_id: str) -> ComplaintRecord | None:
    return await backend.store.get(record_key(complaint_id), ComplaintRecord)


def until(backend: Backend, complaint_id: str, test: Callable[[ComplaintRecord], bool]):  # type: ignore[no-untyped-def]
    async def check_record() -> bool:
        found = await record(backend, complaint_id)
        return found is not None and test(found)
    return check_record


def _breaches(events: list[Event]) -> list[ComplaintBreach]:
    return [e.data for e in events if isinstance(e.data, ComplaintBreach)]


async def breaches(backend: Backend, count: int) -> list[ComplaintBreach]:
    """The breaches on the topic, once `count` have arrived (with none expected, once every receipt is routed)."""
    def enough(events: list[Event]) -> bool:
        routed = sum(e.type == "id.go.cc.complaint.routed" for e in events)
        return len(_breaches(events)) >= count and routed >= 1
    return _breaches(await collect(backend.bus, COMPLAINTS, group="reader", enough=enough))


async def test_breaches_fire_at_their_minute_and_not_when_answered_in_time(backend: Backend, estate: Config) -> None:
    late = filed(estate, 0)
    on_time = filed(estate, 1, lat=-7.70, long=110.45)  # far enough not to be a duplicate
    late_id, on_time_id = late[0][1].subject, on_time[0][1].subject
    await send(backend, late + on_time + [action(on_time_id, "respond", 55)])
    clock = ManualClock(T0)
    async with runner(backend, estate, clock) as r:
        await eventually(until(backend, on_time_id, lambda c: c.responded_at is not None))
        for minute in (30, 59.9):
            clock.set(T0 + timedelta(minutes=minute))
            await r.tick()
        assert await breaches(backend, 0) == []  # nothing before the 60th minute
        clock.set(T0 + timedelta(minutes=60, seconds=1))
        await r.tick()
        clock.set(T0 + timedelta(minutes=62))
        await r.tick()
        found = await breaches(backend, 1)
        assert [(b.complaint_id, b.deadline, b.due) for b in found] == [(late_id, "response", T0 + timedelta(minutes=60))]
        assert found[0].escalated_to == "kadis-pu" and found[0].agency == "dpupkp" and found[0].area == "depok"
        await send(backend, [action(on_time_id, "feedback", 1000)])
        await eventually(until(backend, on_time_id, lambda c: c.feedback_at is not None))
        clock.set(T0 + timedelta(hours=24, minutes=2))
        await r.tick()
        found = await breaches(backend, 2)
    assert sorted((b.complaint_id, b.deadline) for b in found) == sorted([(late_id, "response"), (late_id, "feedback")])
    assert (await record(backend, late_id)).breached == ["response", "feedback"]  # type: ignore[union-attr]


async def test_a_second_receipt_under_a_taken_id_is_refused_and_the_first_stays_whole(backend: Backend,
                                                                                       estate: Config) -> None:
    """One id, two bodies (a reused Idempotency-Key that reached the broker twice while Redis was down): the
    first complaint keeps its own text and its own citizen; the second is dead-lettered, not merged."""
    def receipt(text: str, phone: str) -> list[tuple[str, Event]]:
        received, contact = check(estate, Submission(channel="open311", service_code="jalan-rusak", description=text,
                                                     lat=-7.7651, long=110.4001, phone=phone), T0,
                                  name="open311:kota|retry-7").events()
        assert contact is not None
        return [(COMPLAINTS, received), (COMPLAINT_CONTACTS, contact)]

    first, second = receipt("Jalan berlubang di Jl. Kaliurang", "0811"), receipt("Lampu mati di Jl. Magelang", "0822")
    complaint_id = first[0][1].subject
    assert second[0][1].subject == complaint_id and second[0][1].id != first[0][1].id
    await send(backend, first)
    await send(backend, first)  # a replay of the same receipt changes nothing
    await send(backend, second)
    async with runner(backend, estate, ManualClock(T0)):
        letters = await collect(backend.bus, DEADLETTER, group="t-dead",
                                enough=lambda es: len(es) >= 2)
    assert sorted(e.data.topic.removeprefix(backend.prefix) for e in letters) == [COMPLAINTS, COMPLAINT_CONTACTS]
    assert all(e.data.reason.startswith("refused: complaint") for e in letters)
    kept = await record(backend, complaint_id)
    assert kept is not None and kept.description == "Jalan berlubang di Jl. Kaliurang" and len(kept.history) == 2
    contact = await backend.store.get(contact_key(kept.contact_ref), ComplaintContact)
    assert contact is not None and (contact.phone, contact.complaint_id) == ("0811", complaint_id)


async def test_a_restarted_processor_keeps_every_deadline(backend: Backend, estate: Config) -> None:
    items = filed(estate, 0, service="sampah", text="Sampah menumpuk")  # response due in 30 minutes
    complaint_id = items[0][1].subject
    await send(backend, items)
    clock = ManualClock(T0)
    async with runner(backend, estate, clock):
        await eventually(until(backend, complaint_id, lambda c: bool(c.agency or c.duplicate_of)))
    clock.set(T0 + timedelta(minutes=31))  # the first processor is gone; another one starts
    async with runner(backend, estate, clock) as second:
        await second.tick()
        found = await breaches(backend, 1)
    assert [(b.complaint_id, b.deadline, b.agency) for b in found] == [(complaint_id, "response", "dlh")]


async def test_duplicates_are_linked_counted_once_and_closed_together(backend: Backend, estate: Config) -> None:
    first = filed(estate, 0)
    near = filed(estate, 12, lat=-7.76525, long=110.40025, text="Ada lubang besar di jalan")  # about 30 m away
    far = filed(estate, 14, lat=-7.7700, long=110.4001)  # about 550 m away
    first_id, near_id, far_id = (x[0][1].subject for x in (first, near, far))
    await send(backend, first)  # reports minutes apart arrive in that order (one batch could hold them in any order)
    async with runner(backend, estate, ManualClock(T0)):
        await eventually(until(backend, first_id, lambda c: bool(c.agency or c.duplicate_of)))
        await send(backend, near + far)
        await eventually(until(backend, far_id, lambda c: bool(c.agency or c.duplicate_of)))
        await send(backend, [action(first_id, "close", 40, "Jalan sudah ditambal")])
        await eventually(until(backend, near_id, lambda c: c.status == "closed"))
        events = await collect(backend.bus, COMPLAINTS, group="reader",
                               enough=lambda es: any(isinstance(e.data, ComplaintLinked) for e in es))
    linked = [e.data for e in events if isinstance(e.data, ComplaintLinked)]
    assert [(x.complaint_id, x.duplicate_of) for x in linked] == [(near_id, first_id)]
    assert 20 < linked[0].distance_m < 40 and linked[0].minutes_apart == 12
    original, duplicate = await record(backend, first_id), await record(backend, near_id)
    assert original is not None and duplicate is not None
    assert original.duplicates == [near_id] and duplicate.response_due is None  # no clocks for a duplicate
    assert duplicate.status_notes.startswith("Ditutup bersama aduan") and original.status_notes == "Jalan sudah ditambal"
    day = T0.astimezone().date()
    body = await complaint_stats(backend.store, estate, date(day.year, day.month, day.day) - timedelta(days=1),
                                 date(day.year, day.month, day.day) + timedelta(days=1), "month")
    road = next(c for c in body["categories"] if c["service_code"] == "jalan-rusak")["total"]
    assert (road["received"], road["duplicates"], road["closed"], road["open"]) == (2, 1, 1, 1)
    assert road["responded_within_sla_pct"] == 50.0 and road["median_response_minutes"] == 40.0


async def test_a_surge_is_raised_once(backend: Backend, estate: Config) -> None:
    items = [x for i in range(12) for x in filed(estate, i * 2, service="sampah", lat=-7.765 + 0.001 * i,
                                                   long=110.40, text="Sampah tidak diangkut")]  # 110 m apart
    await send(backend, items)
    async with runner(backend, estate, ManualClock(T0)):
        events = await collect(backend.bus, COMPLAINTS, group="reader",
                               enough=lambda es: sum(e.type == "id.go.cc.complaint.routed" for e in es) == 12)
    surges = [e.data for e in events if isinstance(e.data, ComplaintSurge)]
    assert not any(isinstance(e.data, ComplaintLinked) for e in events)
    assert len(surges) == 1 and surges[0].active and surges[0].service_code == "sampah"
    assert surges[0].count == 2 * estate.complaints.surge_min_count  # a new category and area: twice the minimum
    assert surges[0].area == "depok"
