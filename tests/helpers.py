"""Shared test helpers: event builders, a counting processor, and waiting for a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import msgspec

from command_center.bus import Bus, Message
from command_center.events import Event, decode, derive_id, encode, new_event
from command_center.runtime import Context, Processor
from processors.health.events import HEALTH_CHECKS, HEALTH_EVENTS, AppAnomaly, CheckResult

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    """The headers that present `token` (a machine's credential; people sign in with the session cookie)."""
    return {"Authorization": f"Bearer {token}"}


def check_event(app: str, n: int, *, ok: bool = True, at: datetime = T0) -> Event:
    return new_event(
        "id.go.cc.health.check", source="/tests", subject=app, time=at, id=f"{app}-{n}",
        data=CheckResult(app_id=app, check_id="http", kind="http", ok=ok, started_at=at, latency_ms=float(n)),
    )


async def publish(bus: Bus, topic: str, events: list[Event]) -> None:
    await bus.publish([Message(topic, e.key, encode(e)) for e in events])


class Tally(msgspec.Struct):
    count: int = 0
    seen: list[str] = []


async def count_checks(event: Event, ctx: Context) -> None:
    """Counts checks per app in state and emits one derived event per input, with a derived id."""
    key = f"test:tally:{event.subject}"
    tally = await ctx.state.get(key, Tally) or Tally()
    if event.id in tally.seen:
        return
    tally = Tally(count=tally.count + 1, seen=[*tally.seen, event.id])
    ctx.state.put(key, tally)
    ctx.emit(HEALTH_EVENTS, new_event(
        "id.go.cc.health.down", source="/tests/tally", subject=event.subject, time=event.time,
        id=derive_id("tally", event.id),
        data=AppAnomaly(app_id=event.subject, kind="down", active=True, state="down", previous="up", since=event.time),
    ))


TALLY = Processor(name="test-tally", inputs=(HEALTH_CHECKS,), outputs=(HEALTH_EVENTS,), handle=count_checks)


async def eventually(predicate: Callable[[], Awaitable[bool]], *, within: float = 20.0, every: float = 0.05) -> None:
    """Wait until `predicate()` is true; fail with the timeout otherwise."""
    deadline = time.monotonic() + within
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)


async def drain(bus: Bus, topic: str, *, group: str, expect: int, within: float = 30.0) -> list[Event]:
    """Read `expect` events from `topic` with a fresh group (from the earliest offset)."""
    consumer = bus.consumer(group, [topic])
    await consumer.start()
    out: list[Event] = []
    deadline = time.monotonic() + within
    try:
        while len(out) < expect and time.monotonic() < deadline:
            for record in await consumer.poll(max_records=1000, wait=0.5):
                out.append(decode(record.value))
        # one more short poll to catch anything beyond what was expected
        for record in await consumer.poll(max_records=1000, wait=0.3):
            out.append(decode(record.value))
    finally:
        await consumer.stop()
    return out



async def collect(bus: Bus, topic: str, *, group: str, enough: Callable[[list[Event]], bool],
                  within: float = 20.0) -> list[Event]:
    """Read `topic` from the start until `enough(events)` holds, then one short poll for anything more."""
    consumer = bus.consumer(group, [topic])
    await consumer.start()
    out: list[Event] = []

    async def read() -> bool:
        out.extend(decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.2))
        return enough(out)

    try:
        await eventually(read, within=within)
        await read()
    finally:
        await consumer.stop()
    return out


class Mailbox:
    """An SMTP server's inbox (aiosmtpd's handler): every message it accepted."""

    def __init__(self) -> None:
        from command_center.testing.servers import free_port

        self.messages: list[EmailMessage] = []
        self.port = free_port()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"
