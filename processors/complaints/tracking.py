"""The citizen's tracking page, /lapor/<tracking number>: where their complaint is, in Indonesian or English.

It shows the status, the category, the agency, the times (received, responded, feedback, closed, and when
feedback is due) and what the agency told the citizen; never who complained, what they wrote, where they
live or anything staff keep for themselves (breaches, escalations, other complaints' numbers). One HTML page,
no script, readable on a small phone; the language is `?lang=` or the browser's Accept-Language.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from command_center.api.app import runtime
from command_center.api.errors import not_found
from command_center.api.routes import Routes, query_param
from command_center.api.state import missing
from command_center.config import Config
from command_center.config.base import by_id
from processors.complaints.config import ComplaintsSettings
from processors.complaints.record import ComplaintRecord, TokenRef, token_key
from processors.complaints.view import RECORDS, find_record

routes = Routes("tracking")
TOKEN = re.compile(r"^[A-Za-z2-9]{8}$")
PUBLIC_STEPS = ("received", "routed", "forwarded", "responded", "feedback", "notes", "closed", "reopened", "rated")

WORDS: dict[str, dict[str, Any]] = {
    "id": {"title": "Status aduan", "number": "Nomor aduan", "status": "Status", "category": "Kategori",
           "agency": "Ditangani oleh", "received": "Diterima", "responded": "Ditanggapi", "feedback": "Tindak lanjut",
           "closed": "Selesai", "due": "Tindak lanjut paling lambat", "history": "Riwayat", "rating": "Penilaian Anda",
           "open": "Dalam proses", "waiting": "Menunggu tanggapan", "done": "Selesai", "none": "-",
           "steps": {"received": "Aduan diterima", "routed": "Diteruskan ke instansi", "forwarded":
                     "Diteruskan ke sistem nasional", "responded": "Ditanggapi", "feedback": "Tindak lanjut",
                     "notes": "Catatan", "closed": "Selesai", "reopened": "Dibuka kembali", "rated": "Dinilai"},
           "other": "English"},
    "en": {"title": "Complaint status", "number": "Complaint number", "status": "Status", "category": "Category",
           "agency": "Handled by", "received": "Received", "responded": "Responded", "feedback": "Follow-up",
           "closed": "Resolved", "due": "Follow-up due by", "history": "History", "rating": "Your rating",
           "open": "In progress", "waiting": "Awaiting a response", "done": "Resolved", "none": "-",
           "steps": {"received": "Complaint received", "routed": "Sent to the agency", "forwarded":
                     "Sent to the national system", "responded": "Responded", "feedback": "Follow-up",
                     "notes": "Note", "closed": "Resolved", "reopened": "Reopened", "rated": "Rated"},
           "other": "Bahasa Indonesia"},
}
STYLE = ("body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b1f23;line-height:1.45}"
         "main{max-width:34rem;margin:0 auto;padding:1rem}h1{font-size:1.3rem;margin:.2rem 0 1rem}"
         ".card{background:#fff;border-radius:.6rem;padding:1rem;margin-bottom:1rem;box-shadow:0 1px 3px #0002}"
         "dl{display:grid;grid-template-columns:auto 1fr;gap:.35rem .8rem;margin:0}dt{color:#57606a}dd{margin:0}"
         ".status{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:600}"
         ".open{background:#fff3cd}.closed{background:#d1f2dc}ol{padding-left:1.2rem;margin:0}"
         "li{margin-bottom:.6rem}time{color:#57606a;font-size:.9rem;display:block}"
         "nav{text-align:right;font-size:.9rem}a{color:#0b5cad}")


def language(request: web.Request) -> str:
    asked = request.query.get("lang", "")
    if asked in WORDS:
        return asked
    accept = request.headers.get("Accept-Language", "").lower()
    return "en" if accept.startswith("en") else "id"


def _when(at: datetime | None, config: Config) -> str:
    if at is None:
        return "-"
    local = at.astimezone(ZoneInfo(config.site.timezone))
    return f'<time datetime="{local.isoformat(timespec="seconds")}">{local:%d-%m-%Y %H:%M} {local.tzname()}</time>'


def page(record: ComplaintRecord, config: Config, lang: str, token: str) -> str:
    w, e = WORDS[lang], html.escape
    service = next((s for s in ComplaintsSettings.of(config).services if s.code == record.service_code), None)
    agency = by_id(config.agencies).get(record.agency)
    status = w["done"] if record.status == "closed" else w["open"] if record.responded_at else w["waiting"]
    rows = [(w["number"], e(token)), (w["status"], f'<span class="status {record.status}">{e(status)}</span>'),
            (w["category"], e(service.name if service else record.service_code)),
            (w["agency"], e(agency.name if agency else w["none"])), (w["received"], _when(record.requested_at, config)),
            (w["responded"], _when(record.responded_at, config)), (w["feedback"], _when(record.feedback_at, config))]
    if record.status == "open" and record.feedback_at is None:
        rows.append((w["due"], _when(record.feedback_due, config)))
    rows.append((w["closed"], _when(record.closed_at, config)))
    if record.rating is not None:
        rows.append((w["rating"], f"{record.rating}/5"))
    history = []
    for change in record.history:
        if change.action not in PUBLIC_STEPS:
            continue
        notes = change.notes if change.action in ("responded", "feedback", "notes", "closed", "reopened") else ""
        if change.action == "routed":
            notes = agency.name if agency else ""
        history.append(f"<li><strong>{e(w['steps'][change.action])}</strong>{_when(change.at, config)}"
                       + (f"<div>{e(notes)}</div>" if notes else "") + "</li>")
    other = "en" if lang == "id" else "id"
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{e(w["title"])} {e(token)} - {e(config.site.name)}</title>'
            f"<style>{STYLE}</style></head><body><main>"
            f'<nav><a href="?lang={other}" hreflang="{other}">{e(w["other"])}</a></nav>'
            f'<h1>{e(w["title"])}</h1><section class="card"><dl>{body}</dl></section>'
            f'<section class="card"><h2 style="font-size:1.05rem;margin-top:0">{e(w["history"])}</h2>'
            f'<ol>{"".join(history)}</ol></section><footer>{e(config.site.name)}</footer></main></body></html>')


@routes.get("/lapor/{token}", public=True, response_type="text/html",
            params=(query_param("lang", "id (default) or en", {"enum": ["id", "en"]}),),
            statuses={200: "the page", 404: "no complaint has this tracking number"},
            summary="A complaint's public tracking page (no personal data), in Indonesian or English")
async def tracking_page(request: web.Request) -> web.Response:
    rt = runtime(request)
    token = request.match_info["token"].upper()
    ref = await rt.store.get(token_key(token), TokenRef) if TOKEN.match(token) else None
    record = await find_record(rt.store, ref.complaint_id) if ref else None
    if record is None:
        raise await missing(rt, RECORDS, f"complaint number {token[:20]}") if TOKEN.match(token) else \
            not_found(f"complaint number {token[:20]}")
    return web.Response(text=page(record, rt.config, language(request), token), content_type="text/html",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                 "Vary": "Accept-Language", "Referrer-Policy": "no-referrer"})
