"""The archive on a PostgreSQL of its own (initdb on a free port, like the tests):

1. Write throughput: events per second through the archive's writer (batches of 2,000, as the runner hands them:
   one transaction each, ids recorded, complaint rows folded and upserted, changes, audit, roll-ups), beside a
   bare COPY of the very rows the writer produced into an empty copy of the schema, in the same run.
   Target: >= 10,000 events/s.
2. The monthly agency report over 1,000,000 complaints spanning five years (rows loaded by COPY): p50 and p95
   latency of one month by agency (target p95 < 500 ms), of a whole year by agency and month, and the database's
   size per million complaints.

    python bench/archive.py [--complaints 20000] [--history 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import report

from command_center.clock import SystemClock
from command_center.config import parse_config
from command_center.events import Event, new_event
from command_center.events.types import AuditAction
from command_center.sql import open_engine
from command_center.testing.estates import complaint_estate
from command_center.testing.servers import PostgresServer
from processors.archive import reports, schema
from processors.archive.db import upgrade
from processors.archive.writer import Archive
from processors.health.events import CheckResult
from processors.sensors.events import SensorReading
from tests.archive.lifecycle import lifecycles, routed

BATCH = 2000  # the archive processor's batch (its max_batch)
START = datetime(2021, 1, 1, tzinfo=UTC)


def events(n: int) -> list[Event]:
    """A realistic mix: complaints' whole lifecycles (receipt, routing, answers, audit) with checks and readings."""
    config = parse_config(complaint_estate(), env={})
    receipts, _, later = lifecycles(config, n, datetime(2026, 1, 1, tzinfo=UTC), spread_days=180)
    out: list[Event] = [*receipts, *(routed(r, "dpupkp") for r in receipts), *later]
    out += [new_event("id.go.cc.audit.action", source="/bench", subject=e.subject, time=e.time,
                      data=AuditAction(actor="desk", role="agency:dpupkp", action=f"complaint.{e.data.action}",
                                       target_kind="complaint", target_id=e.subject)) for e in later
            if hasattr(e.data, "action")]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        t = at + timedelta(seconds=30 * i)
        out.append(new_event("id.go.cc.health.check", source="/bench", subject=f"app-{i % 40}", time=t,
                             data=CheckResult(app_id=f"app-{i % 40}", check_id="web", kind="http", ok=i % 97 != 0,
                                              started_at=t, latency_ms=100 + i % 300)))
        out.append(new_event("id.go.cc.sensor.reading", source="/bench", subject=f"awlr-{i % 60}", time=t,
                             data=SensorReading(sensor_id=f"awlr-{i % 60}", quantity="water_level", unit="cm",
                                                value=50 + i % 70, measured_at=t)))
    return out


async def fresh(server: PostgresServer, name: str) -> str:
    """A new database at the newest schema."""
    url = await server.new_database(name)
    engine = open_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def write_throughput(server: PostgresServer, n: int) -> dict[str, Any]:
    import asyncpg

    stream = events(n)
    order = [stream[i:i + BATCH] for i in range(0, len(stream), BATCH)]
    url = await fresh(server, "bench_archive")
    engine = open_engine(url)
    archive = Archive(engine, timezone="Asia/Jakarta", clock=SystemClock())
    started = time.perf_counter()
    for batch in order:
        await archive.write(batch)
    seconds = time.perf_counter() - started
    await engine.dispose()
    # The bare COPY: the very rows the writer produced, into an empty copy of the schema.
    source, target = await asyncpg.connect(_dsn(url)), await asyncpg.connect(_dsn(await fresh(server, "bench_copy")))
    tables = [*schema.HISTORY, schema.counted]
    rows = {t.name: await source.fetch(f'SELECT * FROM "{t.name}"') for t in tables}
    started = time.perf_counter()
    for t in tables:
        if rows[t.name]:
            await target.copy_records_to_table(t.name, records=[tuple(r) for r in rows[t.name]],
                                               columns=list(rows[t.name][0].keys()))
    copy_seconds = time.perf_counter() - started
    await source.close()
    await target.close()
    return {"events": len(stream), "rows": sum(len(r) for r in rows.values()),
            "archive_events_per_s": round(len(stream) / seconds), "copy_events_per_s": round(len(stream) / copy_seconds),
            "archive_s": round(seconds, 2), "copy_s": round(copy_seconds, 2)}


async def report_latency(server: PostgresServer, n: int) -> dict[str, Any]:
    import asyncpg

    url = await fresh(server, "bench_history")
    conn = await asyncpg.connect(_dsn(url))
    rng = random.Random(1)
    agencies = [f"opd-{i:02d}" for i in range(30)]
    areas = [f"kec-{i:02d}" for i in range(17)]
    services = [f"cat-{i:02d}" for i in range(40)]
    columns = [c.name for c in schema.complaints.columns]
    span = 5 * 365 * 86_400
    loaded = time.perf_counter()
    for start in range(0, n, 50_000):
        records = []
        for i in range(start, min(n, start + 50_000)):
            at = START + timedelta(seconds=span * i / n)
            local = at + timedelta(hours=7)
            responded = at + timedelta(minutes=rng.expovariate(1 / 50)) if rng.random() < 0.9 else None
            due = at + timedelta(minutes=60)
            row = {"id": f"c{i:08d}", "channel": rng.choice(("web", "sms", "open311", "phone", "whatsapp")),
                   "service_code": rng.choice(services), "agency": rng.choice(agencies), "area": rng.choice(areas),
                   "rule": "routing.1", "month": local.strftime("%Y-%m"), "received_at": at,
                   "status": "closed" if responded and rng.random() < 0.8 else "open",
                   "duplicate_of": "" if rng.random() < 0.95 else f"c{max(0, i - 3):08d}", "response_due": due,
                   "feedback_due": at + timedelta(hours=24), "responded_at": responded,
                   "feedback_at": responded + timedelta(hours=3) if responded else None, "closed_at": None,
                   "response_s": (responded - at).total_seconds() if responded else None,
                   "responded_in_sla": responded <= due if responded else None,
                   "feedback_in_sla": True if responded else None, "breached_response": False,
                   "breached_feedback": False, "reopened": 0, "rating": rng.randint(1, 5) if rng.random() < 0.2 else None,
                   "rated_at": None, "upstream": "", "upstream_id": "", "updated_at": at}
            records.append(tuple(row[c] for c in columns))
        await conn.copy_records_to_table("complaints", records=records, columns=columns)
    await conn.execute("ANALYZE complaints")
    load_s = time.perf_counter() - loaded
    size = await conn.fetchval("SELECT pg_total_relation_size('complaints')")
    await conn.close()
    config = parse_config(complaint_estate(), env={})
    engine = open_engine(url)
    months = sorted({(START + timedelta(days=d)).strftime("%Y-%m") for d in range(0, 5 * 365, 20)})
    monthly, yearly = [], []
    async with engine.connect() as c:
        await reports.complaints(c, config, months[0], months[0], ("agency",))  # warm
        for month in rng.sample(months, 40):
            t = time.perf_counter()
            table = await reports.complaints(c, config, month, month, ("agency",))
            monthly.append(time.perf_counter() - t)
            assert len(table.rows) == len(agencies)
        for year in ("2021", "2022", "2023", "2024", "2025"):
            t = time.perf_counter()
            await reports.complaints(c, config, f"{year}-01", f"{year}-12", ("agency", "month"))
            yearly.append(time.perf_counter() - t)
    await engine.dispose()

    def p(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100)[q - 1] * 1000, 1) if len(values) > 1 else values[0] * 1000

    return {"complaints": n, "load_s": round(load_s, 1), "monthly_agency_p50_ms": p(monthly, 50),
            "monthly_agency_p95_ms": p(monthly, 95), "yearly_agency_by_month_max_ms": round(max(yearly) * 1000, 1),
            "complaints_table_mb_per_million": round(size / 1e6 * 1_000_000 / n, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=20_000, help="complaints' lifecycles written (default 20,000)")
    parser.add_argument("--history", type=int, default=1_000_000, help="complaints in the report's history")
    args = parser.parse_args()
    with PostgresServer() as server:
        write = await write_throughput(server, args.complaints)
        print(f"archive writer: {write['archive_events_per_s']:,} events/s ({write['events']:,} events, "
              f"{write['rows']:,} rows); bare COPY of the same rows: {write['copy_events_per_s']:,} events/s")
        latency = await report_latency(server, args.history)
        print(f"monthly agency report over {args.history:,} complaints (5 years): p50 "
              f"{latency['monthly_agency_p50_ms']} ms, p95 {latency['monthly_agency_p95_ms']} ms; a year by agency "
              f"and month: at most {latency['yearly_agency_by_month_max_ms']} ms; "
              f"{latency['complaints_table_mb_per_million']} MB per million complaints")
    report("archive", {**write, **latency, "target_events_per_s": 10_000, "target_p95_ms": 500})


if __name__ == "__main__":
    asyncio.run(main())
