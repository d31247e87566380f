"""Two instances, a regency and the province above it (the shape SP4N-LAPOR! forwarding takes): a complaint
forwarded once even though the upstream was down, answered upstream, and the answer back in the regency's
history and on the citizen's channel."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from command_center.api.app import build_app
from command_center.bus import EmbeddedBus
from command_center.config import Config, parse_config
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import open_runtime, topic_specs
from command_center.runtime.http import HttpServer
from command_center.signing import sign
from command_center.store import MEMORY_URL, Store
from command_center.testing.estates import complaint_estate
from command_center.testing.servers import free_port, local_app
from processors.complaints import COMPLAINTS_PROCESSOR
from processors.complaints.record import ComplaintRecord, record_key
from processors.composition import API_ROUTES
from processors.replies.processor import REPLIES_PROCESSOR
from processors.upstream.processor import UPSTREAM
from tests.helpers import eventually

SECRET = "province-shared-secret"
REGENCY_KEY = "kab-sleman-open311-key"
OPERATOR = {"Authorization": "Bearer demo-operator"}


@asynccontextmanager
async def instance(config: Config, port: int) -> AsyncIterator[tuple[Store, str]]:
    """One command-center: its own bus, store, processors and API on `port`."""
    bus = EmbeddedBus()
    async with open_runtime(config, bus=bus, store=Store.open(MEMORY_URL)) as rt:
        await bus.ensure_topics(topic_specs(config))
        runners = [ProcessorRunner(p, bus=bus, store=rt.store, config=config, clock=rt.clock, poll_timeout=0.05)
                   for p in (COMPLAINTS_PROCESSOR, REPLIES_PROCESSOR, UPSTREAM)]
        for runner in runners:
            await runner.__aenter__()
        try:
            async with HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", port):
                yield rt.store, f"http://127.0.0.1:{port}"
        finally:
            for runner in runners:
                await runner.stop()


def province(tmp_path: Path, regency_port: int) -> Config:
    estate = complaint_estate(media_dir=str(tmp_path / "prov"))
    estate["site"] = {**estate["site"], "public_url": "http://lapor.jogjaprov.test"}
    estate["complaints"]["api_keys"].append({
        "name": "kab-sleman", "sha256": hashlib.sha256(REGENCY_KEY.encode()).hexdigest(),
        "status_webhook": f"http://127.0.0.1:{regency_port}/webhooks/upstream/prov", "status_secret": SECRET})
    road = next(s for s in estate["services"] if s["code"] == "jalan-rusak")
    road["attributes"] = [{"code": "instansi", "description": "Instansi"}, {"code": "ref", "description": "Nomor asal"}]
    estate["agencies"] = [{**a, "name": "Dinas PU ESDM DIY"} if a["id"] == "dpupkp" else a for a in estate["agencies"]]
    return parse_config(estate, env={})


def regency(tmp_path: Path, province_port: int, gateway: str) -> Config:
    estate = copy.deepcopy(complaint_estate(media_dir=str(tmp_path / "kab")))
    estate["replies"] = {"sms": {"url": gateway}, "first_retry_s": 0.2, "max_backoff_s": 1}
    estate["upstreams"] = [{"id": "prov", "name": "Provinsi DIY", "kind": "lapor",
                            "url": f"http://127.0.0.1:{province_port}/open311/v2", "api_key": REGENCY_KEY,
                            "secret": SECRET, "agencies": ["dpupkp"], "institution_map": {"dpupkp": "PU-SLEMAN"}}]
    return parse_config(estate, env={})


async def _get(url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(url, **kwargs) as r:
        return r.status, await r.json()


async def test_forwarded_once_answered_upstream_and_heard_by_the_citizen(tmp_path: Path) -> None:
    texts: list[dict[str, Any]] = []

    async def gateway(request: web.Request) -> web.Response:
        texts.append(await request.json())
        return web.json_response({"status": "queued"})

    app = web.Application()
    app.router.add_post("/send", gateway)
    kab_port, prov_port = free_port(), free_port()
    async with local_app(app) as gateway_url:
        kab_config = regency(tmp_path, prov_port, f"{gateway_url}/send")
        async with instance(kab_config, kab_port) as (kab_store, kab):
            raw = json.dumps({"message_id": "gw-9001", "from": "081355500011",
                              "text": "Jalan berlubang besar di depan pasar #Jl. Godean km 6"}).encode()
            async with aiohttp.ClientSession() as s, s.post(f"{kab}/webhooks/sms", data=raw, headers={
                    "Content-Type": "application/json", **sign("test-webhook-secret", raw)}) as r:
                assert r.status == 202
                filed = await r.json()
            complaint_id = filed["service_request_id"]
            await eventually(lambda: _has(kab_store, complaint_id, "routed"))
            # the province is down while the regency tries to forward
            assert not await _has(kab_store, complaint_id, "forwarded")
            async with instance(province(tmp_path, kab_port), prov_port) as (prov_store, prov):
                await eventually(lambda: _has(kab_store, complaint_id, "forwarded"), within=30)
                status, listed = await _get(f"{prov}/open311/v2/requests.json?api_key={REGENCY_KEY}")
                assert status == 200 and len(listed) == 1
                remote = listed[0]
                record = await kab_store.get(record_key(complaint_id), ComplaintRecord)
                assert record is not None and (record.upstream, record.upstream_id) == ("prov", remote["service_request_id"])
                assert "Jl. Godean" in remote["address"] and "081355500011" not in json.dumps(remote)
                # answered upstream, by the province's agency
                for action, notes in (("respond", "Tim PU DIY meninjau ruas Godean."), ("close", "Ruas sudah diaspal.")):
                    async with aiohttp.ClientSession() as s, s.post(
                            f"{prov}/api/complaints/{remote['service_request_id']}/{action}",
                            json={"status_notes": notes}, headers=OPERATOR) as r:
                        assert r.status == 202
                await eventually(lambda: _has(kab_store, complaint_id, "closed"), within=30)
                record = await kab_store.get(record_key(complaint_id), ComplaintRecord)
                assert record is not None and record.status == "closed"
                responded = next(h for h in record.history if h.action == "responded")
                assert responded.actor == "Provinsi DIY: Dinas PU ESDM DIY" and "Godean" in responded.notes
                await eventually(lambda: _count(texts, 3))
                assert [t["text"].split(" ")[2] for t in texts[1:]] == ["ditanggapi", "selesai:"]
                assert "diaspal" in texts[2]["text"] and filed["token"] in texts[0]["text"]
                status, again = await _get(f"{prov}/open311/v2/requests.json?api_key={REGENCY_KEY}")
                assert len(again) == 1, "forwarded twice"
                # LAPOR!'s fields: the institution that must follow it up, and our number
                upstream = await prov_store.get(record_key(remote["service_request_id"]), ComplaintRecord)
                assert upstream is not None and upstream.client == "kab-sleman"
                assert upstream.attributes == {"instansi": "PU-SLEMAN", "ref": filed["token"]}
                status, bad = await _post_status(kab, "prov", {"event_id": "x", "step": "closed",
                                                               "service_request_id": remote["service_request_id"]},
                                                 secret="not-the-secret")
                assert status == 401
                status, _ = await _post_status(kab, "nowhere", {}, secret=SECRET)
                assert status == 404


async def _post_status(base: str, upstream: str, body: dict[str, Any], *, secret: str) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    async with aiohttp.ClientSession() as s, s.post(f"{base}/webhooks/upstream/{upstream}", data=raw, headers={
            "Content-Type": "application/json", **sign(secret, raw)}) as r:
        return r.status, await r.json()


async def _has(store: Store, complaint_id: str, action: str) -> bool:
    record = await store.get(record_key(complaint_id), ComplaintRecord)
    return record is not None and action in [h.action for h in record.history]


async def _count(items: list[Any], n: int) -> bool:
    return len(items) >= n
