"""Readings per second through ingest (the gate) and the sensor processor, CPU per reading, and Redis memory
per sensor after a simulated day.

Starts its own redis-server. The processor runs on the embedded bus with the real Redis store, the way
one processor instance works; the baseline is the same readings decoded and discarded by the same runner
(the runtime's own cost), in the same run.

    python bench/sensors.py [--sensors 1000] [--readings 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report  # noqa: E402
from command_center.bus import EmbeddedBus, Message  # noqa: E402
from command_center.clock import ManualClock  # noqa: E402
from command_center.config import Config, parse_config  # noqa: E402
from command_center.events import encode  # noqa: E402
from command_center.runtime import Processor, ProcessorRunner  # noqa: E402
from command_center.store import Store  # noqa: E402
from command_center.testing.servers import RedisServer  # noqa: E402
from ingest.sensors.gate import SensorGate  # noqa: E402
from processors.sensors import SENSORS  # noqa: E402
from processors.sensors.events import SENSOR_READINGS  # noqa: E402

RULES = [{"kind": "threshold", "raise_above": 250, "clear_below": 230, "min_duration_s": 60},
         {"kind": "rate", "delta": 30, "window_s": 600}, {"kind": "spike"}, {"kind": "flatline"},
         {"kind": "range", "min": 0, "max": 800}, {"kind": "stale", "intervals": 3}]


def estate(n: int) -> Config:
    return parse_config({"sensors": [
        {"id": f"s-{i}", "name": f"Sensor {i}", "kind": "water_level", "unit": "cm", "interval": 60,
         "max_rate": 10_000, "rules": RULES} for i in range(n)]}, env={})


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def payloads(sensors: int, readings: int, start: datetime, step_s: float) -> list[bytes]:
    rng = random.Random(5)
    out = []
    per = readings // sensors
    for k in range(per):
        at = (start + timedelta(seconds=k * step_s)).isoformat()
        for i in range(sensors):
            out.append(json.dumps({"sensor_id": f"s-{i}", "value": round(150 + rng.gauss(0, 3), 1), "unit": "cm",
                                   "time": at}).encode())
    return out


async def through(processor: Processor, config: Config, store: Store, messages: list[Message]) -> tuple[float, float]:
    bus = EmbeddedBus()
    await bus.publish(messages)
    runner = ProcessorRunner(processor, bus=bus, store=store, config=config, clock=ManualClock(), max_batch=2000,
                             poll_timeout=0.05, run_ticks=False)
    c0, t0 = cpu(), time.perf_counter()
    async with runner:
        while sum(bus.committed(processor.name).values()) < len(messages):  # noqa: ASYNC110 (polls commits)
            await asyncio.sleep(0.01)
    return len(messages) / (time.perf_counter() - t0), (cpu() - c0) / len(messages)


async def main(sensors: int, readings: int) -> None:
    config = estate(sensors)
    gate = SensorGate(config)
    now = datetime.now(UTC)
    raw = payloads(sensors, readings, now - timedelta(hours=1), 3600 / (readings // sensors))
    c0, t0 = cpu(), time.perf_counter()
    messages = []
    for body in raw:
        events, _ = gate.admit(body, now, "http")
        messages.extend(Message(SENSOR_READINGS, e.key, encode(e)) for e in events)
    ingest_rate = len(raw) / (time.perf_counter() - t0)
    ingest_cpu = (cpu() - c0) / len(raw)

    with RedisServer() as redis:
        store = Store.open(redis.url)

        async def discard(event, ctx):  # type: ignore[no-untyped-def]
            return None

        baseline = Processor(name="discard", inputs=(SENSOR_READINGS,), handle=discard)
        base_rate, base_cpu = await through(baseline, config, store, messages)
        rate, cpu_each = await through(SENSORS, config, store, messages)

        # a simulated day: one reading a minute per sensor for 24 hours, for 100 sensors
        day_sensors = 100
        await store.redis.flushall()
        empty = (await store.redis.info("memory"))["used_memory"]
        day = parse_config({"sensors": [s.model_dump() for s in config.sensors[:day_sensors]]}, env={})
        day_gate = SensorGate(day)
        day_messages = []
        for body in payloads(day_sensors, day_sensors * 1440, now - timedelta(hours=24), 60):
            events, _ = day_gate.admit(body, now, "http")
            day_messages.extend(Message(SENSOR_READINGS, e.key, encode(e)) for e in events)
        await through(SENSORS, day, store, day_messages)
        per_sensor = ((await store.redis.info("memory"))["used_memory"] - empty) / day_sensors
        await store.close()

    print(f"sensors {sensors}, readings {len(messages):,} (rules: threshold, rate, spike, flatline, range, stale)")
    print(f"ingest gate            {ingest_rate:,.0f} readings/s  {ingest_cpu * 1e6:.0f} us CPU each")
    print(f"runtime only (discard) {base_rate:,.0f} readings/s  {base_cpu * 1e6:.0f} us CPU each")
    print(f"sensor processor       {rate:,.0f} readings/s  {cpu_each * 1e6:.0f} us CPU each "
          f"(target >= 20,000/s: {'met' if rate >= 20_000 else 'NOT met'}); {rate / base_rate:.2f} of runtime only")
    print(f"Redis after a simulated day ({day_sensors} sensors x 1,440 readings): {per_sensor / 1024:.1f} KiB per sensor")
    report("sensors", {"sensors": sensors, "readings": len(messages), "ingest_per_s": round(ingest_rate),
                       "processor_per_s": round(rate), "runtime_only_per_s": round(base_rate),
                       "cpu_us_per_reading": round(cpu_each * 1e6, 1), "redis_bytes_per_sensor_day": round(per_sensor),
                       "target_per_s": 20_000})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--readings", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(main(args.sensors, args.readings))
