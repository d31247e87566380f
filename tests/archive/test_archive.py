"""The archive over both buses and both databases (SQLite, the embedded default; PostgreSQL, production): what it
holds of each complaint is what the API shows, a replay from the first offset changes nothing, roll-ups count
each event once, the reports' figures are the ones the events make, CSV and XLSX say the same as JSON, the
open data names no one, and the migrations make exactly the tables the code writes."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from openpyxl import load_workbook
from sqlalchemy import func, select

from command_center.api.app import build_app
from command_center.bus import EmbeddedBus
from command_center.clock import ManualClock
from command_center.config import Config
from command_center.errors import Unavailable
from command_center.events import Event, new_event
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import open_runtime, topic_specs
from command_center.runtime.http import HttpServer
from command_center.sql import open_engine
from command_center.store import MEMORY_URL, Store
from processors.archive import schema
from processors.archive.commands import counts
from processors.archive.db import upgrade
from processors.archive.processor import ARCHIVE_PROCESSOR
from processors.archive.writer import Archive
from processors.complaints import COMPLAINTS_PROCESSOR
from processors.complaints.events import COMPLAINT_CONTACTS, COMPLAINTS
from processors.composition import API_ROUTES
from processors.health.events import CheckResult
from processors.sensors.events import SensorReading
from tests.archive.lifecycle import action, archive_estate, archived, differences, lifecycles, routed, rows_of
from tests.conftest import Backend
from tests.helpers import T0, eventually, publish

OPERATOR = {"Authorization": "Bearer demo-operator"}


@dataclass
class Api:
    url: str
    clock: ManualClock

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        async with aiohttp.ClientSession() as s, s.get(self.url + path, headers=headers or OPERATOR) as r:
            return r.status, r.content_type, await r.read()

    async def json(self, path: str, headers: dict[str, str] | None = None) -> Any:
        async with aiohttp.ClientSession() as s, s.get(self.url + path, headers=headers or OPERATOR) as r:
            assert r.status == 200, await r.text()
            return await r.json()


@contextlib.asynccontextmanager
async def reports_api(config: Config, clock: ManualClock) -> AsyncIterator[Api]:
    """The API over the archive alone (no bus or store behind it: the reports read only the database)."""
    async with open_runtime(config, clock=clock, bus=EmbeddedBus(), store=Store.open(MEMORY_URL)) as rt, \
            HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as server:
        yield Api(f"http://127.0.0.1:{server.port}", clock)


@contextlib.asynccontextmanager
async def serve(config: Config, backend: Backend, clock: ManualClock) -> AsyncIterator[Api]:
    async with open_runtime(config, bus=backend.bus, store=backend.store, clock=clock) as rt, \
            HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as server:
        yield Api(f"http://127.0.0.1:{server.port}", clock)


async def test_the_archive_holds_what_the_api_shows_and_a_replay_changes_nothing(
        backend: Backend, archive_url: str) -> None:
    config, clock = archive_estate(archive_url), ManualClock(T0 + timedelta(days=100))
    receipts, contacts, later = lifecycles(config, 150, T0, spread_days=60)
    engine = open_engine(archive_url)

    def runner(processor: Any, group: str | None = None) -> ProcessorRunner:
        return ProcessorRunner(processor, bus=backend.bus, store=backend.store, config=config, clock=clock,
                               group=group, poll_timeout=0.1, run_ticks=False)

    try:
        async with runner(COMPLAINTS_PROCESSOR), runner(ARCHIVE_PROCESSOR):
            await publish(backend.bus, COMPLAINTS, receipts)
            await publish(backend.bus, COMPLAINT_CONTACTS, contacts)
            await publish(backend.bus, COMPLAINTS, later)
            async with serve(config, backend, clock) as api:
                async def views() -> list[dict[str, Any]]:
                    return [await api.json(f"/api/complaints/{e.data.complaint_id}") for e in receipts]

                async def agree() -> bool:
                    for e in receipts:  # every complaint routed (partitions go at their own pace, the last is no sign)
                        if (await api.get(f"/api/complaints/{e.data.complaint_id}"))[0] != 200:
                            return False
                    return not differences(await views(), *await archived(engine))

                with contextlib.suppress(AssertionError):  # the differences left say what is wrong
                    await eventually(agree, within=60, every=0.5)
                assert differences(await views(), *await archived(engine))[:5] == []
        before = await counts(engine)
        rows_before = await archived(engine)
        assert before["complaints"] == 150 and before["complaint_changes"] > 450
        async with runner(ARCHIVE_PROCESSOR, group="archive-replay") as again:  # every offset again, from the first
            async def replayed() -> bool:
                return again.batches > 0 and again.lag() == 0
            await eventually(replayed, within=60)
        assert await counts(engine) == before
        assert await archived(engine) == rows_before
        async with engine.connect() as conn:  # nothing of the citizen: not a word of the text, not the number
            text = " ".join(str(v) for r in await conn.execute(select(schema.complaints)) for v in r)
        assert "Warga" not in text and "berlubang" not in text and "nomor" not in text
        assert not [c.data.phone for c in contacts if c.data.phone in text]
    finally:
        await engine.dispose()


def check(app: str, at: datetime, ok: bool, latency: float) -> Event:
    return new_event("id.go.cc.health.check", source="/tests", subject=app, time=at,
                     data=CheckResult(app_id=app, check_id="web", kind="http", ok=ok, started_at=at,
                                      latency_ms=latency))


def reading(sensor: str, at: datetime, value: float) -> Event:
    return new_event("id.go.cc.sensor.reading", source="/tests", subject=sensor, time=at,
                     data=SensorReading(sensor_id=sensor, quantity="water_level", unit="cm", value=value,
                                        measured_at=at))


async def test_roll_ups_count_each_event_once(archive_url: str) -> None:
    apps = [{"id": "lpse", "name": "LPSE", "uptime_target_pct": 99.0,
             "checks": [{"id": "web", "kind": "http", "target": "https://lpse.test/"}]}]
    config = archive_estate(archive_url, apps=apps)
    engine = open_engine(archive_url)
    archive = Archive(engine, timezone="Asia/Jakarta", clock=ManualClock(T0))
    start = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 23:00 in Jakarta: the hour before April there
    checks = [check("lpse", start + timedelta(minutes=i), ok=i % 50 != 0, latency=100 + i) for i in range(180)]
    levels = [reading("awlr-01", start + timedelta(minutes=i), value=50 + (i % 60)) for i in range(180)]
    try:
        half = len(checks) // 2
        assert await archive.write(checks[:half] + levels) == half + len(levels)
        assert await archive.write(checks[:half] + levels + checks[half:] + checks[-3:]) == len(checks) - half
        async with engine.connect() as conn:
            hours = (await conn.execute(select(schema.app_hours).order_by(schema.app_hours.c.hour))).mappings().all()
            sensor = (await conn.execute(select(schema.sensor_hours).order_by(schema.sensor_hours.c.hour))).mappings().all()
        assert [(h["month"], h["checks"], h["ok"], h["latency_ms_max"]) for h in hours] == [
            ("2026-03", 60, 58, 159.0), ("2026-04", 60, 59, 219.0), ("2026-04", 60, 59, 279.0)]
        assert [(s["count"], s["min"], s["max"], s["sum"] / s["count"]) for s in sensor] == [(60, 50, 109, 79.5)] * 3
        clock = ManualClock(datetime(2026, 5, 2, tzinfo=UTC))
        async with reports_api(config, clock) as api:
            body = await api.json("/api/reports/uptime?from=2026-03&to=2026-04")
            by_month = await api.json("/api/reports/sensors?from=2026-03&to=2026-04")
            by_day = await api.json("/api/reports/sensors?from=2026-03&to=2026-04&by=day&sensor=awlr-01")
            none = await api.json("/api/reports/sensors?from=2026-03&to=2026-04&sensor=elsewhere")
        assert [(r["period"], r["readings"], r["min"], r["max"], r["mean"]) for r in by_month["rows"]] == [
            ("2026-03", 60, 50, 109, 79.5), ("2026-04", 120, 50, 109, 79.5)]
        assert [(r["period"], r["readings"]) for r in by_day["rows"]] == [("2026-03-31", 60), ("2026-04-01", 120)]
        assert none["rows"] == []
        assert [(r["month"], r["checks"], r["uptime_pct"], r["target_pct"], r["met"]) for r in body["rows"]] == [
            ("2026-03", 60, round(100 * 58 / 60, 3), 99.0, False), ("2026-04", 120, round(100 * 118 / 120, 3), 99.0, False)]
    finally:
        await engine.dispose()


async def test_the_reports_say_what_the_events_make(archive_url: str) -> None:
    config = archive_estate(archive_url)
    engine = open_engine(archive_url)
    archive = Archive(engine, timezone="Asia/Jakarta", clock=ManualClock(T0))
    receipts, _, _ = lifecycles(config, 240, datetime(2026, 1, 1, tzinfo=UTC), spread_days=88, seed=3)
    agencies = ("dpupkp", "dlh")
    expected: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"received": 0, "in_sla": 0, "times": []})
    events: list[Event] = []
    for i, receipt in enumerate(receipts):
        agency, at = agencies[i % 2], receipt.data.requested_at
        month = (at + timedelta(hours=7)).strftime("%Y-%m")
        events += [receipt, routed(receipt, agency)]
        row = expected[(agency, month)]
        row["received"] += 1
        if i % 5:
            minutes = (i * 37) % 150  # 0 .. 149 minutes: within the hour or not
            events.append(action(receipt.data.complaint_id, "respond", at + timedelta(minutes=minutes), agency))
            row["times"].append(minutes)
            row["in_sla"] += minutes <= 60
    try:
        await archive.write(events)
        clock = ManualClock(datetime(2026, 4, 10, tzinfo=UTC))
        async with reports_api(config, clock) as api:
            body = await api.json("/api/reports/complaints?from=2026-01&to=2026-03&by=agency,month")
            got = {(r["agency"], r["month"]): r for r in body["rows"]}
            assert set(got) == set(expected)
            for key, want in expected.items():
                r = got[key]
                assert (r["received"], r["responded_in_sla"], r["open"]) == \
                    (want["received"], want["in_sla"], want["received"]), key  # answered, none closed
                median, p90 = np.percentile(want["times"], [50, 90])  # linear, as percentile_cont
                assert r["response_median_min"] == pytest.approx(round(median, 1), abs=0.051)
                assert r["response_p90_min"] == pytest.approx(round(p90, 1), abs=0.051)
                assert r["responded_in_sla_pct"] == round(100 * want["in_sla"] / want["received"], 1)
            status, kind, raw = await api.get("/api/reports/complaints?from=2026-01&to=2026-03&format=csv")
            assert status == 200 and kind == "text/csv"
            assert [dict(r) for r in csv.DictReader(io.StringIO(raw.decode()))] == \
                [{k: "" if v is None else str(v) for k, v in r.items()} for r in body["rows"]]
            status, kind, raw = await api.get("/api/reports/complaints?from=2026-01&to=2026-03&format=xlsx")
            sheet = load_workbook(io.BytesIO(raw)).active
            values = list(sheet.iter_rows(values_only=True))
            assert status == 200 and values[0][0] == "Kode OPD (agency)" and len(values) == len(body["rows"]) + 1
            assert [list(v) for v in values[1:]] == [[r[c["name"]] for c in body["columns"]] for r in body["rows"]]
            desk = {"Authorization": "Bearer desk-dlh"}  # an agency's desk sees its own agency only
            mine = await api.json("/api/reports/complaints?from=2026-01&to=2026-03&by=agency", headers=desk)
            assert [r["agency"] for r in mine["rows"]] == ["dlh"]
            districts = await api.json("/api/reports/complaints/districts?from=2026-01&to=2026-03")
            depok = next(r for r in districts["rows"] if r["area"] == "depok")
            assert depok["received"] == 240 and depok["per_10k"] == round(240 * 10_000 / 129_000, 2)
            status, _, raw = await api.get("/api/reports/complaints?by=agency,nothing")
            assert status == 400 and b"nothing" in raw
            status, _, _ = await api.get("/api/reports/complaints", headers={"Authorization": "Bearer demo-police"})
            assert status == 403
    finally:
        await engine.dispose()


async def test_open_data_is_whole_months_by_kemendagri_code_and_names_no_one(archive_url: str) -> None:
    config = archive_estate(archive_url)
    engine = open_engine(archive_url)
    receipts, contacts, later = lifecycles(config, 120, datetime(2026, 2, 1, tzinfo=UTC), spread_days=50)
    try:
        await Archive(engine, timezone="Asia/Jakarta", clock=ManualClock(T0)).write(
            [*receipts, *(routed(r, "dpupkp") for r in receipts), *later])
        clock = ManualClock(datetime(2026, 3, 15, tzinfo=UTC))
        async with reports_api(config, clock) as api:
            catalogue = await api.json("/open-data/", headers={})
            status, kind, raw = await api.get("/open-data/complaints-monthly.csv", headers={})
            meta = await api.json("/open-data/complaints-monthly.json", headers={})
            missing, _, _ = await api.get("/open-data/contacts.csv", headers={})
        rows = list(csv.DictReader(io.StringIO(raw.decode())))
        assert status == 200 and kind == "text/csv" and missing == 404
        assert [d["name"] for d in catalogue["datasets"]] == ["complaints-monthly", "incidents-monthly", "uptime-monthly"]
        assert {r["month"] for r in rows} == {"2026-02"}  # March has not ended
        assert {r["area_code"] for r in rows} == {"34.04.07"}
        text = raw.decode()
        for e in contacts[:20]:  # nobody's name, number, words or place
            assert e.data.name not in text and e.data.phone not in text
        assert "nomor" not in text and "-7.7" not in text
        fields = meta["resources"][0]["schema"]["fields"]
        assert [f["name"] for f in fields] == list(rows[0].keys())
        assert meta["period"] == {"start": "2026-02", "end": "2026-02"} and meta["personal_data"] is False
        assert meta["licenses"] == [{"name": "CC-BY-4.0"}] and meta["producer"] and meta["custodian"]
        assert next(f for f in fields if f["name"] == "response_median_min")["unit"] == "minutes"
        assert sum(int(r["received"]) for r in rows) == sum(1 for r in receipts if r.data.requested_at <
                                                            datetime(2026, 2, 28, 17, tzinfo=UTC))
    finally:
        await engine.dispose()


async def test_the_migrations_make_exactly_the_tables_the_code_writes(archive_url: str) -> None:
    engine = open_engine(archive_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), schema.metadata))
            tables = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
            rows = (await conn.execute(select(func.count()).select_from(schema.complaints))).scalar_one()
        assert diff == [] and rows == 0
        assert set(tables) == {t.name for t in schema.metadata.sorted_tables} | {"alembic_version"}
    finally:
        await engine.dispose()


def incident(i: int, opened: datetime, ack_min: float | None, resolve_min: float | None, source: str) -> Event:
    from processors.incidents.events import IncidentState, TimelineEntry

    acked = opened + timedelta(minutes=ack_min) if ack_min is not None else None
    resolved = opened + timedelta(minutes=resolve_min) if resolve_min is not None else None
    timeline = [TimelineEntry(at=opened, kind="opened")]
    if acked:
        timeline.append(TimelineEntry(at=acked, kind="acknowledged", actor="Sari"))
    if resolved:
        timeline.append(TimelineEntry(at=resolved, kind="resolved", actor="Sari"))
    state = IncidentState(id=f"inc-{i}", dedup_key=f"k{i}", title="Kamera tertutup", severity="major",
                          status="resolved" if resolved else "acknowledged" if acked else "open", source=source,  # type: ignore[arg-type]
                          kind="covered", area="depok", opened_at=opened, updated_at=timeline[-1].at,
                          acknowledged=acked is not None, resolved_at=resolved, acknowledged_by="Sari" if acked else "",
                          timeline=timeline)
    return new_event("id.go.cc.incident.updated", source="/tests", subject=state.id, time=state.updated_at, data=state)


async def test_incident_times_are_the_same_on_both_databases(archive_url: str) -> None:
    """Time to acknowledge and to resolve: epoch arithmetic on PostgreSQL, julianday on SQLite, one answer."""
    config = archive_estate(archive_url)
    engine = open_engine(archive_url)
    opened = datetime(2026, 3, 2, tzinfo=UTC)
    acks = [3, 7, 12, 30, 45, None]
    resolves = [60, 90, None, 240, 300, None]
    events = []
    for i, (ack, done) in enumerate(zip(acks, resolves, strict=True)):
        at = opened + timedelta(hours=i)
        if ack is not None:  # the incident as first opened, then as acknowledged: the archive keeps the latest
            events.append(incident(i, at, None, None, "cctv"))
        events.append(incident(i, at, ack, done, "cctv"))
    try:
        await Archive(engine, timezone="Asia/Jakarta", clock=ManualClock(T0)).write(events)
        async with reports_api(config, ManualClock(datetime(2026, 4, 1, tzinfo=UTC))) as api:
            (row,) = (await api.json("/api/reports/incidents?from=2026-03&to=2026-03"))["rows"]
        assert (row["source"], row["opened"], row["acknowledged"], row["resolved"]) == ("cctv", 6, 5, 4)
        assert row["ack_median_min"] == 12.0 and row["ack_p90_min"] == round(float(np.percentile([3, 7, 12, 30, 45], 90)), 1)
        assert row["resolve_median_min"] == round(float(np.percentile([60, 90, 240, 300], 50)), 1)
        async with engine.connect() as conn:
            acked = (await conn.execute(select(schema.incidents.c.acknowledged_by).where(
                schema.incidents.c.id == "inc-0"))).scalar_one()
            entries = (await conn.execute(select(func.count()).select_from(schema.incident_timeline))).scalar_one()
        assert acked == "Sari" and entries == 3 + 3 + 2 + 3 + 3 + 1  # each entry once, though states repeat them
    finally:
        await engine.dispose()


async def test_a_postgresql_outage_mid_run_loses_nothing_and_doubles_nothing(postgres_server: Any) -> None:
    """The database goes away under the archive (a fast shutdown, its pooled connections with it) and comes back:
    the batch in hand is waited out and written once, and the archive ends as if nothing had happened."""
    url = await postgres_server.new_database()
    engine = open_engine(url)
    await upgrade(engine)
    config, clock, bus = archive_estate(url), ManualClock(T0), EmbeddedBus()
    receipts, _, later = lifecycles(config, 3000, T0, spread_days=30)
    events = [*receipts, *(routed(r, "dlh") for r in receipts), *later]
    await bus.ensure_topics(topic_specs(config))
    try:
        async with ProcessorRunner(ARCHIVE_PROCESSOR, bus=bus, store=Store.open(MEMORY_URL), config=config,
                                   clock=clock, poll_timeout=0.1, run_ticks=False) as runner:
            await publish(bus, COMPLAINTS, events[:4000])

            async def started() -> bool:
                return runner.batches >= 1
            await eventually(started, within=30)
            await asyncio.to_thread(postgres_server.down)
            await publish(bus, COMPLAINTS, events[4000:])  # arriving while the database is down

            async def waiting() -> bool:  # the batch in hand failed and is being waited out, not dropped
                return (await runner.ready())[0] is False
            await eventually(waiting, within=30)
            await asyncio.to_thread(postgres_server.start)

            async def done() -> bool:
                try:
                    return (await counts(engine))["complaints"] == 3000 and runner.lag() == 0
                except Unavailable:
                    return False
            await eventually(done, within=90, every=0.5)
            assert await runner.ready() == (True, "consuming")
        async with engine.connect() as conn:
            ids = (await conn.execute(select(func.count()).select_from(schema.counted))).scalar_one()
        assert ids == len({e.id for e in events})
        reference = await postgres_server.new_database()  # the same events written with no outage
        written = open_engine(reference)
        await upgrade(written)
        await Archive(written, timezone="Asia/Jakarta", clock=clock).write(events)
        await written.dispose()
        assert await rows_of(url) == await rows_of(reference)
    finally:
        await engine.dispose()


async def test_a_replay_of_old_offsets_reopens_nothing_twice(archive_url: str) -> None:
    """The ids of checks and readings are forgotten after `dedupe_hours`; a complaint's are not, so a replay from
    old offsets (a group reset by hand) cannot reopen or rate a complaint again."""
    config, clock = archive_estate(archive_url), ManualClock(T0)
    engine = open_engine(archive_url)
    archive = Archive(engine, timezone="Asia/Jakarta", clock=clock, dedupe_hours=1)
    receipts, _, _ = lifecycles(config, 1, T0)
    cid, at = receipts[0].data.complaint_id, T0
    story = [receipts[0], routed(receipts[0], "dlh"), action(cid, "close", at + timedelta(hours=1), "dlh"),
             action(cid, "reopen", at + timedelta(hours=2), "dlh"), action(cid, "close", at + timedelta(hours=3), "dlh")]
    try:
        await archive.write([*story, check("lpse", at, ok=True, latency=80)])
        clock.advance(hours=5)
        await archive.write([check("lpse", at + timedelta(hours=5), ok=True, latency=90)])  # forgets the old check
        assert await archive.write(story) == 0
        async with engine.connect() as conn:
            row = (await conn.execute(select(schema.complaints).where(schema.complaints.c.id == cid))).mappings().one()
            rollups = (await conn.execute(select(func.count()).select_from(schema.counted).where(
                schema.counted.c.rollup.is_(True)))).scalar_one()
        assert (row["status"], row["reopened"]) == ("closed", 1) and rollups == 1
    finally:
        await engine.dispose()
