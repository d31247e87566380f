"""Complaints with their whole lifecycle, as the intake and the agencies' desks put them on cc.complaints:
receipts (through the real intake check), responses, feedback, closes, ratings and reopenings, some late, some
never; and the comparison of what the archive holds with what the API shows."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from command_center.config import Config, parse_config
from command_center.events import Event, new_event
from command_center.sql import open_engine
from command_center.testing.estates import complaint_estate
from ingest.complaints.intake import Submission, check
from processors.archive import schema
from processors.archive.config import ArchiveConfig
from processors.complaints.events import ComplaintAction, ComplaintRated, ComplaintRouted

ACTIONS = {"respond": "id.go.cc.complaint.responded", "feedback": "id.go.cc.complaint.feedback",
           "close": "id.go.cc.complaint.closed", "reopen": "id.go.cc.complaint.reopened"}
SERVICES = ("jalan-rusak", "sampah", "layanan-ktp", "lainnya")
WORDS = ("jalan berlubang dekat pasar", "sampah menumpuk di TPS", "antrean KTP panjang", "lampu jalan mati",
         "saluran air tersumbat")


def archive_estate(url: str, **more: Any) -> Config:
    """The complaint tests' regency with its districts' Kemendagri codes and populations, archiving to `url`."""
    raw = complaint_estate()
    raw["areas"][0].update(code="34.04.07", population=129_000)
    raw["areas"][1].update(code="34.04.06", population=98_000)
    raw.update(more)
    return parse_config(raw, env={}).model_copy(update={"archive": ArchiveConfig(url=url)})


def action(complaint_id: str, kind: str, at: datetime, agency: str = "dpupkp", actor: str = "desk") -> Event:
    return new_event(ACTIONS[kind], source="/tests", subject=complaint_id, time=at,
                     data=ComplaintAction(complaint_id=complaint_id, action=kind, agency=agency,  # type: ignore[arg-type]
                                          actor=actor, at=at, status_notes=f"{kind} oleh petugas"))


def rating(complaint_id: str, stars: int, at: datetime) -> Event:
    return new_event("id.go.cc.complaint.rated", source="/tests", subject=complaint_id, time=at,
                     data=ComplaintRated(complaint_id=complaint_id, rating=stars, channel="sms", at=at))


def routed(receipt: Event, agency: str, minutes: float = 60, area: str = "") -> Event:
    d = receipt.data
    return new_event("id.go.cc.complaint.routed", source="/tests", subject=d.complaint_id, time=d.requested_at,
                     data=ComplaintRouted(complaint_id=d.complaint_id, agency=agency, rule="test",
                                          response_due=d.requested_at + timedelta(minutes=minutes),
                                          feedback_due=d.requested_at + timedelta(hours=24),
                                          service_code=d.service_code, area=area or d.area or "depok"))


def lifecycles(config: Config, n: int, start: datetime, *, seed: int = 7, spread_days: float = 90,
               **submission: Any) -> tuple[list[Event], list[Event], list[Event]]:
    """`n` complaints from `start` over `spread_days`: (receipts, contacts, what the desks did after)."""
    rng = random.Random(seed)
    receipts: list[Event] = []
    contacts: list[Event] = []
    later: list[tuple[datetime, int, Event]] = []
    for i in range(n):
        at = start + timedelta(days=spread_days * i / n)
        lat, long = -7.80 + rng.random() * 0.2, 110.20 + rng.random() * 0.3
        service = rng.choice(SERVICES)
        received, contact = check(config, Submission(
            channel=rng.choice(("web", "sms", "open311", "phone")), service_code=service,
            description=f"{rng.choice(WORDS)} nomor {i}", lat=lat, long=long, name=f"Warga {i}",
            phone=f"0812{i:08d}", attributes={"jenis": ["ktp"]} if service == "layanan-ktp" else {},
            **submission), at).events()
        receipts.append(received)
        if contact is not None:
            contacts.append(contact)
        cid = received.data.complaint_id
        roll = rng.random()
        if roll < 0.1:
            continue  # never answered
        t = at + timedelta(minutes=rng.expovariate(1 / 45))  # some within the hour, some late
        later.append((t, len(later), action(cid, "respond", t)))
        if roll < 0.3:
            continue
        t += timedelta(hours=rng.expovariate(1 / 12))
        later.append((t, len(later), action(cid, rng.choice(("feedback", "close")), t)))
        if roll < 0.45:
            continue
        t += timedelta(hours=rng.random() * 4)
        later.append((t, len(later), action(cid, "close", t)))
        if roll > 0.8:
            t += timedelta(hours=1)
            stars = rng.randint(1, 5)
            later.append((t, len(later), rating(cid, stars, t)))
            if stars <= 2 and roll > 0.9:
                t += timedelta(hours=2)
                later.append((t, len(later), action(cid, "reopen", t, actor="kepala-bidang")))
                t += timedelta(hours=rng.random() * 30)
                later.append((t, len(later), action(cid, "close", t)))
    later.sort(key=lambda x: (x[0], x[1]))
    return receipts, contacts, [e for _, _, e in later]


def _second(at: datetime | None) -> datetime | None:
    """The API shows times to the second."""
    return at.replace(microsecond=0) if at is not None else None


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def archived(engine: AsyncEngine) -> tuple[dict[str, dict[str, Any]], dict[str, list[tuple[str, datetime]]]]:
    """The archive's complaint rows and each complaint's changes (action, time), in order."""
    async with engine.connect() as conn:
        rows = {r["id"]: dict(r) for r in (await conn.execute(select(schema.complaints))).mappings()}
        changes: dict[str, list[tuple[str, datetime]]] = {}
        query = select(schema.complaint_changes).order_by(schema.complaint_changes.c.at)
        for r in (await conn.execute(query)).mappings():
            changes.setdefault(r["complaint_id"], []).append((r["action"], r["at"]))
    return rows, changes


def differences(views: Iterable[dict[str, Any]], rows: dict[str, dict[str, Any]],
                changes: dict[str, list[tuple[str, datetime]]]) -> list[str]:
    """Where the archive says otherwise than the API's views of the same complaints (empty: they agree)."""
    out = []
    seen = set()
    for view in views:
        cid = view["id"]
        seen.add(cid)
        row = rows.get(cid)
        if row is None:
            out.append(f"{cid}: not archived")
            continue
        for name in ("status", "agency", "area", "channel", "service_code", "duplicate_of", "rating"):
            if (view[name] or "") != (row[name] or ""):
                out.append(f"{cid}: {name} {view[name]!r} in the API, {row[name]!r} archived")
        for name in ("responded_at", "feedback_at", "closed_at", "response_due", "rated_at"):
            if _moment(view[name]) != _second(row[name]):
                out.append(f"{cid}: {name} {view[name]} in the API, {row[name]} archived")
        history = sorted((h["action"], _moment(h["at"])) for h in view["history"])
        kept = sorted((a, _second(at)) for a, at in changes.get(cid, []))
        if history != kept:
            only_api = [f"{a}@{at:%m-%d %H:%M:%S}" for a, at in history if (a, at) not in kept]
            only_archive = [f"{a}@{at:%m-%d %H:%M:%S}" for a, at in kept if (a, at) not in history]
            out.append(f"{cid}: history has {only_api} only in the API, {only_archive} only archived "
                       f"({len(history)} and {len(kept)} changes)")
    out.extend(f"{cid}: archived, not in the API" for cid in rows.keys() - seen)
    return out


async def rows_of(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = open_engine(url)
    try:
        async with engine.connect() as conn:
            return {t.name: sorted(tuple(r) for r in await conn.execute(select(t))) for t in schema.HISTORY}
    finally:
        await engine.dispose()
