"""Reports over the archive: complaints per agency, category, district and month (received, duplicates,
responded within the response deadline, feedback within the feedback deadline, median and 90th-percentile
response time, still open, ratings), the top categories per district, complaints per 10,000 inhabitants per
district, incidents per source and month (time to acknowledge and to resolve), application uptime per month
against its target. Each answers a Table: the API serves it as JSON, CSV or XLSX and the open data as CSV with
its metadata, from the same columns.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, extract, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from command_center.api.auth import Principal
from command_center.config import Config
from command_center.sql import is_postgres
from processors.archive import schema


def in_scope(t: Any, scope: Principal | None) -> list[Any]:
    """The conditions that keep a complaints table's rows to what `scope` may see (its agencies and districts;
    None: everything)."""
    if scope is None:
        return []
    return ([t.c.agency.in_(sorted(scope.agencies))] if scope.agencies else []) + \
        ([t.c.area.in_(sorted(scope.areas))] if scope.areas else [])


DIMENSIONS = ("agency", "service_code", "area", "month", "channel")


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    type: str = "integer"  # integer, number, string, boolean (Table Schema's types)
    unit: str = ""


@dataclass
class Table:
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"columns": [c.__dict__ for c in self.columns], "rows": self.rows}


def percentile(ordered: Sequence[float], p: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks."""
    position = p * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def quantiles(conn: AsyncConnection, groups: Sequence[ColumnElement[Any]], value: ColumnElement[Any],
                    where: ColumnElement[bool], ps: Sequence[float] = (0.5, 0.9)) -> dict[tuple[Any, ...], list[float]]:
    """The `ps` quantiles of `value` per group: percentile_cont in PostgreSQL; SQLite has none, so its values
    come ordered and are interpolated the same way here."""
    present = and_(where, value.is_not(None))
    if is_postgres(conn):
        query = select(*groups, *(func.percentile_cont(p).within_group(value) for p in ps)) \
            .where(present).group_by(*groups)
        return {tuple(r[:len(groups)]): [float(v) for v in r[len(groups):]] for r in await conn.execute(query)}
    values: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for r in await conn.execute(select(*groups, value).where(present).order_by(*groups, value)):
        values[tuple(r[:len(groups)])].append(float(r[-1]))
    return {k: [percentile(v, p) for p in ps] for k, v in values.items()}


def _names(config: Config, section: str, key: str = "id") -> dict[str, str]:
    """Display names of the estate's entities of one section (agencies, areas, services, apps)."""
    return {getattr(x, key): getattr(x, "name", getattr(x, key)) for x in getattr(config, section, [])}


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _minutes(seconds: float | None) -> float | None:
    return round(seconds / 60, 1) if seconds is not None else None


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


COMPLAINT_MEASURES = [
    Column("received", "Aduan diterima (received)"),
    Column("duplicates", "Aduan ganda (duplicates)"),
    Column("responded_in_sla", "Ditanggapi tepat waktu (responded within the deadline)"),
    Column("responded_in_sla_pct", "Ditanggapi tepat waktu (%)", "number", "%"),
    Column("feedback_in_sla", "Tindak lanjut tepat waktu (feedback within the deadline)"),
    Column("feedback_in_sla_pct", "Tindak lanjut tepat waktu (%)", "number", "%"),
    Column("response_median_min", "Median waktu tanggap", "number", "minutes"),
    Column("response_p90_min", "Persentil 90 waktu tanggap", "number", "minutes"),
    Column("open", "Masih terbuka (still open)"),
    Column("rated", "Dinilai warga (rated)"),
    Column("rating_mean", "Rata-rata nilai (mean rating, 1-5)", "number"),
]
DIMENSION_COLUMNS = {
    "agency": [Column("agency", "Kode OPD (agency)", "string"), Column("agency_name", "OPD", "string")],
    "service_code": [Column("service_code", "Kode kategori (category)", "string"),
                     Column("service_name", "Kategori", "string")],
    "area": [Column("area", "Kecamatan (district)", "string"), Column("area_name", "Nama kecamatan", "string"),
             Column("area_code", "Kode wilayah Kemendagri", "string")],
    "month": [Column("month", "Bulan (month, YYYY-MM)", "string")],
    "channel": [Column("channel", "Kanal (channel)", "string")],
}


class Labels:
    """The display names of the estate's agencies, categories and districts (and the districts' Kemendagri
    codes), looked up once per report rather than once per row."""

    def __init__(self, config: Config) -> None:
        self.names = {"agency": _names(config, "agencies"), "service_code": _names(config, "services", "code"),
                      "area": _names(config, "areas")}
        self.codes = {a.id: a.code for a in config.areas}

    def row(self, dims: Sequence[str], key: tuple[Any, ...]) -> dict[str, Any]:
        row: dict[str, Any] = dict(zip(dims, key, strict=True))
        for dim, column in (("agency", "agency_name"), ("service_code", "service_name"), ("area", "area_name")):
            if dim in row:
                row[column] = self.names[dim].get(row[dim], row[dim])
        if "area" in row:
            row["area_code"] = self.codes.get(row["area"], "")
        return row


async def complaints(conn: AsyncConnection, config: Config, start: str, end: str, by: Sequence[str],
                     scope: Principal | None = None) -> Table:
    """Complaints received from month `start` to `end` (YYYY-MM, both counted), grouped by `by`."""
    t = schema.complaints
    dims = [t.c[d] for d in by]
    where: ColumnElement[bool] = t.c.month.between(start, end)
    where = and_(where, *in_scope(t, scope))
    first = t.c.duplicate_of == ""
    query = select(*dims, func.count().label("received"), _count(t.c.duplicate_of != "").label("duplicates"),
                   _count(and_(first, t.c.responded_in_sla.is_(True))).label("responded_in_sla"),
                   _count(and_(first, t.c.feedback_in_sla.is_(True))).label("feedback_in_sla"),
                   _count(and_(first, t.c.status == "open")).label("open"),
                   func.count(t.c.rating).label("rated"), func.avg(t.c.rating).label("rating_mean")) \
        .where(where).group_by(*dims).order_by(*dims)
    times = await quantiles(conn, dims, t.c.response_s, and_(where, first))
    table = Table(columns=[c for d in by for c in DIMENSION_COLUMNS[d]] + COMPLAINT_MEASURES)
    labels = Labels(config)
    for r in (await conn.execute(query)).mappings():
        key = tuple(r[d] for d in by)
        originals = int(r["received"]) - int(r["duplicates"])
        p50, p90 = times.get(key, [None, None])
        table.rows.append({**labels.row(by, key), "received": int(r["received"]),
                           "duplicates": int(r["duplicates"]), "responded_in_sla": int(r["responded_in_sla"]),
                           "responded_in_sla_pct": _share(int(r["responded_in_sla"]), originals),
                           "feedback_in_sla": int(r["feedback_in_sla"]),
                           "feedback_in_sla_pct": _share(int(r["feedback_in_sla"]), originals),
                           "response_median_min": _minutes(p50), "response_p90_min": _minutes(p90),
                           "open": int(r["open"]), "rated": int(r["rated"]),
                           "rating_mean": round(float(r["rating_mean"]), 2) if r["rating_mean"] is not None else None})
    return table


async def top_categories(conn: AsyncConnection, config: Config, start: str, end: str, n: int = 3,
                         scope: Principal | None = None) -> Table:
    """Per district, its `n` most complained-of categories (duplicates not counted)."""
    t = schema.complaints
    where: ColumnElement[bool] = and_(t.c.month.between(start, end), t.c.duplicate_of == "")
    where = and_(where, *in_scope(t, scope))
    query = select(t.c.area, t.c.service_code, func.count().label("received")).where(where) \
        .group_by(t.c.area, t.c.service_code).order_by(t.c.area, func.count().desc(), t.c.service_code)
    table = Table(columns=[*DIMENSION_COLUMNS["area"], Column("rank", "Peringkat (rank)"),
                           *DIMENSION_COLUMNS["service_code"], Column("received", "Aduan diterima (received)")])
    ranks: dict[str, int] = defaultdict(int)
    labels = Labels(config)
    for r in (await conn.execute(query)).mappings():
        ranks[r["area"]] += 1
        if ranks[r["area"]] <= n:
            table.rows.append({**labels.row(("area", "service_code"), (r["area"], r["service_code"])),
                               "rank": ranks[r["area"]], "received": int(r["received"])})
    return table


async def per_inhabitants(conn: AsyncConnection, config: Config, start: str, end: str, scope: Principal | None = None) -> Table:
    """Complaints per 10,000 inhabitants of each district (population from the configuration)."""
    t = schema.complaints
    where: ColumnElement[bool] = and_(t.c.month.between(start, end), t.c.duplicate_of == "")
    where = and_(where, *in_scope(t, scope))
    counts = {r[0]: int(r[1]) for r in await conn.execute(
        select(t.c.area, func.count()).where(where).group_by(t.c.area))}
    table = Table(columns=[*DIMENSION_COLUMNS["area"], Column("population", "Penduduk (population)"),
                           Column("received", "Aduan diterima (received)"),
                           Column("per_10k", "Aduan per 10.000 penduduk", "number", "per 10,000 inhabitants")])
    labels = Labels(config)
    for area in config.areas:
        population = area.population
        received = counts.get(area.id, 0)
        table.rows.append({**labels.row(("area",), (area.id,)), "population": population or None,
                           "received": received,
                           "per_10k": round(received * 10_000 / population, 2) if population else None})
    return table


async def incidents(conn: AsyncConnection, config: Config, start: str, end: str) -> Table:
    """Incidents opened per source and month, how many were acknowledged, and how long that and resolving took."""
    t = schema.incidents
    dims = [t.c.source, t.c.month]
    where = and_(t.c.month.between(start, end), t.c.parent_id == "")
    query = select(*dims, func.count().label("opened"), func.count(t.c.acknowledged_at).label("acknowledged"),
                   func.count(t.c.resolved_at).label("resolved")).where(where).group_by(*dims).order_by(*dims)
    ack_s = _seconds(conn, t.c.acknowledged_at, t.c.opened_at)
    resolve_s = _seconds(conn, t.c.resolved_at, t.c.opened_at)
    to_ack = await quantiles(conn, dims, ack_s, where)
    to_resolve = await quantiles(conn, dims, resolve_s, where)
    table = Table(columns=[Column("source", "Sumber (source)", "string"), Column("month", "Bulan (month)", "string"),
                           Column("opened", "Insiden (opened)"), Column("acknowledged", "Diakui (acknowledged)"),
                           Column("ack_median_min", "Median waktu pengakuan", "number", "minutes"),
                           Column("ack_p90_min", "Persentil 90 waktu pengakuan", "number", "minutes"),
                           Column("resolved", "Diselesaikan (resolved)"),
                           Column("resolve_median_min", "Median waktu penyelesaian", "number", "minutes"),
                           Column("resolve_p90_min", "Persentil 90 waktu penyelesaian", "number", "minutes")])
    for r in (await conn.execute(query)).mappings():
        key = (r["source"], r["month"])
        a50, a90 = to_ack.get(key, [None, None])
        r50, r90 = to_resolve.get(key, [None, None])
        table.rows.append({"source": r["source"], "month": r["month"], "opened": int(r["opened"]),
                           "acknowledged": int(r["acknowledged"]), "ack_median_min": _minutes(a50),
                           "ack_p90_min": _minutes(a90), "resolved": int(r["resolved"]),
                           "resolve_median_min": _minutes(r50), "resolve_p90_min": _minutes(r90)})
    return table


def _seconds(conn: AsyncConnection, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Seconds between two moments: epoch arithmetic in PostgreSQL, julianday in SQLite."""
    if is_postgres(conn):
        return extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86_400


async def uptime(conn: AsyncConnection, config: Config, start: str, end: str) -> Table:
    """Each application's share of checks that passed per month, against its target."""
    t = schema.app_hours
    query = select(t.c.app_id, t.c.month, func.sum(t.c.checks).label("checks"), func.sum(t.c.ok).label("ok"),
                   func.sum(t.c.latency_ms_sum).label("latency")) \
        .where(t.c.month.between(start, end)).group_by(t.c.app_id, t.c.month).order_by(t.c.app_id, t.c.month)
    apps = {a.id: a for a in getattr(config, "apps", [])}
    table = Table(columns=[Column("app", "Aplikasi (application)", "string"), Column("app_name", "Nama", "string"),
                           Column("month", "Bulan (month)", "string"), Column("checks", "Pemeriksaan (checks)"),
                           Column("ok", "Berhasil (passed)"), Column("uptime_pct", "Ketersediaan (uptime)", "number", "%"),
                           Column("target_pct", "Target", "number", "%"), Column("met", "Tercapai (met)", "boolean"),
                           Column("latency_mean_ms", "Rata-rata latensi", "number", "ms")])
    for r in (await conn.execute(query)).mappings():
        app = apps.get(r["app_id"])
        target = getattr(app, "uptime_target_pct", None)
        checks, ok = int(r["checks"]), int(r["ok"])
        share = round(100 * ok / checks, 3) if checks else None
        table.rows.append({"app": r["app_id"], "app_name": app.name if app else r["app_id"], "month": r["month"],
                           "checks": checks, "ok": ok, "uptime_pct": share, "target_pct": target,
                           "met": share >= target if share is not None and target is not None else None,
                           "latency_mean_ms": round(float(r["latency"]) / checks, 1) if checks else None})
    return table


async def sensors(conn: AsyncConnection, config: Config, start: str, end: str, by: str = "month",
                  sensor: str = "") -> Table:
    """Sensor readings per sensor, quantity and month (or local day): count, min, max, mean, and the alarms
    raised in it (a river's level over a rainy season, say)."""
    t, a = schema.sensor_hours, schema.sensor_alarms
    where: ColumnElement[bool] = t.c.month.between(start, end)
    if sensor:
        where = and_(where, t.c.sensor_id == sensor)
    zone = ZoneInfo(config.site.timezone)
    periods: dict[tuple[str, str, str], dict[str, Any]] = {}
    query = select(t).where(where).order_by(t.c.sensor_id, t.c.quantity, t.c.hour)
    for r in (await conn.execute(query)).mappings():
        period = r["month"] if by == "month" else r["hour"].astimezone(zone).strftime("%Y-%m-%d")
        p = periods.setdefault((r["sensor_id"], r["quantity"], period), {
            "sensor": r["sensor_id"], "quantity": r["quantity"], "unit": r["unit"], "period": period, "readings": 0,
            "min": r["min"], "max": r["max"], "sum": 0.0})
        p.update(readings=p["readings"] + r["count"], min=min(p["min"], r["min"]), max=max(p["max"], r["max"]),
                 sum=p["sum"] + r["sum"])
    alarm_where: ColumnElement[bool] = and_(a.c.month.between(start, end), a.c.active.is_(True))
    if sensor:
        alarm_where = and_(alarm_where, a.c.sensor_id == sensor)
    alarms: dict[tuple[str, str], int] = defaultdict(int)
    for r in (await conn.execute(select(a.c.sensor_id, a.c.month, a.c.at).where(alarm_where))).mappings():
        alarms[(r["sensor_id"], r["month"] if by == "month" else r["at"].astimezone(zone).strftime("%Y-%m-%d"))] += 1
    names = _names(config, "sensors")
    table = Table(columns=[Column("sensor", "Sensor", "string"), Column("sensor_name", "Nama", "string"),
                           Column("quantity", "Besaran (quantity)", "string"), Column("unit", "Satuan (unit)", "string"),
                           Column("period", "Bulan atau hari (month or day)", "string"),
                           Column("readings", "Pembacaan (readings)"), Column("min", "Minimum", "number"),
                           Column("max", "Maksimum", "number"), Column("mean", "Rata-rata (mean)", "number"),
                           Column("alarms", "Alarm")])
    for (sensor_id, _, period), p in sorted(periods.items()):
        table.rows.append({"sensor": sensor_id, "sensor_name": names.get(sensor_id, sensor_id),
                           "quantity": p["quantity"], "unit": p["unit"], "period": period,
                           "readings": p["readings"], "min": p["min"], "max": p["max"],
                           "mean": round(p["sum"] / p["readings"], 3), "alarms": alarms.get((sensor_id, period), 0)})
    return table
