"""What signing in costs: the check each request makes, and hub handshakes, by a person's session cookie beside
the bare configured token (the baseline) in the same run.

Against a real redis-server (sessions) and PostgreSQL (people and named API tokens), both started here on free
ports. Per request: the authenticator alone (microseconds per check), then whole requests to a small route of the
real application (requests/s, p50/p95). Per handshake: the hub service's websocket handshake, subscribe and
snapshot, by bearer token and by cookie with its Origin check.

    python bench/auth.py [--requests 4000] [--handshakes 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import aiohttp  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench._common import report  # noqa: E402
from command_center.accounts.sessions import COOKIE  # noqa: E402
from command_center.api.app import build_app  # noqa: E402
from command_center.bus import EmbeddedBus  # noqa: E402
from command_center.hub.transports import hub_service  # noqa: E402
from command_center.runtime.host import open_runtime  # noqa: E402
from command_center.runtime.http import HttpServer  # noqa: E402
from command_center.store import Store  # noqa: E402
from command_center.testing.servers import PostgresServer, RedisServer, free_port  # noqa: E402
from processors.composition import API_ROUTES, APP  # noqa: E402
from tests.accounts.site import ADMIN, site_config  # noqa: E402

PASSWORD = "kata-sandi-rahasia"


def _ms(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1] * 1000, 2) if len(values) > 2 else 0.0


async def _requests(url: str, headers: dict[str, str], n: int, concurrency: int = 8) -> dict[str, float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as s:
        async def worker(count: int) -> None:
            for _ in range(count):
                t = time.perf_counter()
                async with s.get(url) as r:
                    await r.read()
                    assert r.status == 200, r.status
                latencies.append(time.perf_counter() - t)
        started = time.perf_counter()
        await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
        took = time.perf_counter() - started
    return {"per_s": round(len(latencies) / took), "p50_ms": _ms(latencies, 50), "p95_ms": _ms(latencies, 95)}


async def _checks(rt, headers: dict[str, str], cookies: dict[str, str], n: int, *, cold: bool = False) -> float:  # type: ignore[no-untyped-def]
    """Microseconds per check; `cold`: as if every check were its process's first in half a second (the
    session read from Redis, the person from PostgreSQL)."""
    await rt.auth.principal(headers, cookies)  # warm
    started = time.perf_counter()
    for _ in range(n):
        if cold:
            rt.sessions._read.clear()
            rt.directory._people.clear()
        await rt.auth.principal(headers, cookies)
    return round((time.perf_counter() - started) / n * 1e6, 1)


async def _handshakes(url: str, headers: dict[str, str], n: int, concurrency: int = 4) -> dict[str, float]:
    times: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            t = time.perf_counter()
            async with connect(url, additional_headers=headers) as ws:
                await ws.send(json.dumps({"type": "subscribe", "channels": ["incidents"]}))
                assert json.loads(await ws.recv())["type"] == "snapshot"
            times.append(time.perf_counter() - t)
    started = time.perf_counter()
    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    took = time.perf_counter() - started
    return {"per_s": round(len(times) / took), "p50_ms": _ms(times, 50), "p95_ms": _ms(times, 95)}


async def main(requests: int, handshakes: int) -> None:
    with RedisServer(persist=False) as redis, PostgresServer() as postgres:
        port = free_port()
        config = site_config(await postgres.new_database(), port)
        async with open_runtime(config, bus=EmbeddedBus(), store=Store.open(redis.url)) as rt, \
                HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", port), hub_service(rt, APP.channels) as hub:
            site = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession(headers=ADMIN) as admin:
                async with admin.post(f"{site}/api/users", json={"login": "siti", "display_name": "Siti Rahmawati",
                                                                 "role": "operator", "password": PASSWORD}) as r:
                    assert r.status == 201
                async with admin.post(f"{site}/api/tokens", json={"name": "bench", "role": "operator"}) as r:
                    api_token = (await r.json())["token"]
            async with aiohttp.ClientSession() as s, s.post(f"{site}/api/session",
                                                            json={"login": "siti", "password": PASSWORD}) as r:
                sid = r.cookies[COOKIE].value
            ways = {"configured token (baseline)": ({"Authorization": "Bearer demo-operator"}, {}),
                    "named API token": ({"Authorization": f"Bearer {api_token}"}, {}),
                    "session cookie": ({}, {COOKIE: sid})}
            figures: dict[str, object] = {"requests": requests, "handshakes": handshakes}
            print(f"one authenticator check ({requests} in a row), and GET /api/whoami over HTTP (8 at a time):")
            for name, (headers, cookies) in ways.items():
                micro = await _checks(rt, headers, cookies, requests)
                http = await _requests(f"{site}/api/whoami", {**headers, **({"Cookie": f"{COOKIE}={sid}"} if cookies else {})},
                                       requests)
                print(f"  {name:28} check {micro:7.1f} us   HTTP {http['per_s']:6} req/s  p50 {http['p50_ms']:5.2f} ms"
                      f"  p95 {http['p95_ms']:5.2f} ms")
                key = name.split(" (")[0].replace(" ", "_")
                figures[f"{key}_check_us"] = micro
                figures.update({f"{key}_http_{k}": v for k, v in http.items()})
            cold = await _checks(rt, {}, {COOKIE: sid}, requests // 4, cold=True)
            print(f"  {'session cookie, unread':28} check {cold:7.1f} us   (Redis and PostgreSQL read each time: "
                  f"what each process pays once per half second per session)")
            figures["session_cookie_unread_check_us"] = cold
            hub_url = f"ws://127.0.0.1:{hub.port}/ws"  # type: ignore[attr-defined]
            print(f"hub handshakes (connect, subscribe, snapshot, close; 4 at a time, {handshakes} each):")
            for name, headers in (("configured token (baseline)", {"Authorization": "Bearer demo-operator"}),
                                  ("session cookie + Origin", {"Cookie": f"{COOKIE}={sid}", "Origin": site})):
                result = await _handshakes(hub_url, headers, handshakes)
                print(f"  {name:28} {result['per_s']:6} /s  p50 {result['p50_ms']:5.2f} ms  p95 {result['p95_ms']:5.2f} ms")
                key = "token" if "token" in name else "cookie"
                figures.update({f"hub_{key}_{k}": v for k, v in result.items()})
    report("auth", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--handshakes", type=int, default=400)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.handshakes))
