"""Shared test helpers: event builders, a counting processor, and waiting for a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec

from command_center.bus import Bus, Message
from command_center.events import Event, decode, derive_id, encode, new_event
from command_center.events.types import AppAnomaly, CheckResult
from command_center.runtime import Context, Processor
from command_center.topics import HEALTH_CHECKS, HEALTH_EVENTS

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


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


def complaint_estate(**complaints: object) -> dict:  # type: ignore[type-arg]
    """A small regency for complaint tests: two districts, three agencies with heads, four services."""
    from command_center.api.auth import demo_api_keys, demo_tokens, hash_token

    tokens = [t.model_dump() for t in demo_tokens()]
    tokens.append({"name": "desk-dlh", "role": "operator", "sha256": hash_token("desk-dlh"), "agency": "dlh"})
    return {
        "site": {"timezone": "Asia/Jakarta", "public_url": "http://cc.test"},
        "webhook_secret": "test-webhook-secret",
        "tokens": tokens,
        "areas": [{"id": "depok", "name": "Depok", "center": {"lat": -7.765, "long": 110.400}, "radius_km": 4},
                  {"id": "mlati", "name": "Mlati", "polygon": [{"lat": -7.70, "long": 110.32}, {"lat": -7.70, "long": 110.37},
                                                                {"lat": -7.76, "long": 110.37}, {"lat": -7.76, "long": 110.32}]}],
        "agencies": [{"id": "dpupkp", "name": "Dinas PUPKP", "head": "kadis-pu"},
                     {"id": "dlh", "name": "Dinas Lingkungan Hidup", "head": "kadis-dlh"},
                     {"id": "diskominfo", "name": "Diskominfo"}],
        "contacts": [{"id": "kadis-pu", "name": "Kepala Dinas PU"}, {"id": "kadis-dlh", "name": "Kepala DLH"}],
        "services": [
            {"code": "jalan-rusak", "name": "Jalan rusak", "group": "infrastruktur", "keywords": ["jalan", "berlubang"],
             "service_notice": "Petugas akan meninjau lokasi."},
            {"code": "sampah", "name": "Sampah", "keywords": ["sampah", "tps"], "response_minutes": 30,
             "feedback_minutes": 720},
            {"code": "layanan-ktp", "name": "Layanan KTP-el", "keywords": ["ktp"], "attributes": [
                {"code": "jenis", "description": "Jenis layanan", "datatype": "singlevaluelist", "required": True,
                 "values": [{"key": "ktp", "name": "KTP-el"}, {"key": "kk", "name": "Kartu Keluarga"}]},
                {"code": "antrean", "description": "Nomor antrean", "datatype": "number"}]},
            {"code": "lainnya", "name": "Lainnya"}],
        "routing": [{"agency": "dpupkp", "service_codes": ["jalan-rusak"]},
                    {"agency": "dlh", "service_codes": ["sampah"]}],
        "complaints": {"jurisdiction_id": "slemankab.go.id", "api_keys": [k.model_dump() for k in demo_api_keys()],
                       "default_service": "lainnya", "default_agency": "diskominfo", **complaints},
    }
