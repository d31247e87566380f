"""Bus semantics that processors rely on, over the embedded bus and the Kafka-protocol broker alike."""

from __future__ import annotations

import asyncio

from command_center.bus import Message
from command_center.events import decode
from processors.health.events import HEALTH_CHECKS
from tests.conftest import Backend
from tests.helpers import check_event, publish


async def _read(consumer, want: int, within: float = 20.0) -> list:  # type: ignore[no-untyped-def]
    out: list = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(out) < want and loop.time() < deadline:
        out.extend(await consumer.poll(max_records=500, wait=0.5))
    return out


async def test_one_keys_events_stay_in_order(backend: Backend) -> None:
    """Events with one key land on one partition and are read in the order they were published."""
    events = [check_event(f"app-{i % 5}", i) for i in range(200)]
    await publish(backend.bus, HEALTH_CHECKS, events)
    consumer = backend.bus.consumer("order", [HEALTH_CHECKS])
    await consumer.start()
    records = await _read(consumer, 200)
    await consumer.stop()
    assert len(records) == 200
    by_app: dict[str, list[int]] = {}
    partitions: dict[str, set[int]] = {}
    for r in records:
        e = decode(r.value)
        by_app.setdefault(e.subject, []).append(int(e.id.split("-")[-1]))
        partitions.setdefault(e.subject, set()).add(r.partition)
    assert all(seq == sorted(seq) for seq in by_app.values())
    assert all(len(p) == 1 for p in partitions.values())


async def test_committed_offsets_resume_and_a_new_group_replays(backend: Backend) -> None:
    """A member that rejoins reads after its commit; a new group reads from the earliest record."""
    await publish(backend.bus, HEALTH_CHECKS, [check_event("app", i) for i in range(10)])
    first = backend.bus.consumer("resume", [HEALTH_CHECKS])
    await first.start()
    records = await _read(first, 10)
    upto = {(r.topic, r.partition): r.offset + 1 for r in records[:4]}
    assert await first.commit(upto)
    await first.stop()

    again = backend.bus.consumer("resume", [HEALTH_CHECKS])
    await again.start()
    rest = await _read(again, 6)
    await again.stop()
    assert [decode(r.value).id for r in rest] == [f"app-{i}" for i in range(4, 10)]

    fresh = backend.bus.consumer("another-group", [HEALTH_CHECKS])
    await fresh.start()
    assert len(await _read(fresh, 10)) == 10
    await fresh.stop()


async def test_a_group_splits_partitions_between_members(backend: Backend) -> None:
    """Two members of one group each own some partitions and together read every record once."""
    bus2 = backend.new_bus()
    await bus2.start()
    a = backend.bus.consumer("split", [HEALTH_CHECKS], client_id="a")
    b = bus2.consumer("split", [HEALTH_CHECKS], client_id="b")
    await a.start()
    await b.start()
    await publish(backend.bus, HEALTH_CHECKS, [check_event(f"app-{i}", i) for i in range(300)])
    got_a: list = []
    got_b: list = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(got_a) + len(got_b) < 300 and loop.time() < deadline:
        ra, rb = await asyncio.gather(a.poll(max_records=500, wait=0.3), b.poll(max_records=500, wait=0.3))
        got_a.extend(ra)
        got_b.extend(rb)
    await a.stop()
    await b.stop()
    if bus2 is not backend.bus:
        await bus2.stop()
    ids = [decode(r.value).id for r in got_a + got_b]
    assert len(ids) == 300 and len(set(ids)) == 300
    assert got_a and got_b
    assert not {r.partition for r in got_a} & {r.partition for r in got_b}


async def test_publish_of_an_empty_batch_is_a_no_op(backend: Backend) -> None:
    await backend.bus.publish([])
    await backend.bus.publish([Message(HEALTH_CHECKS, b"k", b"not an event, but bytes are bytes")])
    consumer = backend.bus.consumer("raw", [HEALTH_CHECKS])
    await consumer.start()
    records = await _read(consumer, 1)
    await consumer.stop()
    assert [r.value for r in records] == [b"not an event, but bytes are bytes"]
