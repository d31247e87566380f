"""State from the log, over both adapters: a processor whose store is wiped or rolled back derives its state again
from the log, applies every record once, publishes no output twice and fires no timer from half a state."""

from __future__ import annotations

import dataclasses
from collections import Counter

from command_center.clock import ManualClock
from command_center.config import Config
from command_center.events import Event
from command_center.runtime import Context, Processor, ProcessorRunner
from processors.health.events import HEALTH_CHECKS, HEALTH_EVENTS
from tests.conftest import Backend
from tests.helpers import TALLY, Tally, check_event, collect, eventually, publish

APPS = 6
REPLAYED = dataclasses.replace(TALLY, name="test-replayed", replay=(HEALTH_CHECKS,))


def runner_for(backend: Backend, config: Config, processor: Processor = REPLAYED, **options: object) -> ProcessorRunner:
    return ProcessorRunner(processor, bus=backend.bus, store=backend.store, config=config, clock=ManualClock(),
                           **{"poll_timeout": 0.1, "max_batch": 50, **options})  # type: ignore[arg-type]


def events(first: int, count: int) -> list[Event]:
    return [check_event(f"app-{i % APPS}", i) for i in range(first, first + count)]


async def counts(backend: Backend) -> dict[str, int]:
    found = await backend.store.get_many([f"test:tally:app-{i}" for i in range(APPS)], Tally)
    return {f"app-{i}": t.count for i, t in enumerate(found) if t is not None}


def counted(backend: Backend, total: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return sum((await counts(backend)).values()) == total

    return check


async def outputs(backend: Backend, group: str, total: int) -> Counter[str]:
    found = await collect(backend.bus, HEALTH_EVENTS, group=group, enough=lambda e: len(e) >= total, within=30)
    return Counter(e.id for e in found)


async def snapshot(backend: Backend) -> dict[bytes, tuple[bytes, int]]:
    """Every key of the store as DUMP gives it, with its TTL: an older copy to roll back to."""
    redis = backend.store.redis
    return {k: (await redis.dump(k), max(0, await redis.pttl(k))) for k in await redis.keys("*")}


async def restore(backend: Backend, copy: dict[bytes, tuple[bytes, int]]) -> None:
    redis = backend.store.redis
    await redis.flushall()
    for key, (dumped, ttl) in copy.items():
        await redis.restore(key, ttl, dumped, replace=True)


async def test_a_wiped_store_is_derived_again_and_nothing_is_published_twice(backend: Backend, config: Config) -> None:
    await publish(backend.bus, HEALTH_CHECKS, events(0, 300))
    runner = runner_for(backend, config)
    async with runner:
        await eventually(counted(backend, 300), within=30)
        assert (await backend.store.state_status(REPLAYED.name))[0]
        await backend.store.redis.flushall()  # the Redis host replaced: its disk gone with it
        await publish(backend.bus, HEALTH_CHECKS, events(300, 300))
        await eventually(counted(backend, 600), within=60)
        await eventually(lambda: _whole(backend), within=10)
    assert await counts(backend) == {f"app-{i}": 100 for i in range(APPS)}
    assert runner.rebuilt and sum(r["to"] - r["from"] for r in runner.rebuilt) >= 300
    published = await outputs(backend, "reader-wiped", 600)
    assert len(published) == 600 and set(published.values()) == {1}, "every output once, none again"


async def test_a_store_rolled_back_applies_the_lost_records_again_once(backend: Backend, config: Config) -> None:
    await publish(backend.bus, HEALTH_CHECKS, events(0, 200))
    runner = runner_for(backend, config)
    async with runner:
        await eventually(counted(backend, 200), within=30)
        older = await snapshot(backend)
        await publish(backend.bus, HEALTH_CHECKS, events(200, 200))
        await eventually(counted(backend, 400), within=30)
        await restore(backend, older)  # an asynchronous replica promoted: the last writes are gone
        assert sum((await counts(backend)).values()) == 200
        await publish(backend.bus, HEALTH_CHECKS, events(400, 100))
        await eventually(counted(backend, 500), within=60)
    assert await counts(backend) == {f"app-{i}": 500 // APPS + (1 if i < 500 % APPS else 0) for i in range(APPS)}
    tallies = await backend.store.get_many([f"test:tally:app-{i}" for i in range(APPS)], Tally)
    assert all(t is not None and len(t.seen) == len(set(t.seen)) for t in tallies)
    assert [(r["from"], r["to"]) for r in runner.rebuilt], "the lost records were read again"
    published = await outputs(backend, "reader-rolled-back", 500)
    assert len(published) == 500 and set(published.values()) == {1}


async def test_a_processor_started_on_an_empty_store_replays_what_its_group_committed(backend: Backend,
                                                                                       config: Config) -> None:
    await publish(backend.bus, HEALTH_CHECKS, events(0, 120))
    async with runner_for(backend, config):
        await eventually(counted(backend, 120), within=30)
    await backend.store.redis.flushall()
    assert not (await backend.store.state_status(REPLAYED.name))[0], "a wiped store does not claim a whole state"
    runner = runner_for(backend, config)
    async with runner:
        await eventually(counted(backend, 120), within=30)
        await eventually(lambda: _whole(backend), within=10)
    assert {(r["from"], r["to"]) for r in runner.rebuilt} and sum(r["to"] - r["from"] for r in runner.rebuilt) == 120
    published = await outputs(backend, "reader-restarted", 120)
    assert len(published) == 120 and set(published.values()) == {1}


async def test_without_replay_a_wiped_processor_goes_on_from_its_commit(backend: Backend, config: Config) -> None:
    """A processor whose state may be relearned (a camera's baseline) does not read its whole log again."""
    approximate = dataclasses.replace(TALLY, name="test-approximate")
    await publish(backend.bus, HEALTH_CHECKS, events(0, 60))
    runner = runner_for(backend, config, approximate)
    async with runner:
        await eventually(counted(backend, 60), within=30)
        await backend.store.redis.flushall()
        await eventually(lambda: _whole(backend, approximate.name), within=10)
        await publish(backend.bus, HEALTH_CHECKS, events(60, 60))
        await eventually(counted(backend, 60), within=30)
    assert not runner.rebuilt


async def test_timers_wait_until_the_state_is_whole(backend: Backend, config: Config) -> None:
    """A tick decides from the whole state: none runs while the lost records are read again."""
    seen_at_tick: list[int] = []

    async def tick(ctx: Context) -> None:
        found = await ctx.state.store.get_many([f"test:tally:app-{i}" for i in range(APPS)], Tally)
        seen_at_tick.append(sum(t.count for t in found if t is not None))

    slow = dataclasses.replace(REPLAYED, name="test-ticking", tick=tick, tick_every=0.01)
    await publish(backend.bus, HEALTH_CHECKS, events(0, 400))
    async with runner_for(backend, config, slow, max_batch=20):
        await eventually(counted(backend, 400), within=30)
    await backend.store.redis.flushall()
    seen_at_tick.clear()
    runner = runner_for(backend, config, slow, max_batch=20)
    async with runner:
        await eventually(counted(backend, 400), within=30)
        await eventually(lambda: _ticked(seen_at_tick), within=10)
    assert runner.rebuilt
    assert seen_at_tick and set(seen_at_tick) == {400}, f"ticks saw a partial state: {sorted(set(seen_at_tick))}"


async def _ticked(seen: list[int]) -> bool:
    return bool(seen)


async def _whole(backend: Backend, processor: str = REPLAYED.name) -> bool:
    return (await backend.store.state_status(processor))[0]
