"""The processor runtime over both adapters: outputs, state, commits, dead letters, crash and replay."""

from __future__ import annotations

import asyncio

import pytest

from command_center.bus import Message
from command_center.clock import ManualClock
from command_center.config import Config
from command_center.events.types import DeadLetter
from command_center.runtime import Processor, ProcessorRunner
from command_center.topics import DEADLETTER
from processors.health.events import HEALTH_CHECKS, HEALTH_EVENTS
from tests.conftest import Backend
from tests.helpers import TALLY, Tally, check_event, drain, eventually, publish


def runner_for(backend: Backend, config: Config, processor: Processor = TALLY) -> ProcessorRunner:
    return ProcessorRunner(processor, bus=backend.bus, store=backend.store, config=config, clock=ManualClock(),
                           poll_timeout=0.2)


async def tally(backend: Backend, app: str) -> Tally | None:
    return await backend.store.get(f"test:tally:{app}", Tally)


async def nothing_left_uncommitted(backend: Backend, group: str) -> bool:
    consumer = backend.bus.consumer(group, [HEALTH_CHECKS])
    await consumer.start()
    try:
        return not await consumer.poll(max_records=10, wait=1.0)
    finally:
        await consumer.stop()


async def test_processor_publishes_writes_state_and_commits(backend: Backend, config: Config) -> None:
    """Every input yields its output, its state, and a committed offset."""
    await publish(backend.bus, HEALTH_CHECKS, [check_event(f"app-{i % 3}", i) for i in range(30)])
    async with runner_for(backend, config):
        async def done() -> bool:
            counts = [await tally(backend, f"app-{i}") for i in range(3)]
            return all(c is not None and c.count == 10 for c in counts)

        await eventually(done)
    outputs = await drain(backend.bus, HEALTH_EVENTS, group="reader", expect=30)
    assert len({e.id for e in outputs}) == 30
    assert await nothing_left_uncommitted(backend, TALLY.name)


async def test_poison_events_go_to_the_dead_letter_topic_and_the_rest_carry_on(backend: Backend, config: Config) -> None:
    good = [check_event("app", i) for i in range(3)]
    await publish(backend.bus, HEALTH_CHECKS, good[:1])
    await backend.bus.publish([Message(HEALTH_CHECKS, b"app", b"\x00\xffnot json at all")])
    await publish(backend.bus, HEALTH_CHECKS, good[1:])
    async with runner_for(backend, config):
        await eventually(lambda: _count_is(backend, "app", 3))
    letters = await drain(backend.bus, DEADLETTER, group="dlq-reader", expect=1)
    assert len(letters) == 1
    letter = letters[0].data
    assert isinstance(letter, DeadLetter)
    assert letter.original == b"\x00\xffnot json at all"
    assert letter.topic == HEALTH_CHECKS and letter.consumer == TALLY.name
    assert "envelope" in letter.reason


async def test_a_failing_handler_dead_letters_that_event_only(backend: Backend, config: Config) -> None:
    async def picky(event, ctx):  # type: ignore[no-untyped-def]
        if event.id == "app-1":
            raise ValueError("cannot handle app-1")
        await TALLY.handle(event, ctx)

    processor = Processor(name="picky", inputs=(HEALTH_CHECKS,), handle=picky)
    await publish(backend.bus, HEALTH_CHECKS, [check_event("app", i) for i in range(3)])
    async with runner_for(backend, config, processor):
        await eventually(lambda: _count_is(backend, "app", 2))
    letters = await drain(backend.bus, DEADLETTER, group="dlq-reader", expect=1)
    assert [letter.data.reason for letter in letters] == ["handler: ValueError: cannot handle app-1"]


async def _count_is(backend: Backend, app: str, n: int) -> bool:
    t = await tally(backend, app)
    return t is not None and t.count == n


class Crash(Exception):
    """The process dies between publishing and committing."""


async def test_crash_after_publishing_before_commit_reprocesses_with_the_same_ids(
    backend: Backend, config: Config
) -> None:
    """A restart re-reads the uncommitted batch; outputs repeat with identical ids and state is not doubled."""
    await publish(backend.bus, HEALTH_CHECKS, [check_event("app", i) for i in range(5)])
    first = runner_for(backend, config)
    original_flush = backend.store.apply

    async def publish_then_die(ops, guard=None):  # type: ignore[no-untyped-def]
        raise Crash("killed after producing, before state and commit")

    backend.store.apply = publish_then_die  # type: ignore[method-assign]
    async with first:
        assert first._task is not None
        with pytest.raises(Crash):
            await asyncio.wait_for(asyncio.shield(first._task), 20)
        assert (await first.ready())[1].startswith("crashed: Crash")
    backend.store.apply = original_flush  # type: ignore[method-assign]
    before = await drain(backend.bus, HEALTH_EVENTS, group="before", expect=5)
    assert len(before) == 5
    assert await tally(backend, "app") is None

    async with runner_for(backend, config):
        await eventually(lambda: _count_is(backend, "app", 5))
    after = await drain(backend.bus, HEALTH_EVENTS, group="after", expect=10)
    assert len(after) == 10
    assert {e.id for e in after} == {e.id for e in before}
    assert (await tally(backend, "app")).seen == [f"app-{i}" for i in range(5)]  # type: ignore[union-attr]
    assert await nothing_left_uncommitted(backend, TALLY.name)


async def test_replayed_inputs_do_not_duplicate_state(backend: Backend, config: Config) -> None:
    """The same events published twice (a producer retry) are counted once."""
    events = [check_event("app", i) for i in range(4)]
    await publish(backend.bus, HEALTH_CHECKS, events + events)
    async with runner_for(backend, config):
        await eventually(lambda: _count_is(backend, "app", 4))
        await asyncio.sleep(0.3)
    assert (await tally(backend, "app")).count == 4  # type: ignore[union-attr]


async def test_a_batch_views_are_rendered_together_when_the_feature_can(backend: Backend, config: Config) -> None:
    """A ViewSpec with render_many is asked once per batch for every touched entity (one round trip), and each
    view reaches cc.views after the batch's state write."""
    from dataclasses import replace

    from command_center.topics import VIEWS
    from command_center.views import ViewSpec, decode_view, subjects

    calls: list[list[str]] = []

    async def one(store, config, entity):  # type: ignore[no-untyped-def]
        raise AssertionError("rendered one at a time")

    async def many(store, config, entities):  # type: ignore[no-untyped-def]
        calls.append(list(entities))
        return [{"id": e, "count": (await store.get(f"test:tally:{e}", Tally)).count} for e in entities]

    spec = ViewSpec(channel="tally", roles=frozenset({"operator"}), entities=subjects, render=one, render_many=many)
    await publish(backend.bus, HEALTH_CHECKS, [check_event(f"app-{i}", i) for i in range(5)])
    async with runner_for(backend, config, replace(TALLY, view=spec)):
        await eventually(lambda: _all_counted(backend, 5))
        consumer = backend.bus.consumer("views-reader", [VIEWS])
        await consumer.start()
        try:
            seen: dict[str, dict] = {}  # type: ignore[type-arg]
            for _ in range(40):
                for record in await consumer.poll(max_records=100, wait=0.5):
                    view = decode_view(record.value)
                    seen[view.entity] = view.view
                if len(seen) == 5:
                    break
        finally:
            await consumer.stop()
    assert seen == {f"app-{i}": {"id": f"app-{i}", "count": 1} for i in range(5)}
    assert sorted(e for c in calls for e in c) == [f"app-{i}" for i in range(5)] and len(calls) <= 2


async def _all_counted(backend: Backend, n: int) -> bool:
    return all([await tally(backend, f"app-{i}") is not None for i in range(n)])
