"""Complaint statistics, the basis of policy: per agency and per category, by day or month of receipt.

Each complaint counts on the day it was received (in the site's timezone): received, closed, duplicates,
responded and responded within its SLA, feedback given and given within its SLA, and its response time.
Counters live in one Redis hash per day and response times in one list per day, written with the
processor's batch, so a replay counts nothing twice (the processor skips what it has applied).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from command_center.config import Config
from command_center.config.base import by_id
from command_center.store import StateBatch, Store
from processors.complaints.config import ComplaintsSettings
from processors.complaints.record import ComplaintRecord

METRICS = ("received", "closed", "duplicates", "responded", "responded_in_sla", "feedback", "feedback_in_sla",
           "reopened", "rated", "rating_sum", "rated_poor")
MAX_TIMES = 200_000  # response times kept per day


def day_of(when: datetime, timezone: str) -> str:
    return when.astimezone(ZoneInfo(timezone)).date().isoformat()


def stats_key(day: str) -> str:
    return f"cc:complaints:stats:{day}"


def times_key(day: str) -> str:
    return f"cc:complaints:times:{day}"


def count(state: StateBatch, config: Config, record: ComplaintRecord, metric: str, by: int = 1) -> None:
    day = day_of(record.requested_at, config.site.timezone)
    state.hincrby(stats_key(day), f"{record.agency}|{record.service_code}|{metric}", by)


def response_time(state: StateBatch, config: Config, record: ComplaintRecord, seconds: float) -> None:
    day = day_of(record.requested_at, config.site.timezone)
    state.push_capped(times_key(day), f"{record.agency}|{record.service_code}|{seconds:.0f}", MAX_TIMES)


def _days(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def _summary(counts: dict[str, int], times: list[float]) -> dict[str, Any]:
    received = counts.get("received", 0)

    def pct(metric: str) -> float | None:
        return round(100 * counts.get(metric, 0) / received, 1) if received else None

    return {"received": received, "open": max(0, received - counts.get("closed", 0)),
            "closed": counts.get("closed", 0), "duplicates": counts.get("duplicates", 0),
            "responded": counts.get("responded", 0), "responded_within_sla_pct": pct("responded_in_sla"),
            "feedback": counts.get("feedback", 0), "feedback_within_sla_pct": pct("feedback_in_sla"),
            "median_response_minutes": round(statistics.median(times) / 60, 1) if times else None,
            "reopened": counts.get("reopened", 0), "rated": counts.get("rated", 0),
            "rating_mean": round(counts["rating_sum"] / counts["rated"], 2) if counts.get("rated") else None,
            "rated_poor": counts.get("rated_poor", 0)}


def _keys(agency: str, service: str, period: str) -> tuple[tuple[str, str, str], ...]:
    """Where one figure counts: its agency and its category, in its period and in the total."""
    return (("agency", agency, period), ("category", service, period), ("agency", agency, "total"),
            ("category", service, "total"))


async def complaint_stats(store: Store, config: Config, start: date, end: date, by: str) -> dict[str, Any]:
    """Figures per agency and per category for each day (or month) from `start` to `end`, and in total."""
    days = _days(start, end)
    hashes = await store.hgetall_many([stats_key(d) for d in days])
    lists = await store.lists_many([times_key(d) for d in days])
    # (dimension, name, period) -> metric -> count; and the same keys -> response times
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    times: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for day, fields, raws in zip(days, hashes, lists, strict=True):
        period = day if by == "day" else day[:7]
        for name, value in fields.items():
            agency, service, metric = name.rsplit("|", 2)
            for key in _keys(agency, service, period):
                counts[key][metric] += int(value)
        for raw in raws:
            agency, service, seconds = raw.decode().rsplit("|", 2)
            for key in _keys(agency, service, period):
                times[key].append(float(seconds))
    agencies, services = by_id(config.agencies), {s.code: s for s in ComplaintsSettings.of(config).services}

    def group(dimension: str) -> list[dict[str, Any]]:
        names = sorted({name for dim, name, _ in counts if dim == dimension})
        out = []
        for name in names:
            periods = sorted({p for dim, n, p in counts if dim == dimension and n == name and p != "total"})
            item: dict[str, Any] = {"agency": name, "name": agencies[name].name if name in agencies else name} \
                if dimension == "agency" else \
                {"service_code": name, "service_name": services[name].name if name in services else name}
            item["periods"] = [{"period": p, **_summary(counts[(dimension, name, p)], times[(dimension, name, p)])}
                               for p in periods]
            item["total"] = _summary(counts[(dimension, name, "total")], times[(dimension, name, "total")])
            out.append(item)
        return out

    return {"by": by, "from": start.isoformat(), "to": end.isoformat(), "timezone": config.site.timezone,
            "agencies": group("agency"), "categories": group("category")}
