"""Anomaly events per second through the incident processor with real Redis, and the end-to-end latency from
an anomaly event to the push arriving at a local webhook.

Starts its own redis-server. Throughput: `--events` anomalies (raise and clear, many apps and sensors) through
the incident processor on the embedded bus, beside the runtime alone on the same events. Latency: the
incident and notify processors running as in production (system clock, their own ticks), anomalies one at a
time, the push received by an aiohttp webhook in this process.

    python bench/incidents.py [--events 20000] [--pushes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from bench._common import report  # noqa: E402
from command_center.bus import EmbeddedBus, Message  # noqa: E402
from command_center.clock import ManualClock, SystemClock  # noqa: E402
from command_center.config import Config, parse_config  # noqa: E402
from command_center.events import encode, new_event  # noqa: E402
from command_center.runtime import Processor, ProcessorRunner  # noqa: E402
from command_center.store import Store  # noqa: E402
from command_center.testing.servers import RedisServer, free_port  # noqa: E402
from processors.health.events import (
    HEALTH_EVENTS,  # noqa: E402
    AppAnomaly,  # noqa: E402
)
from processors.incidents import INCIDENTS_PROCESSOR  # noqa: E402
from processors.notify import NOTIFY  # noqa: E402


def estate(apps: int, hook: str = "") -> Config:
    return parse_config({
        "webhook_secret": "bench",
        "apps": [{"id": f"app-{i}", "name": f"App {i}", "area": f"area-{i % 50}",
                  "checks": [{"id": "web", "kind": "http", "target": "http://x/"}]} for i in range(apps)],
        "contacts": [{"id": "noc", "name": "NOC", "webhook": hook or "http://127.0.0.1:9/"}],
        "escalation_policies": [{"id": "p", "steps": [{"wait_minutes": 0, "notify": ["noc"]}]}],
        "escalation_routes": [{"policy": "p"}],
        "incidents": {"correlation_window_minutes": 0.001},
    }, env={})


def anomaly(app: int, n: int, active: bool, at: datetime) -> Message:
    kind = "down" if active else "recovered"
    event = new_event(f"id.go.cc.health.{kind}", source="/bench", subject=f"app-{app}", time=at, id=f"b-{app}-{n}",
                      data=AppAnomaly(app_id=f"app-{app}", kind="down", active=active, state="down", previous="up",
                                      since=at, area=f"area-{app % 50}"))
    return Message(HEALTH_EVENTS, event.key, encode(event))


async def throughput(store: Store, processor: Processor, config: Config, messages: list[Message]) -> float:
    await store.redis.flushall()
    bus = EmbeddedBus()
    await bus.publish(messages)
    started = time.perf_counter()
    async with ProcessorRunner(processor, bus=bus, store=store, config=config, clock=ManualClock(), max_batch=1000,
                               poll_timeout=0.05, run_ticks=False):
        while sum(bus.committed(processor.name).values()) < len(messages):  # noqa: ASYNC110 (polls commits)
            await asyncio.sleep(0.01)
    return len(messages) / (time.perf_counter() - started)


async def latency(store: Store, pushes: int) -> list[float]:
    await store.redis.flushall()
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        arrived[body["incident_id"]] = time.perf_counter()
        got.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = estate(pushes, f"http://127.0.0.1:{port}/hook")
    bus = EmbeddedBus()
    clock = SystemClock()
    samples: list[float] = []
    async with (ProcessorRunner(INCIDENTS_PROCESSOR, bus=bus, store=store, config=config, clock=clock),
                ProcessorRunner(NOTIFY, bus=bus, store=store, config=config, clock=clock)):
        await asyncio.sleep(0.5)
        for i in range(pushes):
            got.clear()
            sent = time.perf_counter()
            await bus.publish([anomaly(i, 0, True, datetime.now(UTC))])
            await asyncio.wait_for(got.wait(), 10)
            samples.append(time.perf_counter() - sent)
            await asyncio.sleep(0.02)
    await runner.cleanup()
    return samples


async def main(events: int, pushes: int) -> None:
    apps = 2000
    start = datetime(2026, 1, 1, tzinfo=UTC)
    messages = [anomaly(i % apps, i, (i // apps) % 2 == 0, start + timedelta(seconds=i)) for i in range(events)]
    config = estate(apps)

    async def discard(event, ctx):  # type: ignore[no-untyped-def]
        return None

    baseline = Processor(name="discard", inputs=(HEALTH_EVENTS,), handle=discard)
    with RedisServer() as redis:
        store = Store.open(redis.url)
        base = await throughput(store, baseline, config, messages)
        rate = await throughput(store, INCIDENTS_PROCESSOR, config, messages)
        samples = sorted(await latency(store, pushes))
        await store.close()
    p50 = statistics.median(samples) * 1000
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))] * 1000
    print(f"anomalies {events:,} over {apps:,} apps (open, then resolve), real Redis")
    print(f"runtime only (discard)   {base:,.0f} events/s")
    print(f"incident processor       {rate:,.0f} events/s (target >= 5,000: {'met' if rate >= 5000 else 'NOT met'})")
    print(f"anomaly -> webhook push  p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(samples)} pushes "
          f"(target p99 < 500 ms: {'met' if p99 < 500 else 'NOT met'})")
    report("incidents", {"events": events, "incident_events_per_s": round(rate), "runtime_only_per_s": round(base),
                         "push_p50_ms": round(p50, 1), "push_p99_ms": round(p99, 1), "pushes": len(samples),
                         "target_events_per_s": 5000, "target_p99_ms": 500})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--pushes", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.pushes))
