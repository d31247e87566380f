"""Replies to citizens over both adapters, with real receivers on local ports (an SMS gateway's HTTP API, a
WhatsApp-Cloud-API-shaped server, aiosmtpd), on a test clock: each step once, in order, through a gateway
outage and a restart of the sender; ratings matched to their complaint; long texts split or shortened; the
public tracking page."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from command_center.api.app import build_app
from command_center.api.auth import TokenAuth
from command_center.clock import ManualClock
from command_center.config import Config, parse_config
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import Runtime
from command_center.runtime.http import HttpServer
from command_center.runtime.readiness import Readiness
from command_center.signing import sign
from command_center.testing.estates import complaint_estate
from command_center.testing.servers import local_app
from processors.complaints import COMPLAINTS_PROCESSOR
from processors.complaints.record import ComplaintRecord, record_key
from processors.composition import API_ROUTES
from processors.replies.events import REPLIES
from processors.replies.processor import REPLIES_PROCESSOR
from processors.replies.templates import sms_length
from tests.conftest import Backend
from tests.helpers import T0, Mailbox, drain, eventually

SECRET = "test-webhook-secret"
WA_SECRET = "meta-app-secret"
PHONE_ID = "106540352242922"
OPERATOR = {"Authorization": "Bearer demo-operator"}


@dataclass
class Gateways:
    """The SMS gateway, WhatsApp's Cloud API and a social desk: each records what it accepted; the SMS gateway
    answers 500 until the test clock reaches `sms_down_until`."""

    clock: ManualClock
    port: int = 0
    sms: list[dict[str, Any]] = field(default_factory=list)
    sms_refused: int = 0
    whatsapp: list[dict[str, Any]] = field(default_factory=list)
    sms_down_until: Any = None
    refuse_once: set[str] = field(default_factory=set)  # numbers the gateway refuses (400) once

    async def send_sms(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer gw-token":
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        if body["to"] in self.refuse_once:
            self.refuse_once.discard(body["to"])
            return web.json_response({"error": "invalid destination"}, status=400)
        if self.sms_down_until is not None and self.clock.now() < self.sms_down_until:
            self.sms_refused += 1
            return web.json_response({"error": "modem pool restarting"}, status=500)
        self.sms.append(body)
        return web.json_response({"status": "queued"}, status=202)

    async def cloud_api(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer wa-token":
            return web.json_response({"error": {"message": "Invalid OAuth access token", "code": 190}}, status=401)
        body = await request.json()
        assert request.match_info["phone_number_id"] == PHONE_ID and body["messaging_product"] == "whatsapp"
        self.whatsapp.append(body)
        return web.json_response({"messaging_product": "whatsapp", "contacts": [{"input": body["to"],
                                  "wa_id": body["to"]}], "messages": [{"id": f"wamid.{len(self.whatsapp)}"}]})

    def texts(self, to: str) -> list[str]:
        return [m["text"] for m in self.sms if m["to"] == to]


@pytest.fixture
async def gateways() -> AsyncIterator[Gateways]:
    gw = Gateways(ManualClock(T0))
    app = web.Application()
    app.router.add_post("/api/send", gw.send_sms)
    app.router.add_post("/v21.0/{phone_number_id}/messages", gw.cloud_api)
    async with local_app(app) as url:
        gw.port = int(url.rsplit(":", 1)[1])
        yield gw


def estate(tmp_path: Path, gw: Gateways, mailbox: Mailbox, **replies: Any) -> Config:
    base = f"http://127.0.0.1:{gw.port}"
    templates = replies.pop("whatsapp_templates", {})
    return parse_config({
        **complaint_estate(media_dir=str(tmp_path), whatsapp_app_secret=WA_SECRET, whatsapp_verify_token="verify-me"),
        "replies": {"sms": {"url": f"{base}/api/send", "token": "gw-token", "sender": "CC SLEMAN"},
                    "whatsapp": {"base_url": f"{base}/v21.0", "phone_number_id": PHONE_ID, "access_token": "wa-token",
                                 "templates": templates},
                    "email": {"host": "127.0.0.1", "port": mailbox.port, "sender": "aduan@slemankab.go.id"},
                    "first_retry_s": 5, "max_backoff_s": 20, **replies},
    }, env={})


@dataclass
class Desk:
    backend: Backend
    config: Config
    clock: ManualClock
    url: str
    replies: ProcessorRunner

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.request(method, f"{self.url}{path}", **kwargs) as r:
            body = await r.read()
            return r.status, json.loads(body) if r.content_type == "application/json" else body.decode()

    async def sms(self, message_id: str, sender: str, text: str) -> tuple[int, Any]:
        raw = json.dumps({"message_id": message_id, "from": sender, "text": text}).encode()
        return await self.call("POST", "/webhooks/sms", data=raw,
                               headers={"Content-Type": "application/json", **sign(SECRET, raw)})

    async def act(self, complaint_id: str, action: str, notes: str) -> None:
        status, body = await self.call("POST", f"/api/complaints/{complaint_id}/{action}",
                                       json={"status_notes": notes}, headers=OPERATOR)
        assert status == 202, body
        done = {"respond": "responded", "feedback": "feedback", "close": "closed", "reopen": "reopened"}[action]
        await eventually(lambda: self._has(complaint_id, done))

    async def record(self, complaint_id: str) -> ComplaintRecord | None:
        return await self.backend.store.get(record_key(complaint_id), ComplaintRecord)

    async def _has(self, complaint_id: str, action: str) -> bool:
        record = await self.record(complaint_id)
        return record is not None and action in [h.action for h in record.history]

    async def ticks(self, n: int = 2) -> None:
        for _ in range(n):
            await self.replies.tick()

    async def advance(self, seconds: float, gw: Gateways) -> None:
        self.clock.advance(seconds)
        gw.clock.set(self.clock.now())
        await self.ticks()


def _runner(desk_backend: Backend, config: Config, clock: ManualClock, processor):  # type: ignore[no-untyped-def]
    return ProcessorRunner(processor, bus=desk_backend.bus, store=desk_backend.store, config=config, clock=clock,
                           poll_timeout=0.05, run_ticks=False)


@pytest.fixture
async def desk(backend: Backend, tmp_path: Path, gateways: Gateways, mailbox: Mailbox,
               request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    replies = getattr(request, "param", {})
    config = estate(tmp_path, gateways, mailbox, **replies)
    clock = ManualClock(T0)
    rt = Runtime(config=config, bus=backend.bus, store=backend.store, clock=clock, readiness=Readiness(),
                 tokens=TokenAuth(config.tokens, config.api_clients()[0]))
    async with _runner(backend, config, clock, COMPLAINTS_PROCESSOR), \
            _runner(backend, config, clock, REPLIES_PROCESSOR) as replies_runner, \
            HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as server:
        yield Desk(backend, config, clock, f"http://127.0.0.1:{server.port}", replies_runner)


async def _texts(desk: Desk, gw: Gateways, to: str, n: int) -> list[str]:
    async def enough() -> bool:
        await desk.ticks(1)
        return len(gw.texts(to)) >= n
    await eventually(enough)
    return gw.texts(to)


async def test_an_sms_complaint_hears_each_step_once_in_order_through_an_outage_and_a_restart(
        backend: Backend, desk: Desk, gateways: Gateways) -> None:
    """The gateway answers 500 for the first minute and the sender restarts half-way: the citizen gets
    received, responded, feedback and closed, in that order, once each; then their rating is matched."""
    gateways.sms_down_until = T0 + timedelta(minutes=1)
    status, filed = await desk.sms("gw-501", "+62 812-3456-7890", "Jalan berlubang dalam sekali #Jl. Kaliurang km 7")
    assert status == 202
    complaint_id, token = filed["service_request_id"], filed["token"]
    await eventually(lambda: _tried(desk, gateways))
    assert gateways.sms_refused == 1 and gateways.sms == []
    for _ in range(13):  # 65 s in 5 s steps: tries at 0, 5, 15, 35 and 55 s fail (backoff 5, 10, 20, 20 s)
        await desk.advance(5, gateways)
    assert gateways.sms == [] and gateways.sms_refused == 5
    await desk.advance(10, gateways)
    [received] = await _texts(desk, gateways, "+62 812-3456-7890", 1)
    assert token in received and "Dinas PUPKP" in received and f"http://cc.test/lapor/{token}" in received

    await desk.act(complaint_id, "respond", "Petugas UPT Jalan menuju lokasi.")
    await desk.replies.stop()  # the sender stops with the response's reply queued, perhaps half-sent
    async with _runner(backend, desk.config, desk.clock, REPLIES_PROCESSOR) as second:
        desk.replies = second
        await desk.act(complaint_id, "feedback", "Lubang ditambal sementara, pengaspalan Senin.")
        await desk.act(complaint_id, "close", "Jalan sudah diaspal ulang.")
        texts = await _texts(desk, gateways, "+62 812-3456-7890", 4)
        await desk.advance(30, gateways)
        await desk.ticks(3)
        texts = gateways.texts("+62 812-3456-7890")
        assert len(texts) == 4, texts
        assert [t.split(" ")[0] for t in texts] == ["Aduan", "Aduan", "Tindak", "Aduan"]
        assert "ditanggapi" in texts[1] and "ditambal" in texts[2] and "selesai" in texts[3] and "1-5" in texts[3]
        assert len({m["reference"] for m in gateways.sms}) == 4
        assert all(sms_length(t)[0] <= 160 for t in texts)

        # the rating comes back from the same number written another way
        status, rated = await desk.sms("gw-502", "081234567890", "4")
        assert status == 202 and (rated["rated"], rated["rating"]) == (token, 4)
        assert (await desk.sms("gw-502", "081234567890", "4"))[0] == 202  # the gateway's redelivery: once
        await eventually(lambda: _rated(desk, complaint_id, 4))
        thanks = await _texts(desk, gateways, "+62 812-3456-7890", 5)
        assert "4/5" in thanks[4]
        record = await desk.record(complaint_id)
        assert record is not None and [h.action for h in record.history].count("rated") == 1
        status, body = await desk.call("POST", f"/api/complaints/{complaint_id}/reopen",
                                       json={"status_notes": "Dicek ulang"}, headers=OPERATOR)
        assert status == 409 and "rated 4" in body["error"]["message"]
        status, stats = await desk.call("GET", "/api/complaints/stats?from=2026-03-01&to=2026-03-01", headers=OPERATOR)
        total = next(a for a in stats["agencies"] if a["agency"] == "dpupkp")["total"]
        assert (total["rated"], total["rating_mean"], total["rated_poor"]) == (1, 4.0, 0)
    attempts = await drain(backend.bus, REPLIES, group="r", expect=10)  # the try at 75 s gets through
    assert [a.data.status for a in attempts if a.data.step == "received"] == ["retrying"] * 5 + ["sent"]
    assert all(a.data.kind == "sms" and "812" not in json.dumps(a.data.detail) for a in attempts)


async def _tried(desk: Desk, gw: Gateways) -> bool:
    await desk.ticks(1)
    return gw.sms_refused >= 1


async def _rated(desk: Desk, complaint_id: str, rating: int) -> bool:
    record = await desk.record(complaint_id)
    return record is not None and record.rating == rating


async def test_a_poor_rating_lets_the_desk_reopen_and_a_stray_number_is_refused(desk: Desk, gateways: Gateways) -> None:
    status, filed = await desk.sms("gw-601", "0817000111", "Sampah menumpuk di TPS #Jl. Damai 12")
    complaint_id = filed["service_request_id"]
    await eventually(lambda: desk._has(complaint_id, "routed"))
    await desk.act(complaint_id, "close", "Sudah diangkut.")
    await _texts(desk, gateways, "0817000111", 2)
    status, body = await desk.sms("gw-602", "0817999999", "2")  # a number nobody asked
    assert status == 422 and "awaits" in body["error"]["message"]
    assert (await desk.sms("gw-603", "+62817000111", "Nilai: 2/5"))[0] == 202
    await eventually(lambda: _rated(desk, complaint_id, 2))
    status, _ = await desk.call("POST", f"/api/complaints/{complaint_id}/reopen",
                                json={"status_notes": "Masih ada sisa sampah, petugas kembali."}, headers=OPERATOR)
    assert status == 202
    await eventually(lambda: desk._has(complaint_id, "reopened"))
    record = await desk.record(complaint_id)
    assert record is not None and record.status == "open" and record.feedback_at is None
    assert record.feedback_due is not None and record.feedback_due > desk.clock.now()
    texts = await _texts(desk, gateways, "0817000111", 4)
    assert "2/5" in texts[2] and "dibuka kembali" in texts[3]


async def test_a_refused_reply_is_given_up_and_the_next_step_still_goes(backend: Backend, desk: Desk,
                                                                       gateways: Gateways) -> None:
    gateways.refuse_once.add("0813777")
    status, filed = await desk.sms("gw-901", "0813777", "Jalan berlubang #Jl. Wates km 4")
    complaint_id = filed["service_request_id"]
    await eventually(lambda: desk._has(complaint_id, "routed"))
    await desk.act(complaint_id, "respond", "Petugas meninjau.")
    texts = await _texts(desk, gateways, "0813777", 1)
    assert "ditanggapi" in texts[0]  # "received" was refused for good (400): not retried, not blocking
    attempts = await drain(backend.bus, REPLIES, group="r2", expect=2)
    assert [(a.data.step, a.data.status) for a in attempts] == [("received", "failed"), ("responded", "sent")]


NOTES = ("Tim UPT Jalan dan Jembatan telah menambal lubang di depan SD Negeri 3 dan memasang rambu sementara; "
         "pengaspalan ulang seluruh ruas dijadwalkan minggu depan setelah material datang dari gudang Tempel.")


@pytest.mark.parametrize("desk", [{"templates": {"id": {"closed": {
    "text": "Aduan {token} selesai: {notes} Balas 1-5 untuk menilai.", "long": "split"}}}}], indirect=True)
async def test_a_long_text_is_split_or_shortened_as_its_template_says(desk: Desk, gateways: Gateways) -> None:
    status, filed = await desk.sms("gw-701", "0812555", "Jalan berlubang #Jl. Magelang km 9")
    complaint_id, token = filed["service_request_id"], filed["token"]
    await eventually(lambda: desk._has(complaint_id, "routed"))
    await desk.act(complaint_id, "respond", NOTES)  # the response's template shortens
    await desk.act(complaint_id, "feedback", "Terima kasih 🙏 " + NOTES)  # not GSM-7: one UCS-2 SMS holds 70
    await desk.act(complaint_id, "close", NOTES)  # the close's template splits
    texts = await _texts(desk, gateways, "0812555", 5)
    responded, feedback, *closed = texts[1:]
    assert sms_length(responded)[0] <= 160 and "..." in responded and token in responded
    assert sms_length(feedback) <= (70, 70) and token in feedback and "🙏" in feedback
    assert len(closed) == 2 and closed[0].startswith("1/2 ") and closed[1].startswith("2/2 ")
    assert all(sms_length(p) <= (160, 160) for p in closed)
    assert " ".join(p[4:] for p in closed) == f"Aduan {token} selesai: {NOTES} Balas 1-5 untuk menilai."
    references = [m["reference"] for m in gateways.sms if m["to"] == "0812555"]
    assert len(set(references)) == len(references) == 5


def _wa(body: dict[str, Any], secret: str = WA_SECRET) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"data": raw, "headers": {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}}


def _wa_message(message_id: str, sender: str, text: str) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "62274000", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Sri"}, "wa_id": sender}],
        "messages": [{"from": sender, "id": message_id, "timestamp": "1772352000", "type": "text",
                      "text": {"body": text}}]}}]}]}


@pytest.mark.parametrize("desk", [{"whatsapp_templates": {"closed": "aduan_selesai"}}], indirect=True)
async def test_whatsapp_in_and_out_as_the_cloud_api_speaks(desk: Desk, gateways: Gateways) -> None:
    """Text replies inside the 24-hour window since the citizen wrote, the approved template after it."""
    status, challenge = await desk.call("GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me"
                                               "&hub.challenge=1158201444")
    assert (status, challenge) == (200, "1158201444")
    assert (await desk.call("GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=no&hub.challenge=1"))[0] == 403
    message = _wa_message("wamid.HBgM1", "6281390001111", "Lampu jalan mati dan jalan berlubang #Jl. Palagan")
    status, body = await desk.call("POST", "/webhooks/whatsapp", **_wa(message, secret="wrong"))
    assert status == 401 and "X-Hub-Signature-256" in body["error"]["message"]
    status, body = await desk.call("POST", "/webhooks/whatsapp", **_wa(message))
    assert status == 200
    complaint_id = body["messages"][0]["service_request_id"]
    await eventually(lambda: desk._has(complaint_id, "routed"))
    assert (await desk.call("POST", "/webhooks/whatsapp", **_wa(message)))[1] == body  # Meta's redelivery
    status, contact = await desk.call("GET", f"/api/complaints/{complaint_id}/contact",
                                      headers={"Authorization": "Bearer demo-admin"})
    assert (contact["channel"], contact["phone"], contact["name"]) == ("whatsapp", "6281390001111", "Sri")
    await desk.act(complaint_id, "respond", "Petugas PJU dijadwalkan besok pagi.")
    await _sent_whatsapp(desk, gateways, 2)
    desk.clock.advance(hours=25)  # the customer-service window has closed
    await desk.act(complaint_id, "close", "Lampu diganti, lubang ditambal.")
    await _sent_whatsapp(desk, gateways, 3)
    assert [m["to"] for m in gateways.whatsapp] == ["6281390001111"] * 3
    assert all(m["type"] == "text" and m["text"]["preview_url"] is False for m in gateways.whatsapp[:2])
    closed = gateways.whatsapp[2]
    assert closed["type"] == "template" and closed["template"]["name"] == "aduan_selesai"
    assert "selesai" in closed["template"]["components"][0]["parameters"][0]["text"]
    status, body = await desk.call("POST", "/webhooks/whatsapp", **_wa(_wa_message("wamid.HBgM2", "6281390001111", "5")))
    assert status == 200 and body["messages"][0]["rated"] is True
    await eventually(lambda: _rated(desk, complaint_id, 5))
    await _sent_whatsapp(desk, gateways, 4)  # the citizen just wrote: a text again
    assert gateways.whatsapp[3]["type"] == "text" and "5/5" in gateways.whatsapp[3]["text"]["body"]
    bad = await desk.call("POST", "/webhooks/whatsapp", **_wa({"object": "page", "entry": []}))
    assert bad[0] == 422


async def _sent_whatsapp(desk: Desk, gw: Gateways, n: int) -> None:
    async def enough() -> bool:
        await desk.ticks(1)
        return len(gw.whatsapp) >= n
    await eventually(enough)


async def test_open311_with_an_email_hears_by_email(desk: Desk, gateways: Gateways, mailbox: Mailbox) -> None:
    from tests.complaints.test_open311 import KEY

    status, body = await desk.call("POST", "/open311/v2/requests.json", data={
        "api_key": KEY, "service_code": "sampah", "description": "Sampah di selokan", "address_string": "Jl. Affandi",
        "email": "warga@example.id", "first_name": "Budi"})
    assert status == 200
    complaint_id = body[0]["service_request_id"]
    await eventually(lambda: desk._has(complaint_id, "routed"))

    async def mailed() -> bool:
        await desk.ticks(1)
        return len(mailbox.messages) >= 1
    await eventually(mailed)
    mail = mailbox.messages[0]
    record = await desk.record(complaint_id)
    assert record is not None and mail["To"] == "warga@example.id" and record.token in mail["Subject"]
    assert f"/lapor/{record.token}" in mail.get_content() and gateways.sms == []


async def test_the_tracking_page_shows_progress_and_nothing_personal(desk: Desk) -> None:
    status, filed = await desk.sms("gw-801", "+6281122334455", "Sampah dibuang di sungai oleh Pak Joko #Jl. Kenanga 4")
    complaint_id, token = filed["service_request_id"], filed["token"]
    await eventually(lambda: desk._has(complaint_id, "routed"))
    await desk.act(complaint_id, "respond", "Petugas <b>DLH</b> meninjau lokasi.")
    status, page = await desk.call("GET", f"/lapor/{token}")
    assert status == 200 and '<html lang="id">' in page and "Dinas Lingkungan Hidup" in page
    assert "Dalam proses" in page and "Petugas &lt;b&gt;DLH&lt;/b&gt; meninjau lokasi." in page
    for personal in ("6281122334455", "Pak Joko", "Kenanga", "sungai", complaint_id):
        assert personal not in page
    status, english = await desk.call("GET", f"/lapor/{token.lower()}?lang=en")
    assert status == 200 and '<html lang="en">' in english and "In progress" in english and "Handled by" in english
    async with aiohttp.ClientSession() as s, s.get(f"{desk.url}/lapor/{token}",
                                                   headers={"Accept-Language": "en-GB,en;q=0.8"}) as r:
        assert "Complaint status" in await r.text() and r.headers["Content-Security-Policy"].startswith("default-src")
    status, missing = await desk.call("GET", "/lapor/ZZZZZZZZ")
    assert status == 404 and "ZZZZZZZZ" in missing["error"]["message"]
