"""Hostile clients against the running API over real sockets: malformed bodies and requests, slow clients,
oversized heads and bodies. Each answers a 4xx in the route's documented error shape within its time limit,
echoes no secret, and the server keeps serving."""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from command_center.api.app import build_app
from command_center.bus import EmbeddedBus
from command_center.config import parse_config
from command_center.runtime.host import open_runtime, topic_specs
from command_center.runtime.http import HttpServer
from command_center.store import MEMORY_URL, Store
from command_center.testing.estates import complaint_estate
from processors.composition import API_ROUTES

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def error(self) -> str:
        """The error of a body in one of the documented shapes: the API's {"error": {...}}, or Open311's
        list of errors in JSON or XML."""
        if self.headers.get("content-type", "").startswith(("text/xml", "application/xml")):
            return ET.fromstring(self.body).findtext("error/description") or ""
        body = json.loads(self.body)
        return str(body[0]["description"] if isinstance(body, list) else body["error"]["code"])


@dataclass
class Server:
    port: int

    async def raw(self, data: bytes, *, then: bytes = b"", wait: float = 10) -> Answer:
        """Send `data` (and `then` after it, unless the server has answered), read the answer to the end."""
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            await writer.drain()
            if then:
                writer.write(then)
            raw = await asyncio.wait_for(reader.read(-1), wait)
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
        if "content-length" in headers:
            body = body[:int(headers["content-length"])]
        return Answer(int(lines[0].split()[1]), headers, body, time.monotonic() - started)

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"",
                      **kw: float) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body and "Content-Length" not in (headers or {}):
            lines.append(f"Content-Length: {len(body)}")
        return await self.raw(("\r\n".join(lines) + "\r\n\r\n").encode() + body, **kw)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    estate = complaint_estate(media_dir=str(tmp_path))
    estate["http"] = {"header_timeout_s": HEADER_TIMEOUT, "body_timeout_s": BODY_TIMEOUT}
    estate["sensors"] = [{"id": "tma-code", "name": "TMA Kali Code", "kind": "water_level", "unit": "cm"}]
    config = parse_config(estate, env={})
    bus = EmbeddedBus()
    async with open_runtime(config, bus=bus, store=Store.open(MEMORY_URL)) as rt:
        await bus.ensure_topics(topic_specs(config))
        async with HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0, header_timeout_s=HEADER_TIMEOUT) as http:
            yield Server(http.port)


OPERATOR = {"Authorization": "Bearer demo-operator"}
INGEST = {"Authorization": "Bearer demo-ingest"}
BROKEN_PART = (b"--XyZ\r\nContent-Disposition: form-data; name=\"service_code\"\r\n\r\nsampah\r\n"
               b"--XyZ\r\nthis is not a part header\r\n\r\n\x00\x01")
DEEP = b"[" * 100_000 + b"]" * 100_000

CASES = [
    # (name, method, path, headers, body, the statuses a client may be answered)
    ("multipart without a boundary, before auth", "POST", "/open311/v2/requests.json",
     {"Content-Type": "multipart/form-data"}, b"--x\r\n\r\nhello", {400}),
    ("multipart with a broken part, before auth, XML", "POST", "/open311/v2/requests.xml",
     {"Content-Type": "multipart/form-data; boundary=XyZ"}, BROKEN_PART, {400}),
    ("multipart with a broken part to the SMS webhook", "POST", "/webhooks/sms",
     {**INGEST, "Content-Type": "multipart/form-data; boundary=XyZ"}, BROKEN_PART, {400}),
    ("multipart without a boundary to the social webhook", "POST", "/webhooks/social",
     {**INGEST, "Content-Type": "multipart/form-data"}, b"x", {400}),
    ("multipart with a broken part to staff intake", "POST", "/api/complaints",
     {**OPERATOR, "Content-Type": "multipart/form-data; boundary=XyZ"}, BROKEN_PART, {400}),
    ("multipart without a boundary to a complaint action", "POST", "/api/complaints/x/respond",
     {**OPERATOR, "Content-Type": "multipart/form-data"}, b"x", {400, 404}),
    ("JSON nested 100,000 deep", "POST", "/api/complaints",
     {**OPERATOR, "Content-Type": "application/json"}, DEEP, {400}),
    ("JSON nested 100,000 deep to an incident action", "POST", "/api/incidents/x/comment",
     {**OPERATOR, "Content-Type": "application/json"}, DEEP, {400, 404}),
    ("a number of 5,000 digits", "POST", "/api/complaints",
     {**OPERATOR, "Content-Type": "application/json"}, b'{"description": 1' + b"0" * 5000 + b"}", {400}),
    ("an ack link that is not ASCII", "GET", "/ack/%C3%A9.%C3%A9", {}, b"", {403}),
    ("a body far over the route's limit, refused before it is read", "POST", "/api/complaints",
     {**OPERATOR, "Content-Type": "application/json", "Content-Length": str(20 * 1024 * 1024)}, b"{", {413}),
    ("a method the route does not have", "DELETE", "/open311/v2/services.json", {}, b"", {405}),
]


@pytest.mark.parametrize("name,method,path,headers,body,statuses", CASES, ids=[c[0] for c in CASES])
async def test_malformed_requests_get_the_documented_error(server: Server, name: str, method: str, path: str,
                                                           headers: dict[str, str], body: bytes,
                                                           statuses: set[int]) -> None:
    answer = await server.request(method, path, headers, body)
    assert answer.status in statuses, (answer.status, answer.body[:300])
    code = answer.error()
    assert code and "Traceback" not in answer.body.decode("utf-8", "replace")
    for internal in ("set_int_max_str_digits", "RecursionError", "TypeError", "compare_digest"):
        assert internal not in answer.body.decode("utf-8", "replace")
    if answer.status == 405:
        assert "GET" in answer.headers["allow"]
    assert (await server.request("GET", "/open311/v2/services.json?api_key=demo-open311")).status == 200


async def test_an_oversized_header_is_refused_without_echoing_it(server: Server) -> None:
    token = "a" * 9000
    answer = await server.request("GET", "/api/complaints", {"Authorization": f"Bearer {token}"})
    assert answer.status == 431 and json.loads(answer.body)["error"]["code"] == "header_too_large"
    assert b"aaaa" not in answer.body


async def test_garbage_instead_of_http_is_refused(server: Server) -> None:
    answer = await server.raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n")
    assert answer.status == 400 and json.loads(answer.body)["error"]["code"] == "bad_request"


async def test_a_client_dribbling_its_headers_is_cut_off(server: Server) -> None:
    answer = await server.raw(b"GET /open311/v2/services.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1",
                              wait=HEADER_TIMEOUT + 5)
    assert answer.status == 408 and json.loads(answer.body)["error"]["code"] == "request_timeout"
    assert HEADER_TIMEOUT * 0.8 < answer.seconds < HEADER_TIMEOUT + 3


async def test_a_body_shorter_than_its_length_is_cut_off(server: Server) -> None:
    for headers in ({**OPERATOR, "Content-Type": "application/json", "Content-Length": "100"},
                    {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "100"}):
        path = "/api/complaints" if "Authorization" in headers else "/open311/v2/requests.json"
        answer = await server.request("POST", path, headers, b"{\"a\": 1", wait=BODY_TIMEOUT + 5)
        assert answer.status == 408, answer.body
        assert answer.seconds < BODY_TIMEOUT + 3


async def test_metrics_count_requests_by_route_template_and_status(server: Server) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    for path in ("/open311/v2/requests/a.json?api_key=demo-open311", "/open311/v2/requests/b.json?api_key=x",
                 "/no/such/place"):
        await server.request("GET", path)
    exposition = (await server.request("GET", "/metrics")).body.decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(exposition) for s in family.samples}
    template = "/open311/v2/requests/{service_request_id}.{format}"

    def count(route: str, status: str) -> float:
        return samples.get(("cc_http_requests_total", (("method", "GET"), ("route", route), ("status", status))), 0)
    assert count(template, "404") >= 1 and count(template, "403") >= 1  # one series per template, not per id
    assert count("(no route)", "404") >= 1
    assert not any("/a.json" in str(labels) or "/no/such" in str(labels) for _, labels in samples)
    assert any(name == "cc_http_request_duration_seconds_bucket" for name, _ in samples)


JSON_OPERATOR = {**OPERATOR, "Content-Type": "application/json"}
STRICT = [
    # (name, method, path, headers, body, status, what the message must say); a batch of readings is received
    # whole (202) and lists each reading it refused, with the reason
    ("a boolean for a coordinate", "POST", "/api/complaints", JSON_OPERATOR,
     b'{"service_code": "sampah", "description": "x", "lat": true, "long": 110.4}', 422, "lat: true is not a number"),
    ("fields under names the API does not have", "POST", "/api/complaints", JSON_OPERATOR,
     b'{"service_code": "sampah", "description": "x", "address": "Jl. Kaliurang", "name": "Budi", "phone": "0812"}',
     422, "name: unknown field"),
    ("a point at (0, 0) for a regency in Java", "POST", "/open311/v2/requests.json",
     {"Content-Type": "application/x-www-form-urlencoded"},
     b"api_key=demo-open311&service_code=sampah&lat=0&long=0&description=x", 400, "lat: 0.0 must be at most -7.54"),
    ("a river level of 1e308 cm", "POST", "/webhooks/sensors", {**INGEST, "Content-Type": "application/json"},
     b'{"readings": [{"sensor_id": "tma-code", "value": 1e308}]}', 202, "outside what this sensor can read"),
    ("a severity that does not exist", "GET", "/api/incidents?severity=bogus", OPERATOR, b"", 400,
     "severity: 'bogus' is not one of"),
    ("a negative limit", "GET", "/api/incidents?limit=-5", OPERATOR, b"", 400, "limit: -5 is below 1"),
    ("a limit that is not a number", "GET", "/api/complaints?limit=ten", OPERATOR, b"", 400, "not a whole number"),
    ("a time far out of range", "POST", "/webhooks/sensors", {**INGEST, "Content-Type": "application/json"},
     b'{"readings": [{"sensor_id": "tma-code", "value": 120, "time": 1e300}]}', 202, "is not a date"),
]


@pytest.mark.parametrize("name,method,path,headers,body,status,says", STRICT, ids=[c[0] for c in STRICT])
async def test_wrong_input_is_refused_naming_the_field(server: Server, name: str, method: str, path: str,
                                                       headers: dict[str, str], body: bytes, status: int,
                                                       says: str) -> None:
    answer = await server.request(method, path, headers, body)
    assert (answer.status, says in answer.body.decode()) == (status, True), answer.body[:400]
    for internal in ("set_int_max_str_digits", "time_t", "None", "Traceback"):
        assert internal not in answer.body.decode()
