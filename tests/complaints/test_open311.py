"""Open311 GeoReport v2 as a client sees it: every call in JSON and XML with exactly the spec's shapes and error
lists; filters and paging; photos checked and re-encoded; identities never shown; keys and roles enforced."""

from __future__ import annotations

import asyncio
import contextlib
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from command_center.api.app import build_app
from command_center.bus import EmbeddedBus
from command_center.clock import SystemClock
from command_center.config import parse_config
from command_center.events import decode
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import open_runtime, topic_specs
from command_center.runtime.http import HttpServer
from command_center.store import MEMORY_URL, Store
from command_center.testing.estates import complaint_estate
from processors.complaints import COMPLAINTS_PROCESSOR
from processors.complaints.events import COMPLAINTS
from processors.composition import API_ROUTES
from tests.helpers import eventually

KEY = "demo-open311"
RECORD_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                 "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                 "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


@dataclass
class Api:
    url: str
    media: Path

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, str, bytes]:
        async with aiohttp.ClientSession() as s, s.request(method, f"{self.url}{path}", **kwargs) as r:
            return r.status, r.content_type, await r.read()

    async def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        status, _, body = await self.call(method, path, **kwargs)
        return status, json.loads(body)

    async def file(self, **fields: str) -> str:
        status, body = await self.json("POST", "/open311/v2/requests.json", data={"api_key": KEY, **fields})
        assert status == 200, body
        return str(body[0]["service_request_id"])


async def _api(tmp_path: Path, *, bus: EmbeddedBus | None = None, processing: bool = True,
               **complaints: object) -> AsyncIterator[Api]:
    """The API (and, `processing`, the complaints processor) over the embedded bus and store."""
    config = parse_config(complaint_estate(media_dir=str(tmp_path), **complaints), env={})
    bus = bus or EmbeddedBus()
    async with open_runtime(config, bus=bus, store=Store.open(MEMORY_URL)) as rt:
        await bus.ensure_topics(topic_specs(config))
        async with contextlib.AsyncExitStack() as running:
            if processing:
                await running.enter_async_context(ProcessorRunner(
                    COMPLAINTS_PROCESSOR, bus=bus, store=rt.store, config=config, clock=SystemClock(), poll_timeout=0.05))
            server = await running.enter_async_context(
                HttpServer(build_app(rt, API_ROUTES, max_body=8 * 1024 * 1024), "127.0.0.1", 0))
            yield Api(f"http://127.0.0.1:{server.port}", tmp_path)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for a in _api(tmp_path):
        yield a


async def routed(api: Api, request_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def done() -> bool:
        _, body = await api.json("GET", f"/open311/v2/requests/{request_id}.json?api_key={KEY}")
        found.update(body[0])
        return body[0]["agency_responsible"] is not None
    await eventually(done, within=10)
    return found


async def test_services_and_a_definition_in_both_formats(api: Api) -> None:
    status, services = await api.json("GET", f"/open311/v2/services.json?api_key={KEY}")
    assert status == 200 and isinstance(services, list)
    road = next(s for s in services if s["service_code"] == "jalan-rusak")
    assert road == {"service_code": "jalan-rusak", "service_name": "Jalan rusak", "description": "", "metadata": False,
                    "type": "realtime", "keywords": "jalan, berlubang", "group": "infrastruktur"}
    status, content_type, body = await api.call("GET", f"/open311/v2/services.xml?api_key={KEY}")
    root = ET.fromstring(body)
    assert (status, content_type, root.tag) == (200, "text/xml", "services") and body.startswith(b"<?xml")
    assert [child.tag for child in root[0]] == ["service_code", "service_name", "description", "metadata", "type",
                                                "keywords", "group"]
    status, content_type, body = await api.call("GET", f"/open311/v2/services/layanan-ktp.xml?api_key={KEY}")
    definition = ET.fromstring(body)
    assert definition.tag == "service_definition" and definition.findtext("service_code") == "layanan-ktp"
    attribute = definition.find("attributes/attribute")
    assert attribute is not None and [c.tag for c in attribute] == [
        "variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"]
    assert [(v.findtext("key"), v.findtext("name")) for v in attribute.findall("values/value")] == \
        [("ktp", "KTP-el"), ("kk", "Kartu Keluarga")]
    status, definition_json = await api.json("GET", f"/open311/v2/services/layanan-ktp.json?api_key={KEY}")
    assert definition_json["attributes"][0]["required"] is True and definition_json["attributes"][1]["order"] == 1


async def test_file_then_fetch_list_and_token(api: Api) -> None:
    status, body = await api.json("POST", "/open311/v2/requests.json", data={
        "api_key": KEY, "jurisdiction_id": "slemankab.go.id", "service_code": "layanan-ktp", "lat": "-7.7651",
        "long": "110.4002", "attribute[jenis]": "kk", "description": "Antrean <b>panjang</b>", "first_name": "Siti",
        "last_name": "Aminah", "email": "siti@example.id", "phone": "0812000111", "device_id": "dev-9"})
    assert status == 200 and list(body[0]) == ["service_request_id", "token", "service_notice", "account_id",
                                               "tracking_url"]
    request_id, token = body[0]["service_request_id"], body[0]["token"]
    assert token and body[0]["tracking_url"] == f"http://cc.test/lapor/{token}"
    status, _, page = await api.call("GET", f"/lapor/{token}")
    assert status == 200 and token.encode() in page
    record = await routed(api, request_id)
    assert list(record) == RECORD_FIELDS
    assert record["status"] == "open" and record["agency_responsible"] == "Diskominfo"  # the default agency
    assert record["description"] == "Antrean <b>panjang</b>" and record["lat"] == -7.7651
    assert record["requested_datetime"].endswith("+07:00") and record["expected_datetime"] > record["requested_datetime"]
    raw = str(record)
    assert "Siti" not in raw and "0812000111" not in raw and "siti@example.id" not in raw
    status, _, xml = await api.call("GET", f"/open311/v2/requests/{request_id}.xml?api_key={KEY}")
    request = ET.fromstring(xml).find("request")
    assert request is not None and [c.tag for c in request] == RECORD_FIELDS
    assert request.findtext("description") == "Antrean <b>panjang</b>" and b"&lt;b&gt;" in xml
    assert b"Siti" not in xml
    status, many = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}&service_request_id={request_id},nope")
    assert [r["service_request_id"] for r in many] == [request_id]


async def test_list_filters_and_pages(api: Api) -> None:
    ids = [await api.file(service_code=code, lat=f"{-7.70 - 0.01 * i:.4f}", long="110.45", description=f"nomor {i}")
           for i, code in enumerate(["jalan-rusak", "sampah", "jalan-rusak", "lainnya", "jalan-rusak"])]
    for request_id in ids:
        await routed(api, request_id)
    status, roads = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}&service_code=jalan-rusak")
    assert status == 200 and [r["service_request_id"] for r in roads] == [ids[4], ids[2], ids[0]]  # newest first
    _, two = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}&service_code=jalan-rusak,sampah"
                                   "&page=2&page_size=2")
    assert [r["service_request_id"] for r in two] == [ids[1], ids[0]]
    _, closed = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}&status=closed")
    assert closed == []
    _, past = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}&end_date=2020-01-01T00:00:00Z")
    assert past == []


async def test_a_retry_with_the_same_idempotency_key_files_one_complaint(api: Api) -> None:
    """draft-ietf-httpapi-idempotency-key-header: the same key and body answer as the first time; another body
    under the key is 422; an empty key, one over 255 characters or not ASCII is 400; each refusal names the key.
    The key is the caller's own, so another caller's same key files its own complaint."""
    form = {"api_key": KEY, "service_code": "sampah", "address_string": "Jl. Damai 3", "description": "Sampah",
            "phone": "0812111"}
    answers = [await api.json("POST", "/open311/v2/requests.json", data=form, headers={"Idempotency-Key": "k-1"})
               for _ in range(3)]
    assert [status for status, _ in answers] == [200, 200, 200] and answers[0][1] == answers[1][1] == answers[2][1]
    request_id = answers[0][1][0]["service_request_id"]
    status, other = await api.json("POST", "/open311/v2/requests.json", data={**form, "description": "Lain"},
                                   headers={"Idempotency-Key": "k-1"})
    assert status == 422 and other[0]["code"] == 422 and "Idempotency-Key" in other[0]["description"]
    status, staff = await api.json("POST", "/open311/v2/requests.json", data={**form, "api_key": ""},
                                   headers={"Idempotency-Key": "k-1", "Authorization": "Bearer demo-operator"})
    assert status == 200 and staff[0]["service_request_id"] != request_id
    for key in ("é", "", "k" * 256):
        status, bad = await api.json("POST", "/open311/v2/requests.json", data=form, headers={"Idempotency-Key": key})
        assert status == 400 and bad[0]["code"] == 400 and "Idempotency-Key" in bad[0]["description"], (key, bad)
    status, longest = await api.json("POST", "/open311/v2/requests.json", data=form,
                                     headers={"Idempotency-Key": "k" * 255})
    assert status == 200 and longest[0]["service_request_id"] not in (request_id, staff[0]["service_request_id"])
    await routed(api, request_id)
    await routed(api, staff[0]["service_request_id"])
    _, listed = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}")
    assert sorted(r["service_request_id"] for r in listed) == sorted([request_id, staff[0]["service_request_id"],
                                                                      longest[0]["service_request_id"]])


async def test_a_record_read_before_it_is_routed_says_when_it_is_due(tmp_path: Path) -> None:
    """Intake knows the service and the time, so the due time too: no client polls for expected_datetime."""
    async for api in _api(tmp_path, processing=False):
        status, body = await api.json("POST", "/open311/v2/requests.json", data={
            "api_key": KEY, "service_code": "sampah", "address_string": "Jl. Damai 3", "description": "Sampah"})
        assert status == 200
        _, found = await api.json("GET", f"/open311/v2/requests/{body[0]['service_request_id']}.json?api_key={KEY}")
        record = found[0]
        assert record["agency_responsible"] is None  # nobody has routed it
        requested = datetime.fromisoformat(record["requested_datetime"])
        expected = datetime.fromisoformat(record["expected_datetime"])
        assert expected - requested == timedelta(minutes=720)  # sampah's feedback time in this estate


class HeldBus(EmbeddedBus):
    """The embedded bus whose publishes of receipts wait while `held` is clear: a broker slow to take a
    complaint."""

    def __init__(self) -> None:
        super().__init__()
        self.held = asyncio.Event()
        self.held.set()
        self.waiting = 0

    async def publish(self, messages):  # type: ignore[no-untyped-def]
        receipts = any(m.topic == COMPLAINTS and decode(m.value).type == "id.go.cc.complaint.received"
                       for m in messages)
        self.waiting += receipts
        await self.held.wait()
        self.waiting -= receipts
        return await super().publish(messages)


async def test_a_retry_while_the_first_request_is_still_being_stored_is_409(tmp_path: Path) -> None:
    """The draft's concurrent case: a retry under the same key while the first is still in hand is told 409 (not
    filed twice, not made to wait); once the first is stored the same retry answers as it did."""
    bus = HeldBus()
    async for api in _api(tmp_path, bus=bus):
        form = {"api_key": KEY, "service_code": "sampah", "address_string": "Jl. Damai 3", "description": "Sampah"}
        bus.held.clear()
        first = asyncio.ensure_future(api.json("POST", "/open311/v2/requests.json", data=form,
                                               headers={"Idempotency-Key": "slow-1"}))
        await eventually(lambda: _true(bus.waiting == 1), within=10)
        status, busy = await api.json("POST", "/open311/v2/requests.json", data=form,
                                      headers={"Idempotency-Key": "slow-1"})
        assert status == 409 and busy[0]["code"] == 409 and "Idempotency-Key" in busy[0]["description"]
        status, other = await api.json("POST", "/open311/v2/requests.json", data={**form, "description": "Lain"},
                                       headers={"Idempotency-Key": "slow-1"})
        assert status == 422 and "Idempotency-Key" in other[0]["description"]
        bus.held.set()
        status, filed = await first
        assert status == 200
        assert await api.json("POST", "/open311/v2/requests.json", data=form,
                              headers={"Idempotency-Key": "slow-1"}) == (200, filed)
        await routed(api, filed[0]["service_request_id"])
        _, listed = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}")
        assert [r["service_request_id"] for r in listed] == [filed[0]["service_request_id"]]


async def _true(value: bool) -> bool:
    return value


async def test_a_cursor_walk_lists_each_complaint_once_while_more_arrive(api: Api) -> None:
    ids = [await api.file(service_code="sampah", address_string=f"Jl. {i}", description=f"nomor {i}")
           for i in range(7)]
    for request_id in ids:
        await routed(api, request_id)
    seen: list[str] = []
    url: str | None = f"/open311/v2/requests.json?api_key={KEY}&page_size=3"
    while url is not None:
        async with aiohttp.ClientSession() as s, s.get(f"{api.url}{url}") as r:
            assert r.status == 200
            seen.extend(x["service_request_id"] for x in await r.json())
            url = r.links.get("next", {}).get("url")  # type: ignore[assignment]
            url = str(url.relative()) if url is not None else None  # type: ignore[attr-defined]
        await routed(api, await api.file(service_code="sampah", address_string="Jl. Baru", description="baru"))
    assert seen == ids[::-1]  # newest first, none twice, none of the newcomers pushed an old one onto a later page


@pytest.mark.parametrize(("method", "path", "data", "status", "text"), [
    ("GET", "/open311/v2/services.json", None, 403, "api_key"),
    ("GET", f"/open311/v2/requests.json?api_key={KEY}&cursor=%%%", None, 400, "cursor"),
    ("GET", "/open311/v2/services.json?api_key=wrong", None, 403, "Invalid api_key"),
    ("GET", f"/open311/v2/services/nope.json?api_key={KEY}", None, 404, "service_code 'nope' not found"),
    ("GET", f"/open311/v2/services.json?api_key={KEY}&jurisdiction_id=jogjakota.go.id", None, 404, "jurisdiction_id"),
    ("GET", f"/open311/v2/requests/nope.json?api_key={KEY}", None, 404, "not found"),
    ("GET", f"/open311/v2/tokens/ZZZZ.json?api_key={KEY}", None, 404, "not found"),
    ("GET", f"/open311/v2/requests.json?api_key={KEY}&start_date=yesterday", None, 400, "not an RFC 3339 date-time"),
    ("GET", f"/open311/v2/requests.json?api_key={KEY}&status=pending", None, 400, "status"),
    ("POST", "/open311/v2/requests.json", {"api_key": "wrong", "service_code": "sampah"}, 403, "Invalid api_key"),
    # GeoReport v2's own codes for a filing it refuses: 404 for an unknown service, 400 for anything else wrong
    ("POST", "/open311/v2/requests.json", {"api_key": KEY, "service_code": "pothole", "address_string": "Jl. Damai",
                                           "description": "x"}, 404, "service_code 'pothole' not found"),
    ("POST", "/open311/v2/requests.json", {"api_key": KEY, "address_string": "Jl. Damai", "description": "x"}, 400,
     "service_code: required"),
    ("POST", "/open311/v2/requests.json", {"api_key": KEY, "service_code": "sampah", "lat": "95", "long": "110.4",
                                           "description": "x"}, 400, "lat: 95.0 must be at most -7.54"),
    ("POST", "/open311/v2/requests.json", {"api_key": KEY, "service_code": "sampah", "lat": "-7.7",
                                           "description": "x"}, 400, "long: required"),
    ("POST", "/open311/v2/requests.json", {"api_key": KEY, "service_code": "sampah", "description": "x"}, 400,
     "address_string: required"),
    ("POST", "/open311/v2/requests.json", {"api_key": KEY, "service_code": "sampah", "address_string": "Jl. Damai",
                                           "description": "x" * 5000}, 400, "description: at most 4,000 characters"),
    ("POST", "/open311/v2/requests.json", {"api_key": KEY, "service_code": "sampah", "address_string": "Jl. Damai",
                                           "description": "x", "jurisdiction_id": "jogjakota.go.id"}, 404,
     "jurisdiction_id"),
])
async def test_errors_are_the_spec_list_in_both_formats(api: Api, method: str, path: str, data: dict | None,  # type: ignore[type-arg]
                                                       status: int, text: str) -> None:
    got, body = await api.json(method, path, data=data)
    assert got == status and isinstance(body, list) and body[0]["code"] == status and text in body[0]["description"]
    got, content_type, xml = await api.call(method, path.replace(".json", ".xml"), data=data)
    errors = ET.fromstring(xml)
    assert (got, content_type, errors.tag) == (status, "text/xml", "errors")
    assert errors.findtext("error/code") == str(status) and text in (errors.findtext("error/description") or "")


async def test_a_20_mb_description_is_refused_and_nothing_accepted_is_lost(api: Api) -> None:
    kept = await api.file(service_code="sampah", address_string="Jl. Damai", description="tetap ada")
    got, body = await api.json("POST", "/open311/v2/requests.json", data={
        "api_key": KEY, "service_code": "sampah", "address_string": "x", "description": "x" * (20 * 1024 * 1024)})
    assert got == 413 and body[0]["code"] == 413
    assert (await routed(api, kept))["description"] == "tetap ada"


def _png(width: int = 640, height: int = 480) -> bytes:
    image = np.full((height, width, 3), 120, np.uint8)
    cv2.circle(image, (320, 240), 100, (0, 0, 255), -1)
    return bytes(cv2.imencode(".png", image)[1].tobytes())


async def test_a_photo_is_checked_reencoded_and_served(api: Api) -> None:
    form = aiohttp.FormData()
    for name, value in {"api_key": KEY, "service_code": "sampah", "address_string": "TPS Jl. Damai"}.items():
        form.add_field(name, value)
    form.add_field("media", _png(), filename="foto.png", content_type="image/png")
    status, body = await api.json("POST", "/open311/v2/requests.json", data=form)
    assert status == 200, body
    record = await routed(api, body[0]["service_request_id"])
    url = record["media_url"]
    assert url.startswith("http://cc.test/media/") and url.endswith(".jpg")
    status, content_type, image = await api.call("GET", "/media/" + url.rsplit("/", 1)[1])
    assert (status, content_type) == (200, "image/jpeg") and image[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (480, 640, 3)
    assert b"Exif" not in image[:200]


@pytest.mark.parametrize(("payload", "status", "text"), [
    (b"<html>not a photo</html>", 400, "not a JPEG or PNG"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (60000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00", 400,
     "60000x60000 pixels is not accepted"),
    (b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9", 400, "not a JPEG or PNG"),
])
async def test_a_bad_photo_is_refused_and_leaves_no_file(api: Api, payload: bytes, status: int, text: str) -> None:
    form = aiohttp.FormData()
    for name, value in {"api_key": KEY, "service_code": "sampah", "address_string": "x", "description": "y"}.items():
        form.add_field(name, value)
    form.add_field("media", payload, filename="x.png", content_type="image/png")
    got, body = await api.json("POST", "/open311/v2/requests.json", data=form)
    assert got == status and text in body[0]["description"]
    assert not list(api.media.glob("*.jpg"))


async def test_staff_may_read_with_a_token_and_the_police_may_not(api: Api) -> None:
    ok, _ = await api.json("GET", "/open311/v2/services.json", headers={"Authorization": "Bearer demo-operator"})
    refused, body = await api.json("GET", "/open311/v2/requests.json", headers={"Authorization": "Bearer demo-police"})
    assert ok == 200 and refused == 403 and "police" in body[0]["description"]


async def test_public_reads_can_be_allowed(tmp_path: Path) -> None:
    async for api in _api(tmp_path, public_reads=True):
        assert (await api.json("GET", "/open311/v2/services.json"))[0] == 200
        assert (await api.json("POST", "/open311/v2/requests.json", data={"service_code": "sampah"}))[0] == 403


def _phone_photo(megabytes: float) -> bytes:
    """A 12-megapixel JPEG of about `megabytes`, as a phone takes one (detail everywhere: noise over a scene)."""
    rng = np.random.default_rng(7)
    scene = np.repeat(np.linspace(40, 220, 4000, dtype=np.float32)[None, :, None], 3000, axis=0).repeat(3, axis=2)
    for quality in range(50, 101, 5):
        noisy = np.clip(scene + rng.normal(0, 28, scene.shape), 0, 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        if len(encoded) >= megabytes * 1e6:
            return encoded.tobytes()
    raise AssertionError("could not make a photo that large")


async def test_a_phone_photo_is_accepted_and_one_too_large_refused_before_it_is_read(api: Api) -> None:
    photo = _phone_photo(4.5)
    assert 4.5e6 <= len(photo) < 5 * 1024 * 1024
    form = aiohttp.FormData()
    for name, value in {"api_key": KEY, "service_code": "sampah", "address_string": "TPS Jl. Damai"}.items():
        form.add_field(name, value)
    form.add_field("media", photo, filename="IMG_2041.jpg", content_type="image/jpeg")
    status, body = await api.json("POST", "/open311/v2/requests.json", data=form)
    assert status == 200, body
    url = (await routed(api, body[0]["service_request_id"]))["media_url"]
    _, _, stored = await api.call("GET", "/media/" + url.rsplit("/", 1)[1])
    assert max(cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR).shape[:2]) == 2048  # re-encoded
    sent = 0

    async def twelve_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(12 * 16):
            sent += 65536
            yield b"\xff" * 65536
    headers = {"Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(12 * 1024 * 1024)}
    status, body = await api.json("POST", f"/open311/v2/requests.json?api_key={KEY}", data=twelve_megabytes(),
                                  headers=headers)
    assert status == 413 and "at most" in body[0]["description"]
    assert sent < 12 * 1024 * 1024  # answered before the client had sent it all


async def test_discovery_in_both_formats(api: Api) -> None:
    status, body = await api.json("GET", "/open311/v2/discovery.json")
    assert status == 200 and body["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    status, content_type, raw = await api.call("GET", "/open311/v2/discovery.xml")
    root = ET.fromstring(raw)
    assert (status, content_type, root.tag) == (200, "text/xml", "discovery")
    assert [f.text for f in root.iter("format")] == ["application/json", "text/xml"]
    assert root.findtext("endpoints/endpoint/url") == body["endpoints"][0]["url"]
