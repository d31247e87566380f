"""Writes a batch of events into the archive in one transaction, idempotently by event id: the batch's ids are
recorded first, and only the ones not seen before are applied, so a batch re-read after a crash (its offsets
were not committed) or a record a producer sent twice changes nothing."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from command_center.clock import Clock
from command_center.events import Event
from command_center.events.types import AuditAction
from command_center.sql import insert_new, transaction, upsert, upsert_adding
from processors.archive import fold, schema
from processors.complaints.events import (
    ComplaintAction,
    ComplaintLinked,
)
from processors.health.events import CheckResult
from processors.incidents.events import IncidentState
from processors.notify.events import NotificationAttempt
from processors.sensors.events import SensorAnomaly, SensorReading

logger = logging.getLogger(__name__)
PRUNE_EVERY_S = 600  # how often the roll-ups' old counted ids are forgotten
ROLLUPS = (CheckResult, SensorReading)  # counted into hourly sums: their ids are forgotten after dedupe_hours
CHUNK = 500  # ids per IN (...) list


def month_function(timezone: str) -> fold.MonthOf:
    zone = ZoneInfo(timezone)

    def month_of(at: datetime) -> str:
        return at.astimezone(zone).strftime("%Y-%m")

    return month_of


class Archive:
    def __init__(self, engine: AsyncEngine, *, timezone: str, clock: Clock, dedupe_hours: float = 48) -> None:
        self.engine = engine
        self.month_of = month_function(timezone)
        self.clock = clock
        self.dedupe = timedelta(hours=dedupe_hours)
        self.pruned_at: datetime | None = None

    async def write(self, events: Sequence[Event]) -> int:
        """Apply the events not applied before; answers how many were new."""
        if not events:
            return 0
        async with transaction(self.engine) as conn:
            fresh = await self._fresh(conn, events)
            await self._apply(conn, fresh)
            now = self.clock.now()
            if self.pruned_at is None or (now - self.pruned_at).total_seconds() >= PRUNE_EVERY_S:
                c = schema.counted.c
                await conn.execute(delete(schema.counted).where(c.rollup.is_(True), c.at < now - self.dedupe))
                self.pruned_at = now
        return len(fresh)

    async def _fresh(self, conn: AsyncConnection, events: Sequence[Event]) -> list[Event]:
        now = self.clock.now()
        unique = list({e.id: e for e in events}.values())
        stmt = insert_new(conn, schema.counted, ["event_id"]).returning(schema.counted.c.event_id)
        new: set[str] = set()
        for start in range(0, len(unique), CHUNK):
            rows = [{"event_id": e.id, "at": now, "rollup": isinstance(e.data, ROLLUPS)}
                    for e in unique[start:start + CHUNK]]
            new.update((await conn.execute(stmt, rows)).scalars())
        return [e for e in unique if e.id in new]  # in the log's order (a dict keeps it), each once

    async def _apply(self, conn: AsyncConnection, events: Sequence[Event]) -> None:
        by_kind: dict[type, list[Event]] = defaultdict(list)
        for e in events:
            by_kind[type(e.data)].append(e)
        complaint_events = [e for e in events if hasattr(e.data, "complaint_id")]
        if complaint_events:
            await self._complaints(conn, complaint_events)
        if by_kind[IncidentState]:
            await self._incidents(conn, by_kind[IncidentState])
        await self._rows(conn, schema.incident_pages, [fold.page_row(e, e.data) for e in by_kind[NotificationAttempt]])
        await self._rows(conn, schema.audit, [fold.audit_row(e, e.data) for e in by_kind[AuditAction]])
        await self._rows(conn, schema.sensor_alarms,
                         [fold.alarm_row(e, e.data, self.month_of) for e in by_kind[SensorAnomaly]])
        checks = fold.app_hours(((e, e.data) for e in by_kind[CheckResult]), self.month_of)
        if checks:
            await conn.execute(upsert_adding(conn, schema.app_hours, ["app_id", "hour"],
                                             add=["checks", "ok", "latency_ms_sum"], greatest=["latency_ms_max"]),
                               checks)
        readings = fold.sensor_hours(((e, e.data) for e in by_kind[SensorReading]), self.month_of)
        if readings:
            await conn.execute(upsert_adding(conn, schema.sensor_hours, ["sensor_id", "quantity", "hour"],
                                             add=["count", "sum"], least=["min"], greatest=["max"]), readings)

    async def _rows(self, conn: AsyncConnection, table: Any, rows: list[fold.Row]) -> None:
        if rows:
            keys = [c.name for c in table.primary_key.columns]
            await conn.execute(insert_new(conn, table, keys), rows)

    async def _complaints(self, conn: AsyncConnection, events: Sequence[Event]) -> None:
        t = schema.complaints
        ids = {e.data.complaint_id for e in events}
        ids.update(e.data.duplicate_of for e in events if isinstance(e.data, ComplaintLinked))
        closing = [e.data.complaint_id for e in events
                   if isinstance(e.data, ComplaintAction) and e.data.action == "close"]
        rows: dict[str, fold.Row] = {}
        for column, keys in ((t.c.id, sorted(ids)), (t.c.duplicate_of, sorted(set(closing)))):
            for start in range(0, len(keys), CHUNK):  # two queries: an OR of the two would scan the table
                query = select(t).where(column.in_(keys[start:start + CHUNK]))
                rows.update({r["id"]: dict(r) for r in (await conn.execute(query)).mappings()})
        folded = fold.Complaints(rows=rows, month_of=self.month_of)
        for e in events:
            folded.apply(e)
        if folded.dirty:
            await conn.execute(upsert(conn, t, ["id"]), [rows[i] for i in sorted(folded.dirty)])
        await self._rows(conn, schema.complaint_changes, folded.changes)

    async def _incidents(self, conn: AsyncConnection, events: Sequence[Event]) -> None:
        t = schema.incidents
        ids = sorted({e.data.id for e in events})
        before: dict[str, fold.Row] = {}
        for start in range(0, len(ids), CHUNK):
            query = select(t).where(t.c.id.in_(ids[start:start + CHUNK]))
            before.update({r["id"]: dict(r) for r in (await conn.execute(query)).mappings()})
        timeline: list[fold.Row] = []
        for e in events:
            row = fold.incident_row(e.data, before.get(e.data.id), self.month_of)
            if row is not None:
                before[row["id"]] = row
            timeline.extend(fold.timeline_rows(e.data))
        changed = [before[i] for i in ids if i in before]
        if changed:
            await conn.execute(upsert(conn, t, ["id"]), changed)
        unique = list({(r["incident_id"], r["entry"]): r for r in timeline}.values())
        await self._rows(conn, schema.incident_timeline, unique)
