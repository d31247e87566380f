"""State from the log: how fast the complaints processor derives its state again after Redis is lost, beside how
fast it processes the same complaints live (the baseline), in the same process against the same servers.

A year of complaints is put on cc.complaints (each a receipt with the tracking token intake claimed, and its
citizen's contact). The complaints processor
then handles them live from an empty store (routing each, its SLA clocks, its token, its duplicate index,
its statistics, publishing what it decided); that is the live rate. Then Redis is wiped (FLUSHALL: the host
replaced) and a new member of the processor's group derives the whole state again from the log (the receipts,
the contacts and its own decisions, none of them published again); that is the rebuild, timed to the moment
the store holds every complaint again. Afterwards every complaint is looked up: missing ones are counted (0).

    python bench/rebuild.py [--complaints 200000] [--bus embedded|kafka]

The store is a real redis-server started here (no persistence, as the frames' benchmarks); the bus is the
embedded one by default (the figure is the processor's and Redis's), or tansu with --bus kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report  # noqa: E402
from command_center.bus import Bus, EmbeddedBus, Message  # noqa: E402
from command_center.clock import SystemClock  # noqa: E402
from command_center.config import Config, parse_config  # noqa: E402
from command_center.events import encode, new_event  # noqa: E402
from command_center.events.types import Location  # noqa: E402
from command_center.runtime import ProcessorRunner  # noqa: E402
from command_center.runtime.host import topic_specs  # noqa: E402
from command_center.store import Store  # noqa: E402
from command_center.testing.estates import complaint_estate  # noqa: E402
from command_center.testing.servers import KafkaBroker, RedisServer  # noqa: E402
from processors.complaints.events import COMPLAINT_CONTACTS, COMPLAINTS, ComplaintContact, ComplaintReceived  # noqa: E402
from processors.complaints.processor import COMPLAINTS_PROCESSOR  # noqa: E402
from processors.complaints.record import TokenRef, contact_ref_of, record_key, token_key  # noqa: E402
from processors.complaints.tokens import candidate  # noqa: E402

SERVICES = ("jalan-rusak", "sampah", "layanan-ktp", "lainnya")
YEAR = datetime(2026, 1, 1, tzinfo=UTC)


def complaints(n: int) -> list[Message]:
    """A year of complaints spread over the regency: receipt and contact of each."""
    out: list[Message] = []
    step = timedelta(days=365) / n
    for i in range(n):
        cid = str(uuid.UUID(int=i + 1, version=4))
        at = YEAR + step * i
        ref = contact_ref_of(cid)
        received = new_event("id.go.cc.complaint.received", source="/ingest/complaints/web", subject=cid, time=at,
                             data=ComplaintReceived(
                                 complaint_id=cid, channel="web", service_code=SERVICES[i % len(SERVICES)],
                                 description=f"Laporan warga ke-{i}: mohon ditindaklanjuti", requested_at=at,
                                 location=Location(lat=-7.60 - (i % 200) * 0.0012, long=110.15 + (i // 200 % 200) * 0.0015),
                                 contact_ref=ref, token=candidate(cid, 0)))
        contact = new_event("id.go.cc.complaint.contact", source="/ingest/complaints/web", subject=ref, time=at,
                            data=ComplaintContact(contact_ref=ref, complaint_id=cid, channel="web",
                                                  name=f"Warga {i}", phone=f"0812{i:08d}"))
        out += [Message(COMPLAINTS, received.key, encode(received)),
                Message(COMPLAINT_CONTACTS, contact.key, encode(contact))]
    return out


async def until_done(runner: ProcessorRunner, store: Store, ids: list[str], *, rebuild: bool) -> float:
    """Seconds until the runner has caught up and (for a rebuild) finished deriving; polled every 50 ms."""
    started = time.perf_counter()
    while True:
        await asyncio.sleep(0.05)
        if not runner.assignment() or runner.rebuilding:
            continue
        if rebuild and not runner.rebuilt:
            continue
        if runner.lag() == 0 and await store.redis.exists(record_key(ids[-1])):
            return time.perf_counter() - started


async def missing(store: Store, ids: list[str]) -> int:
    gone = 0
    for start in range(0, len(ids), 5000):
        found = await store.redis.mget([record_key(i) for i in ids[start:start + 5000]])
        gone += sum(1 for f in found if f is None)
    return gone


async def run(n: int, bus_kind: str) -> None:
    redis = RedisServer(persist=False)
    redis.start()
    broker = KafkaBroker() if bus_kind == "kafka" else None
    try:
        if broker is not None:
            broker.start()
            from command_center.bus.kafka import KafkaBus

            bus: Bus = KafkaBus(broker.bootstrap, topic_prefix="bench.")
        else:
            bus = EmbeddedBus(max_records_per_partition=2 * n + 10)
        config: Config = parse_config(complaint_estate(), env={})
        store = Store.open(redis.url)
        await bus.start()
        await bus.ensure_topics(topic_specs(config))
        messages = complaints(n)
        ids = [str(uuid.UUID(int=i + 1, version=4)) for i in range(n)]
        for start in range(0, len(messages), 5000):
            await bus.publish(messages[start:start + 5000])
        for start in range(0, n, 5000):  # each tracking token claimed at intake, as the API does before publishing
            await store.redis.mset({token_key(candidate(i, 0)): msgspec.json.encode(TokenRef(i))
                                    for i in ids[start:start + 5000]})

        live = ProcessorRunner(COMPLAINTS_PROCESSOR, bus=bus, store=store, config=config, clock=SystemClock(),
                               run_ticks=False)
        async with live:
            live_s = await until_done(live, store, ids, rebuild=False)
        keys = int(await store.redis.dbsize())
        used = (await store.redis.info("memory"))["used_memory"]

        await store.redis.flushall()  # the Redis host replaced: its disk gone with it
        again = ProcessorRunner(COMPLAINTS_PROCESSOR, bus=bus, store=store, config=config, clock=SystemClock(),
                                run_ticks=False)
        async with again:
            rebuild_s = await until_done(again, store, ids, rebuild=True)
        replayed = sum(r["to"] - r["from"] for r in again.rebuilt)
        records_live = replayed  # the same records: receipts, contacts and the decisions read back
        lost = await missing(store, ids)
        await store.close()
        await bus.stop()
    finally:
        if broker is not None:
            broker.stop()
        redis.stop()
    report("rebuild", {
        "bus": bus_kind, "complaints": n, "records_live": records_live, "records_replayed": replayed,
        "live_s": round(live_s, 2), "live_per_s": round(records_live / live_s),
        "rebuild_s": round(rebuild_s, 2), "rebuild_per_s": round(replayed / rebuild_s),
        "rebuild_vs_live": round((replayed / rebuild_s) / (records_live / live_s), 2),
        "missing_after_rebuild": lost, "keys": keys, "redis_mb": round(used / 2**20, 1),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--complaints", type=int, default=200_000)
    parser.add_argument("--bus", choices=("embedded", "kafka"), default="embedded")
    args = parser.parse_args()
    asyncio.run(run(args.complaints, args.bus))


if __name__ == "__main__":
    main()
