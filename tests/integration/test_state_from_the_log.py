"""Lose Redis, lose nothing: the production path (tansu, redis-server, `command-center run` processes for the API,
complaints, incidents and notify, replies, police and upstream) with complaints through their whole life, incidents
paged through an escalation and replies to citizens, while Redis is lost: replaced by an empty server (its disk
gone with its host), or started again on an older copy of its data. Afterwards every acknowledged complaint is
served once with its history and its tracking token, incidents keep their state, nobody outside was told anything
twice, and every SLA and escalation timer fired once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from command_center.bus.kafka import KafkaBus
from command_center.events import Event, decode, new_event
from command_center.signing import sign
from command_center.testing.estates import complaint_estate
from command_center.testing.servers import KafkaBroker, RedisServer, free_port, local_app, wait_for_port
from processors.cctv.events import CCTV_EVENTS, CameraAnomaly
from processors.complaints.events import COMPLAINTS, ComplaintBreach
from processors.health.events import HEALTH_EVENTS, AppAnomaly
from tests.conftest import FAST_GROUPS, _start
from tests.helpers import bearer, eventually, publish

OPERATOR = bearer("demo-operator")
KEY = "demo-open311"
SECRET = "test-webhook-secret"
APPS = ("e-bansos", "e-lpse", "sipd")
# processes of the production path: the API alone, each processor group beside the ones it is deployed with
PROCESSES = (("api",), ("complaints",), ("incidents", "notify"), ("replies", "police", "upstream"))


@dataclass
class World:
    """Everything outside the centre that it tells things to: the SMS gateway, on-call webhooks, the police and
    the province's Open311 (each records what it was sent)."""

    sms: list[dict[str, Any]] = field(default_factory=list)
    pages: list[tuple[str, str, str]] = field(default_factory=list)  # (contact, notification id, incident id)
    police: list[str] = field(default_factory=list)
    filed: list[str] = field(default_factory=list)  # Idempotency-Keys of the complaints filed upstream

    async def send_sms(self, request: web.Request) -> web.Response:
        self.sms.append({**await request.json(), "at": time.monotonic()})
        return web.json_response({"status": "queued"}, status=202)

    async def page(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.pages.append((request.match_info["contact"], request.headers["X-CC-Notification"], body["incident_id"]))
        return web.json_response({"ok": True})

    async def police_post(self, request: web.Request) -> web.Response:
        self.police.append(request.headers["X-CC-Event-Id"])
        return web.json_response({"ok": True})

    async def upstream(self, request: web.Request) -> web.Response:
        key = request.headers["Idempotency-Key"]
        self.filed.append(key)
        return web.json_response([{"service_request_id": f"DIY-{key[:8]}", "token": key[:6]}], status=201)

    def texts_to(self, phone: str) -> list[str]:
        return [m["text"] for m in self.sms if m["to"][-8:] == phone[-8:]]

    def paged(self, contact: str, incident_id: str) -> int:
        return sum(1 for c, _, i in self.pages if c == contact and i == incident_id)


@pytest.fixture
async def world() -> AsyncIterator[tuple[World, str]]:
    w = World()
    app = web.Application()
    app.router.add_post("/api/send", w.send_sms)
    app.router.add_post("/hook/{contact}", w.page)
    app.router.add_post("/police", w.police_post)
    app.router.add_post("/open311/v2/requests.json", w.upstream)
    async with local_app(app) as url:
        yield w, url


def estate(world_url: str, kafka: KafkaBroker, redis: RedisServer, prefix: str, api_port: int) -> dict[str, Any]:
    config = complaint_estate()
    for service in config["services"]:
        if service["code"] == "jalan-rusak":
            service["response_minutes"] = 1  # a breach to see within the test: complaints nobody answers
    config["contacts"] += [{"id": "piket-1", "name": "Piket Satu", "webhook": f"{world_url}/hook/piket-1"},
                           {"id": "piket-2", "name": "Piket Dua", "webhook": f"{world_url}/hook/piket-2"},
                           {"id": "kadis", "name": "Kadis Kominfo", "webhook": f"{world_url}/hook/kadis"}]
    return {
        **config,
        "kafka": {"bootstrap": kafka.bootstrap, "topic_prefix": prefix, **FAST_GROUPS},
        "redis": {"url": redis.url},
        "http": {"host": "127.0.0.1", "port": api_port},
        "hub": {"host": "127.0.0.1", "port": 0},
        "replies": {"sms": {"url": f"{world_url}/api/send", "token": "gw-token", "sender": "CC SLEMAN"},
                    "first_retry_s": 1},
        "teams": [{"id": "noc", "members": ["piket-1", "piket-2"], "rota": True}],
        # the second step waits 40 s after the first was delivered: it falls after Redis is lost
        "escalation_policies": [{"id": "std", "steps": [{"wait_minutes": 0, "notify": ["noc"]},
                                                        {"wait_minutes": 40 / 60, "notify": ["kadis"]}]}],
        "escalation_routes": [{"policy": "std"}],
        "apps": [{"id": app, "name": app, "area": "depok",
                  "checks": [{"id": "web", "kind": "http", "target": "http://127.0.0.1:9/"}]} for app in APPS],
        "cameras": [{"id": "cam-1", "name": "Simpang Jombor", "url": "http://127.0.0.1:9/s.jpg", "area": "depok"}],
        "police": {"url": f"{world_url}/police"},
        "upstreams": [{"id": "prov", "name": "Provinsi", "url": f"{world_url}/open311/v2", "api_key": "ours",
                       "secret": "s" * 32, "services": ["jalan-rusak"]}],
    }


class Centre:
    """The centre's processes, each with its own configuration file (its own /readyz port)."""

    def __init__(self, config: dict[str, Any], folder: Path) -> None:
        self.config = config
        self.folder = folder
        self.procs: list[tuple[subprocess.Popen[bytes], Path, int]] = []
        self.url = f"http://127.0.0.1:{config['http']['port']}"

    def _file(self, name: str, ops_port: int) -> Path:
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**self.config, "ops": {"host": "127.0.0.1", "port": ops_port}}))
        return path

    def command(self, *args: str, name: str = "cli") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "command_center", *args, "--config",
                               str(self._file(name, free_port()))], capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        created = self.command("topics", "create")
        assert created.returncode == 0, created.stderr
        for services in PROCESSES:
            port = free_port()
            name = "-".join(services)
            log = self.folder / f"{name}.log"
            proc = subprocess.Popen([sys.executable, "-m", "command_center", "run", *services, "--config",
                                     str(self._file(name, port))], stdout=subprocess.DEVNULL,
                                    stderr=log.open("wb"), start_new_session=True)
            self.procs.append((proc, log, self.config["http"]["port"] if services == ("api",) else port))
        for proc, _, port in self.procs:
            wait_for_port(port, timeout=60, proc=proc)

    def stop(self) -> None:
        for proc, _, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _, _ in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for _, log, _ in self.procs:
            out += [json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{")]
        return out

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.request(method, f"{self.url}{path}", **kwargs) as r:
            body = await r.read()
            return r.status, json.loads(body) if r.content_type == "application/json" else body.decode()


@pytest.fixture
def redis_alone() -> Iterator[RedisServer]:
    server = _start(RedisServer)
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def running(broker: KafkaBroker, redis: RedisServer, world_url: str, prefix: str) -> AsyncIterator[Centre]:
    """The centre's processes over `broker` and `redis`, ready (its API answers /readyz), stopped afterwards."""
    c = Centre(estate(world_url, broker, redis, prefix, free_port()), Path(tempfile.mkdtemp(prefix="cc-centre-")))
    c.start()
    try:
        await eventually(lambda: _ready(c), within=60, every=0.5)
        yield c
    finally:
        c.stop()


@pytest.fixture
async def centre(kafka_broker: KafkaBroker, redis_alone: RedisServer,
                 world: tuple[World, str]) -> AsyncIterator[tuple[Centre, World, KafkaBus]]:
    prefix = f"s{uuid.uuid4().hex[:8]}."
    bus = KafkaBus(kafka_broker.bootstrap, topic_prefix=prefix, **FAST_GROUPS)
    await bus.start()
    try:
        async with running(kafka_broker, redis_alone, world[1], prefix) as c:
            yield c, world[0], bus
    finally:
        await bus.stop()


async def _ready(c: Centre) -> bool:
    try:
        status, _ = await c.call("GET", "/readyz")
    except aiohttp.ClientError:
        return False
    return status == 200


@dataclass
class Filed:
    id: str
    phone: str
    service: str
    token: str = ""


async def file(c: Centre, n: int) -> Filed:
    service = ("jalan-rusak", "sampah", "lainnya")[n % 3]
    phone = f"0812{n:08d}"
    # ten kilometres of the regency apart, so no two are taken for the same report
    lat, long = -7.60 - (n % 20) * 0.012, 110.15 + (n // 20) * 0.05
    status, body = await c.call("POST", "/open311/v2/requests.json", data={
        "api_key": KEY, "service_code": service, "lat": str(lat), "long": str(long), "phone": phone,
        "description": f"Laporan warga nomor {n}: {service} di titik {lat:.3f},{long:.3f}"},
        headers={"Idempotency-Key": f"warga-{n}"})
    assert status == 200, body
    return Filed(body[0]["service_request_id"], phone, service)


async def routed(c: Centre, filed: Filed) -> bool:
    status, body = await c.call("GET", f"/api/complaints/{filed.id}", headers=OPERATOR)
    if status != 200 or "routed" not in [h["action"] for h in body.get("history", [])]:
        return False
    filed.token = body["token"]
    return True


async def act(c: Centre, filed: Filed, action: str) -> None:
    status, body = await c.call("POST", f"/api/complaints/{filed.id}/{action}",
                                json={"status_notes": f"{action} oleh petugas"}, headers=OPERATOR)
    assert status == 202, body


async def rate(c: Centre, filed: Filed, n: int) -> bool:
    """The citizen's 1-5 by SMS; False while the centre awaits no rating from the number yet."""
    raw = json.dumps({"message_id": f"rate-{filed.id}", "from": filed.phone, "text": str(n)}).encode()
    status, body = await c.call("POST", "/webhooks/sms", data=raw,
                                headers={"Content-Type": "application/json", **sign(SECRET, raw)})
    assert status in (202, 422), body
    return status == 202


def down(app: str, n: int) -> Event:
    now = datetime.now(UTC)
    return new_event("id.go.cc.health.down", source="/processors/health", subject=app, time=now, id=f"{app}-down-{n}",
                     data=AppAnomaly(app_id=app, kind="down", active=True, state="down", previous="up", since=now))


def covered(n: int) -> Event:
    now = datetime.now(UTC)
    return new_event("id.go.cc.cctv.covered", source="/processors/cctv", subject="cam-1", time=now, id=f"cam-1-{n}",
                     data=CameraAnomaly(camera_id="cam-1", kind="covered", active=n % 2 == 0, state="covered",
                                        since=now))


async def incidents(c: Centre) -> dict[str, list[dict[str, Any]]]:
    """The incidents of each app."""
    status, body = await c.call("GET", "/api/incidents", headers=OPERATOR)
    out: dict[str, list[dict[str, Any]]] = {}
    for i in body["incidents"] if status == 200 else []:
        if i["entities"][0] in APPS:
            out.setdefault(i["entities"][0], []).append(i)
    return out


@pytest.mark.parametrize("loss", ["replaced", "rolled back"])
async def test_redis_lost_mid_run_loses_nothing_and_tells_nobody_twice(
        centre: tuple[Centre, World, KafkaBus], redis_alone: RedisServer, loss: str) -> None:
    c, world, bus = centre
    started = time.monotonic()
    # --- before: complaints filed and acted on, incidents paged, one acknowledged, camera events to the police
    before = [await file(c, n) for n in range(24)]
    for filed in before:
        await eventually(lambda f=filed: routed(c, f), within=30)
    await publish(bus, HEALTH_EVENTS, [down(app, 0) for app in APPS])
    await publish(bus, CCTV_EVENTS, [covered(n) for n in range(4)])
    await eventually(lambda: _count(incidents(c), len(APPS)), within=30)
    opened = {app: found[0]["id"] for app, found in (await incidents(c)).items()}
    # each paged by its first step before one is acknowledged (acknowledged before its page, it would page nobody)
    await eventually(lambda: _true(all(world.paged("piket-1", i) + world.paged("piket-2", i) for i in opened.values())),
                     within=30)
    acked = opened[APPS[0]]
    status, _ = await c.call("POST", f"/api/incidents/{acked}/ack", json={"text": "ditangani"}, headers=OPERATOR)
    assert status == 202
    for filed in before[1:12:2]:  # sampah and lainnya, answered: their clocks stop
        await act(c, filed, "respond")
    for filed in before[1:7:2]:
        await act(c, filed, "close")
    await eventually(lambda: rate(c, before[1], 5), within=30, every=0.2)
    await eventually(lambda: _true(all(any("Nilai" in t for t in world.texts_to(f.phone)) for f in before[1:7:2])),
                     within=30)
    await eventually(lambda: _true(len(world.police) >= 2), within=30)
    copy = redis_alone.copy_data()  # the state as it is now: what an older copy (or a lagging replica) holds
    more = [await file(c, n) for n in range(24, 30)]  # ... and what it will not hold
    for filed in more:
        await eventually(lambda f=filed: routed(c, f), within=30)
    await act(c, before[13], "respond")

    # --- Redis is lost
    if loss == "replaced":
        redis_alone.replaced()
    else:
        redis_alone.rolled_back(copy)
    lost_at = time.monotonic()

    # --- after: more complaints, more actions, more camera events; reads during the rebuild never say 404
    after = [await file(c, n) for n in range(30, 40)]
    for filed in before[9:13:2]:  # while the complaints are rebuilt the desk is told 503 and to retry
        await eventually(lambda f=filed: _accepted(c, f"/api/complaints/{f.id}/close"), within=60, every=0.5)
    await publish(bus, CCTV_EVENTS, [covered(n) for n in range(4, 6)])
    everyone = before + more + after
    for filed in everyone:
        status, body = await _read(c, filed)
        assert status in (200, 503), (status, body)  # never 404 for a complaint that exists

    async def all_served() -> bool:
        for filed in everyone:
            status, body = await c.call("GET", f"/open311/v2/requests/{filed.id}.json?api_key={KEY}")
            if status != 200:
                return False
        return True

    await eventually(all_served, within=90, every=0.5)
    tokens = {f.id: f.token for f in before + more}
    for filed in after:
        await eventually(lambda f=filed: routed(c, f), within=30)
    for filed in before + more:
        await routed(c, filed)
    assert {f.id: f.token for f in before + more} == tokens, "every complaint keeps the token its citizen was given"
    await eventually(lambda: rate(c, before[3], 4), within=30, every=0.2)

    # the SLA clocks of the roads nobody answered (a minute after receipt) and the second escalation step (40 s
    # after the first page) fall after the loss
    answered = {f.id for f in before[1:12:2]}
    breaches = [f for f in before + more if f.service == "jalan-rusak" and f.id not in answered]
    await eventually(lambda: _breached(bus, {f.id for f in breaches}), within=max(10, 75 - (time.monotonic() - started)) + 30,
                     every=1)
    await eventually(lambda: _true(all(world.paged("kadis", opened[app]) for app in APPS[1:])), within=60, every=0.5)
    await asyncio.sleep(3)  # anything sent twice would have been sent by now: every timer has fired

    # --- what a citizen, an operator and the world outside see
    status, listed = await c.call("GET", f"/open311/v2/requests.json?api_key={KEY}&service_request_id="
                                         + ",".join(f.id for f in everyone))
    assert status == 200 and sorted(r["service_request_id"] for r in listed) == sorted(f.id for f in everyone)
    records = {f.id: (await c.call("GET", f"/api/complaints/{f.id}", headers=OPERATOR))[1] for f in everyone}
    history = {i: [h["action"] for h in r["history"]] for i, r in records.items()}
    for filed in everyone:
        assert history[filed.id][:2] == ["received", "routed"], history[filed.id]
        assert records[filed.id]["token"], filed.id
    for filed in before[1:12:2]:
        assert history[filed.id].count("responded") == 1, history[filed.id]
    for filed in [*before[1:7:2], *before[9:13:2]]:
        assert history[filed.id].count("closed") == 1 and records[filed.id]["status"] == "closed"
    assert history[before[13].id].count("responded") == 1
    assert records[before[1].id]["rating"] == 5 and records[before[3].id]["rating"] == 4
    for filed in breaches:
        assert history[filed.id].count("breached_response") == 1, history[filed.id]
    now = await incidents(c)
    assert {app: [i["id"] for i in found] for app, found in now.items()} == {a: [i] for a, i in opened.items()}, \
        "no incident opened a second time"
    assert now[APPS[0]][0]["status"] == "acknowledged"
    assert {now[app][0]["status"] for app in APPS[1:]} == {"open"}

    sms = Counter(m["reference"] for m in world.sms)
    assert sms and max(sms.values()) == 1, (loss, [m for m in world.sms if sms[m["reference"]] > 1])
    assert all(sum("diterima" in t for t in world.texts_to(f.phone)) == 1 for f in everyone), \
        "every citizen heard once that their complaint arrived"
    pages = Counter(n for _, n, _ in world.pages)
    assert max(pages.values()) == 1, [p for p in world.pages if pages[p[1]] > 1]
    assert [world.paged("kadis", opened[app]) for app in APPS] == [0, 1, 1], \
        "the second step paged once for each incident nobody acknowledged"
    assert Counter(world.police) == Counter({f"cam-1-{n}": 1 for n in range(6)})
    filed_upstream = Counter(world.filed)
    assert max(filed_upstream.values()) == 1
    assert set(filed_upstream) == {f.id for f in everyone if f.service == "jalan-rusak"}
    rebuilt = [line for line in c.logs() if line.get("message") == "state derived again from the log"]
    # an older copy lacks only what changed after it was taken: at least the complaints filed since
    assert {line["processor"] for line in rebuilt} >= (
        {"complaints", "incidents", "notify", "replies", "upstream"} if loss == "replaced" else {"complaints"})
    assert time.monotonic() - lost_at < 120


async def _accepted(c: Centre, path: str) -> bool:
    status, body = await c.call("POST", path, json={"status_notes": "selesai"}, headers=OPERATOR)
    assert status in (202, 503), body
    return status == 202


async def _read(c: Centre, filed: Filed) -> tuple[int, Any]:
    status, body = await c.call("GET", f"/open311/v2/requests/{filed.id}.json?api_key={KEY}")
    return status, body


async def _count(found: Any, n: int) -> bool:
    return len(await found) >= n


async def _true(value: bool) -> bool:
    return value


async def _breached(bus: KafkaBus, ids: set[str]) -> bool:
    """Every complaint of `ids` has had its response deadline breached, each once, by what cc.complaints holds."""
    consumer = bus.consumer(f"breaches-{uuid.uuid4().hex[:6]}", [COMPLAINTS])
    await consumer.start()
    events: list[Event] = []
    try:
        while not consumer.assignment():
            events += [decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.2)]
        ends = await consumer.end_offsets()
        while not await consumer.read_up_to(ends):
            events += [decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.2)]
    finally:
        await consumer.stop()
    seen = Counter(e.subject for e in events if isinstance(e.data, ComplaintBreach) and e.data.deadline == "response")
    assert not seen or max(seen.values()) == 1, f"a breach published twice: {seen}"
    return set(seen) >= ids

