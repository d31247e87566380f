"""Events per second through the Kafka adapter (publish, consume, commit) beside raw aiokafka.

Starts its own tansu broker; runs raw aiokafka and the adapter alternately on fresh topics of the same
broker in one process, best of `--rounds`, and prints the ratio (target >= 0.7 of raw).

    python bench/bus.py [--events 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from bench._common import report  # noqa: E402
from command_center.bus import Message  # noqa: E402
from command_center.bus.kafka import KafkaBus  # noqa: E402
from command_center.events import encode, new_event  # noqa: E402
from command_center.testing.servers import KafkaBroker  # noqa: E402
from command_center.topics import TopicSpec  # noqa: E402
from processors.health.events import CheckResult  # noqa: E402

PARTITIONS = 6
GROUP = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 500, "rebalance_timeout_ms": 1000}


def payloads(n: int) -> list[tuple[bytes, bytes]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        app = f"app-{i % 500}"
        event = new_event("id.go.cc.health.check", source="/bench", subject=app, time=now,
                          data=CheckResult(app_id=app, check_id="http", kind="http", ok=True, started_at=now,
                                           latency_ms=12.5))
        out.append((event.key, encode(event)))
    return out


async def raw_aiokafka(bootstrap: str, data: list[tuple[bytes, bytes]]) -> float:
    topic = f"raw-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"g-{topic}", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=2000, **GROUP)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    started = time.perf_counter()

    async def produce() -> None:
        for i in range(0, len(data), 500):
            futures = [await producer.send(topic, v, key=k) for k, v in data[i : i + 500]]
            await asyncio.gather(*futures)

    async def consume() -> None:
        seen = 0
        while seen < len(data):
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            seen += sum(len(m) for m in batches.values())
            if batches:
                await consumer.commit()

    await asyncio.gather(produce(), consume())
    elapsed = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    return len(data) / elapsed


async def adapter(bootstrap: str, data: list[tuple[bytes, bytes]]) -> float:
    prefix = f"ad-{uuid.uuid4().hex[:8]}."
    bus = KafkaBus(bootstrap, topic_prefix=prefix, **GROUP)  # type: ignore[arg-type]
    await bus.start()
    await bus.ensure_topics([TopicSpec(name="bench", partitions=PARTITIONS, retention_ms=3_600_000)])
    consumer = bus.consumer("bench", ["bench"])
    await consumer.start()
    messages = [Message("bench", k, v) for k, v in data]
    started = time.perf_counter()

    async def produce() -> None:
        for i in range(0, len(messages), 500):
            await bus.publish(messages[i : i + 500])

    async def consume() -> None:
        seen = 0
        while seen < len(messages):
            records = await consumer.poll(max_records=2000, wait=0.5)
            seen += len(records)
            offsets: dict[tuple[str, int], int] = {}
            for r in records:
                offsets[(r.topic, r.partition)] = r.offset + 1
            if offsets:
                await consumer.commit(offsets)

    await asyncio.gather(produce(), consume())
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await bus.stop()
    return len(messages) / elapsed


async def main(events: int, rounds: int) -> None:
    data = payloads(events)
    with KafkaBroker() as broker:
        raw_rates, adapter_rates = [], []
        for r in range(rounds):
            raw_rates.append(await raw_aiokafka(broker.bootstrap, data))
            adapter_rates.append(await adapter(broker.bootstrap, data))
            print(f"round {r + 1}: raw aiokafka {raw_rates[-1]:,.0f} ev/s   adapter {adapter_rates[-1]:,.0f} ev/s")
    raw, ours = max(raw_rates), max(adapter_rates)
    ratio = ours / raw
    print(f"\nevents per run      {events:,} ({len(data[0][1])} bytes each, {PARTITIONS} partitions)")
    print(f"raw aiokafka        {raw:,.0f} events/s (produce, consume, commit; best of {rounds})")
    print(f"Kafka adapter       {ours:,.0f} events/s")
    print(f"ratio               {ratio:.2f} (target >= 0.70: {'met' if ratio >= 0.7 else 'NOT met'})")
    report("bus", {"events": events, "raw_events_per_s": round(raw), "adapter_events_per_s": round(ours),
                   "ratio": round(ratio, 3), "target_ratio": 0.7})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))
