"""The archive's HTTP side: reports (JSON, CSV, XLSX) for staff, the reports page, and the open data for the
regional data portal (CSV with its metadata, districts by their Kemendagri codes, no personal data)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from command_center.api.app import principal, runtime
from command_center.api.errors import ApiError, not_found
from command_center.api.routes import Routes, query_param
from command_center.config import Config
from command_center.sql import open_engine, transaction
from processors.archive import reports, schema
from processors.archive.config import ArchiveSettings
from web import WEB_ROOT

routes = Routes("reports")
READERS = ("operator", "oncall")
COMPLAINT_READERS = (*READERS, "agency")  # an agency's desk: its own complaints' figures
ENGINE = web.AppKey("archive_engine", dict)
MONTH = {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERIOD = (query_param("from", "first month, YYYY-MM (default: eleven months before `to`)", MONTH),
          query_param("to", "last month, YYYY-MM (default: this month, in the site's timezone)", MONTH),
          query_param("format", "json (default), csv or xlsx", {"enum": ["json", "csv", "xlsx"]}))
TABLE = {"type": "object", "properties": {
    "from": {"type": "string"}, "to": {"type": "string"},
    "columns": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "title": {"type": "string"}, "type": {"type": "string"},
        "unit": {"type": "string"}}}},
    "rows": {"type": "array", "items": {"type": "object"}}}}
STATUSES = {404: "no archive is configured"}
DOWNLOADS = {"text/csv": "the table as CSV (format=csv): a header of column names, UTF-8",
             XLSX: "the table as an Excel workbook (format=xlsx): a header of column titles"}


@routes.on_build
def _engine(app: web.Application) -> None:
    app[ENGINE] = {}

    async def close(app: web.Application) -> None:
        for engine in app[ENGINE].values():
            await engine.dispose()

    app.on_cleanup.append(close)


def _archive(request: web.Request) -> AsyncEngine:
    url = ArchiveSettings.of(runtime(request).config).archive.url
    if not url:
        raise not_found("an archive (archive.url is not configured)")
    engines = request.app[ENGINE]
    if url not in engines:
        engines[url] = open_engine(url)
    return engines[url]  # type: ignore[no-any-return]


def _back(year: int, month: int, months: int) -> str:
    """YYYY-MM of `months` before the given month."""
    index = year * 12 + month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month(config: Config, now: datetime, back: int = 0) -> str:
    local = now.astimezone(ZoneInfo(config.site.timezone))
    return _back(local.year, local.month, back)


def _period(request: web.Request) -> tuple[str, str]:
    rt = runtime(request)
    end = request.query.get("to") or _month(rt.config, rt.clock.now())
    return request.query.get("from") or _back(int(end[:4]), int(end[5:]), 11), end


def _csv(table: reports.Table) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, [c.name for c in table.columns], extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in table.rows:
        writer.writerow({k: ("" if v is None else str(v).lower() if isinstance(v, bool) else v) for k, v in row.items()})
    return out.getvalue().encode("utf-8")


def _xlsx(table: reports.Table, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([c.title + (f" ({c.unit})" if c.unit else "") for c in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([row.get(c.name) for c in table.columns])
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _answer(request: web.Request, table: reports.Table, name: str, start: str, end: str) -> web.Response:
    fmt = request.query.get("format", "json")
    stem = f"{name}-{start}-{end}"
    if fmt == "csv":
        return web.Response(body=_csv(table), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    if fmt == "xlsx":  # a workbook is zipped XML: built off the event loop
        return web.Response(body=await asyncio.to_thread(_xlsx, table, name), content_type=XLSX,
                            headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'})
    return web.json_response({"from": start, "to": end, **table.as_json()})


Report = Callable[[AsyncConnection, Config, str, str], Awaitable[reports.Table]]


async def _report(request: web.Request, name: str, report: Report, *, region_wide: bool = False) -> web.Response:
    """`report` over the period asked for; a `region_wide` one (not kept to a reader's districts) is refused to
    a reader scoped to some districts."""
    if region_wide and principal(request).areas:
        raise ApiError(403, "forbidden", f"the {name} report is region-wide; your account sees some districts only")
    start, end = _period(request)
    async with transaction(_archive(request)) as conn:
        table = await report(conn, runtime(request).config, start, end)
    return await _answer(request, table, name, start, end)


def _by(request: web.Request) -> list[str]:
    by = list(dict.fromkeys(d for d in request.query.get("by", "").split(",") if d)) or ["agency", "month"]
    unknown = [d for d in by if d not in reports.DIMENSIONS]
    if unknown:
        raise ApiError(400, "bad_request", f"by: {', '.join(unknown)} is not one of {', '.join(reports.DIMENSIONS)}")
    return by


@routes.get("/api/reports/complaints", roles=COMPLAINT_READERS, statuses=STATUSES, response=TABLE, alternatives=DOWNLOADS,
            summary="Complaints per agency, category, district, channel and month: received, duplicates, within "
                    "the response and feedback deadlines, median and 90th-percentile response time, still open",
            params=(*PERIOD, query_param("by", "what to group by, in order (default, and when empty: agency,month)",
                                         {"type": "array", "items": {"enum": list(reports.DIMENSIONS)}})))
async def complaints_report(request: web.Request) -> web.Response:
    by, who = _by(request), principal(request)

    async def report(conn: AsyncConnection, config: Config, start: str, end: str) -> reports.Table:
        return await reports.complaints(conn, config, start, end, by, who)

    return await _report(request, "complaints", report)


@routes.get("/api/reports/complaints/top", roles=COMPLAINT_READERS, statuses=STATUSES, response=TABLE, alternatives=DOWNLOADS,
            summary="The most complained-of categories in each district",
            params=(*PERIOD, query_param("n", "categories per district (default 3)",
                                         {"type": "integer", "minimum": 1, "maximum": 50})))
async def top_report(request: web.Request) -> web.Response:
    n, who = int(request.query.get("n", "3")), principal(request)

    async def report(conn: AsyncConnection, config: Config, start: str, end: str) -> reports.Table:
        return await reports.top_categories(conn, config, start, end, n, who)

    return await _report(request, "complaints-top", report)


@routes.get("/api/reports/complaints/districts", roles=COMPLAINT_READERS, statuses=STATUSES, response=TABLE, alternatives=DOWNLOADS,
            summary="Complaints per 10,000 inhabitants of each district (the choropleth's figures)", params=PERIOD)
async def districts_report(request: web.Request) -> web.Response:
    who = principal(request)

    async def report(conn: AsyncConnection, config: Config, start: str, end: str) -> reports.Table:
        return await reports.per_inhabitants(conn, config, start, end, who)

    return await _report(request, "complaints-districts", report)


@routes.get("/api/reports/incidents", roles=READERS, statuses=STATUSES, response=TABLE, alternatives=DOWNLOADS, params=PERIOD,
            summary="Incidents per source and month: acknowledged and resolved, with median and 90th-percentile times")
async def incidents_report(request: web.Request) -> web.Response:
    return await _report(request, "incidents", reports.incidents, region_wide=True)


@routes.get("/api/reports/uptime", roles=READERS, statuses=STATUSES, response=TABLE, alternatives=DOWNLOADS, params=PERIOD,
            summary="Each application's uptime per month against its target")
async def uptime_report(request: web.Request) -> web.Response:
    return await _report(request, "uptime", reports.uptime, region_wide=True)


@routes.get("/api/reports/sensors", roles=READERS, statuses=STATUSES, response=TABLE, alternatives=DOWNLOADS,
            summary="Sensor readings per sensor and month or day: count, min, max, mean, alarms raised",
            params=(*PERIOD, query_param("by", "month (default) or day (local)", {"enum": ["month", "day"]}),
                    query_param("sensor", "one sensor's id")))
async def sensors_report(request: web.Request) -> web.Response:
    by, sensor = request.query.get("by", "month"), request.query.get("sensor", "")

    async def report(conn: AsyncConnection, config: Config, start: str, end: str) -> reports.Table:
        return await reports.sensors(conn, config, start, end, by, sensor)

    return await _report(request, "sensors", report, region_wide=True)


AUDIT_ENTRY = {"type": "object", "properties": {
    "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string", "description": "the login"},
    "actor_name": {"type": "string", "description": "the person's display name, where the login is a person's"},
    "role": {"type": "string"}, "action": {"type": "string"}, "target_kind": {"type": "string"},
    "target_id": {"type": "string"}, "detail": {"type": "string"}}}
WHEN = {"type": "string", "format": "date-time"}


@routes.get("/api/audit", roles=("admin",), statuses={400: "a time that is not RFC 3339", **STATUSES},
            summary="The audit trail: who did what to which entity, newest first (acknowledgements, responses, "
                    "silences, sign-ins, people and token changes)",
            params=(query_param("person", "one login"), query_param("action", "one action (ack, user_added, ...)"),
                    query_param("since", "at or after (RFC 3339)", WHEN), query_param("until", "before (RFC 3339)", WHEN),
                    query_param("limit", "at most this many (default 200)", {"type": "integer", "minimum": 1,
                                                                             "maximum": 1000})),
            response={"type": "object", "properties": {"entries": {"type": "array", "items": AUDIT_ENTRY}}})
async def audit_trail(request: web.Request) -> web.Response:
    q, rt = request.query, runtime(request)
    t = schema.audit
    where = []
    if q.get("person"):
        where.append(t.c.actor == q["person"])
    if q.get("action"):
        where.append(t.c.action == q["action"])
    for name, compare in (("since", t.c.at.__ge__), ("until", t.c.at.__lt__)):
        if q.get(name):
            try:
                moment = datetime.fromisoformat(q[name])
            except ValueError:
                raise ApiError(400, "bad_request", f"{name}: {q[name][:40]!r} is not an RFC 3339 time") from None
            if moment.tzinfo is None:
                raise ApiError(400, "bad_request", f"{name}: give the offset (Z or +07:00)")
            where.append(compare(moment))
    statement = select(t).where(*where).order_by(t.c.at.desc(), t.c.event_id).limit(int(q.get("limit", "200")))
    async with transaction(_archive(request)) as conn:
        rows = (await conn.execute(statement)).all()
    names = {u.login: u.display_name for u in await rt.directory.users()} if rt.directory is not None else {}
    return web.json_response({"entries": [
        {"at": r.at.isoformat(), "actor": r.actor, "actor_name": names.get(r.actor, ""), "role": r.role,
         "action": r.action, "target_kind": r.target_kind, "target_id": r.target_id, "detail": r.detail}
        for r in rows]})


@routes.get("/reports", public=True, summary="The reports page", response_type="text/html")
async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_ROOT / "reports.html", headers={"Cache-Control": "no-cache"})


# --- open data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    description: str
    report: Report


async def _complaints_monthly(conn: AsyncConnection, config: Config, start: str, end: str) -> reports.Table:
    table = await reports.complaints(conn, config, start, end, ("month", "area", "service_code", "agency"))
    keep = {"month", "area_code", "area_name", "service_code", "service_name", "agency", "agency_name",
            "received", "duplicates", "responded_in_sla", "feedback_in_sla", "response_median_min", "open"}
    table.columns = [c for c in table.columns if c.name in keep]
    return table


DATASETS = {d.name: d for d in (
    Dataset("complaints-monthly", "Jumlah aduan masyarakat per bulan, kecamatan, kategori dan OPD",
            "Citizens' complaints received per month, district (Kemendagri code), category and agency, with how many "
            "were answered within their deadlines. Counts only: no complainant, text, address or location.",
            _complaints_monthly),
    Dataset("incidents-monthly", "Insiden pusat komando per bulan dan sumber",
            "Incidents of the command centre per month and source, with the time to acknowledge and to resolve.",
            reports.incidents),
    Dataset("uptime-monthly", "Ketersediaan aplikasi pemerintah per bulan",
            "Each government application's monthly uptime against its target (SPBE evaluation).", reports.uptime),
)}


def _dataset(request: web.Request) -> Dataset:
    name = request.match_info["dataset"]
    if name not in DATASETS:
        raise not_found(f"dataset {name[:60]!r}")
    return DATASETS[name]


def _complete_months(request: web.Request) -> tuple[str, str]:
    """Open data covers whole months only: up to the last one that has ended."""
    rt = runtime(request)
    return "0000-01", _month(rt.config, rt.clock.now(), back=1)


def _first_month(table: reports.Table) -> str:
    months = [r["month"] for r in table.rows if r.get("month")]
    return min(months) if months else ""


@routes.get("/open-data/{dataset}.csv", public=True, response_type="text/csv",
            summary="An open dataset as CSV (whole months; districts by Kemendagri code; no personal data)",
            statuses={404: "no such dataset, or no archive"})
async def open_csv(request: web.Request) -> web.Response:
    dataset = _dataset(request)
    start, end = _complete_months(request)
    async with transaction(_archive(request)) as conn:
        table = await dataset.report(conn, runtime(request).config, start, end)
    return web.Response(body=_csv(table), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'inline; filename="{dataset.name}.csv"'})


@routes.get("/open-data/{dataset}.json", public=True,
            summary="An open dataset's metadata: title, producer, custodian, period, variables with units, licence",
            statuses={404: "no such dataset, or no archive"})
async def open_metadata(request: web.Request) -> web.Response:
    dataset = _dataset(request)
    rt = runtime(request)
    start, end = _complete_months(request)
    async with transaction(_archive(request)) as conn:
        table = await dataset.report(conn, rt.config, start, end)
    od = ArchiveSettings.of(rt.config).archive.open_data
    base = rt.config.site.public_url.rstrip("/")
    first = _first_month(table)
    return web.json_response(_metadata(rt.config, dataset, table, first, end, base, od))


def _metadata(config: Config, dataset: Dataset, table: reports.Table, first: str, last: str, base: str,
              od: Any) -> dict[str, Any]:
    """Satu Data Indonesia's metadata (producer, custodian, period, variables, reference codes) laid out as a
    Frictionless Data Package resource, which data portals (CKAN) read."""
    return {
        "name": dataset.name, "title": dataset.title, "description": dataset.description,
        "producer": od.producer or config.site.name, "custodian": od.custodian, "contact": od.contact or None,
        "licenses": [{"name": od.licence}], "frequency": "monthly", "language": "id",
        "period": {"start": first or None, "end": last if first else None},
        "reference_codes": {"area_code": "Kode wilayah administrasi pemerintahan (Kemendagri)"},
        "personal_data": False,
        "resources": [{"name": dataset.name, "path": f"{base}/open-data/{dataset.name}.csv", "format": "csv",
                       "mediatype": "text/csv", "encoding": "utf-8", "rows": len(table.rows),
                       "schema": {"fields": [{"name": c.name, "title": c.title, "type": c.type,
                                              **({"unit": c.unit} if c.unit else {})} for c in table.columns]}}],
    }


@routes.get("/open-data/", public=True, summary="The open datasets this centre publishes")
async def catalogue(request: web.Request) -> web.Response:
    base = runtime(request).config.site.public_url.rstrip("/")
    return web.json_response({"datasets": [
        {"name": d.name, "title": d.title, "metadata": f"{base}/open-data/{d.name}.json",
         "data": f"{base}/open-data/{d.name}.csv"} for d in DATASETS.values()]})
