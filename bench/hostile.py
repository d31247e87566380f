"""A well-behaved client's latency while hostile clients attack the API, beside the same client on a quiet API.

The demo runs in a child process; this process is the well-behaved client (an Open311 reader, 20 requests a
second), and in the second phase a third process runs the attackers: connections dribbling their headers
(slowloris), bodies shorter than their Content-Length, JSON nested 100,000 deep, multipart with broken parts,
oversized headers, and garbage instead of HTTP, each kind at --rate a second (50: 250 hostile requests a
second beside 200 slowloris connections). Target: the client's p99 under attack
within 3x of the quiet figure, and every hostile request answered 4xx (or cut off), none 5xx.

    python bench/hostile.py [--seconds 20] [--slow 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import report  # noqa: E402
from command_center.testing.servers import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
READ = "/open311/v2/services.json?api_key=demo-open311"
DEEP = b"[" * 100_000 + b"]" * 100_000
BROKEN = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--XyZ\r\nnot a header\r\n\r\n"


def _request(path: str, headers: dict[str, str], body: bytes = b"", method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *(f"{k}: {v}" for k, v in
                                                                                    headers.items())]
    if body and "Content-Length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


OPERATOR = {"Authorization": "Bearer demo-operator"}
FAST_ATTACKS = {
    "deep JSON": _request("/api/complaints", {**OPERATOR, "Content-Type": "application/json"}, DEEP),
    "broken multipart": _request("/open311/v2/requests.json", {"Content-Type": "multipart/form-data; boundary=XyZ"},
                                 BROKEN),
    "oversized header": _request("/api/complaints", {"Authorization": "Bearer " + "a" * 9000}, method="GET"),
    "not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
    "body over the limit": _request("/api/complaints", {**OPERATOR, "Content-Type": "application/json",
                                                        "Content-Length": str(50 * 1024 * 1024)}, b"{"),
}
BENIGN = _request(READ, {}, method="GET")  # the same number of connections, asking politely


async def _client(port: int, seconds: float, rate: float) -> list[float]:
    """GET an Open311 listing `rate` times a second; each one's latency in ms."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            t0 = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{port}{READ}") as r:
                await r.read()
                assert r.status == 200, r.status
            latencies.append((time.perf_counter() - t0) * 1000)
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    return latencies


async def _one(port: int, data: bytes, outcomes: Counter[str], kind: str) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 45)  # the demo cuts a short body off after 30 s
        writer.close()
        status = head.split()[1].decode() if len(head.split()) > 1 else "closed"
        outcomes[f"{kind}: {status[0]}xx" if status[0].isdigit() else f"{kind}: closed"] += 1
    except (ConnectionError, TimeoutError, OSError):
        outcomes[f"{kind}: cut off"] += 1


async def _slow(port: int, until: float, outcomes: Counter[str]) -> None:
    """A slowloris connection: a byte of header every second until it is cut off."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while time.monotonic() < until:
            writer.write(b"X")
            await writer.drain()
            try:
                line = await asyncio.wait_for(reader.readline(), 1.0)
            except TimeoutError:
                continue
            outcomes[f"slowloris: {line.split()[1].decode()[0]}xx" if line else "slowloris: closed"] += 1
            break
        writer.close()
    except (ConnectionError, OSError):
        outcomes["slowloris: cut off"] += 1


async def _short_body(port: int, until: float, outcomes: Counter[str]) -> None:
    while time.monotonic() < until:
        data = _request("/api/complaints", {**OPERATOR, "Content-Type": "application/json", "Content-Length": "1000"},
                        b'{"a": 1')
        await _one(port, data, outcomes, "short body")


async def _attack(port: int, seconds: float, slow: int, rate: float, kinds: list[str], outcomes: Counter[str]) -> None:
    until = time.monotonic() + seconds

    async def loop(kind: str, data: bytes) -> None:  # `rate` a second, each on its own connection
        started, n, pending = time.monotonic(), 0, set()
        while time.monotonic() < until:
            task = asyncio.create_task(_one(port, data, outcomes, kind))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        await asyncio.gather(*pending)

    async def slow_forever() -> None:
        while time.monotonic() < until:
            await _slow(port, until, outcomes)

    await asyncio.gather(*(slow_forever() for _ in range(slow)), *(_short_body(port, until, outcomes) for _ in range(20)),
                         *(loop(kind, FAST_ATTACKS.get(kind, BENIGN)) for kind in kinds))


async def _beside(port: int, seconds: float, slow: int, rate: float, kinds: list[str]) -> tuple[list[float],
                                                                                                Counter[str]]:
    results: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
    others = multiprocessing.Process(target=_attacker, args=(port, seconds, slow, rate, kinds, results))
    others.start()
    measured = await _client(port, seconds, 20)
    outcomes = Counter(await asyncio.to_thread(results.get, True, seconds + 60))
    others.join(30)
    return measured, outcomes


def _attacker(port: int, seconds: float, slow: int, rate: float, kinds: list[str],
              results: multiprocessing.Queue[dict[str, int]]) -> None:
    outcomes: Counter[str] = Counter()
    asyncio.run(_attack(port, seconds, slow, rate, kinds, outcomes))
    results.put(dict(outcomes))


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(demo: subprocess.Popen[bytes], port: int, seconds: float, slow: int, rate: float,
              kinds: list[str]) -> dict[str, object]:
    async with aiohttp.ClientSession() as s:
        for _ in range(600):
            try:
                async with s.get(f"http://127.0.0.1:{port}{READ}") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    await _client(port, 3, 20)  # warm up
    quiet = await _client(port, seconds, 20)
    # the other clients in a process of their own, so that their work does not delay the client being measured:
    # first as many polite ones as there will be hostile ones (the load alone), then the hostile ones
    loaded, _ = await _beside(port, seconds, 0, rate * len(kinds), ["polite"] * 1)
    attacked, outcomes = await _beside(port, seconds, slow, rate, kinds)
    alive = demo.poll() is None
    server_errors = sum(n for k, n in outcomes.items() if k.endswith("5xx"))
    print(f"well-behaved client, {len(quiet)} requests over {seconds:g} s each phase (20/s):")
    print(f"  quiet         p50 {_p(quiet, .5):6.1f} ms  p99 {_p(quiet, .99):6.1f} ms")
    print(f"  beside {rate * len(kinds):g} polite requests/s  p50 {_p(loaded, .5):6.1f} ms  p99 {_p(loaded, .99):6.1f} ms "
          f"(the same load asking politely: what the two cores can do)")
    print(f"  under attack  p50 {_p(attacked, .5):6.1f} ms  p99 {_p(attacked, .99):6.1f} ms  "
          f"({_p(attacked, .99) / _p(quiet, .99):.2f}x the quiet p99, target < 3x; "
          f"{_p(attacked, .99) / _p(loaded, .99):.2f}x the polite load's)")
    print(f"attack: {slow} slowloris connections, 20 short bodies, {rate:g}/s of each other kind: "
          f"{sum(outcomes.values()):,} hostile requests answered, {server_errors} with 5xx (target 0); "
          f"server {'up' if alive else 'DOWN'}")
    for kind, count in sorted(outcomes.items()):
        print(f"  {kind:<32} {count:>7,}")
    return {"seconds": seconds, "slowloris": slow, "rate_per_kind": rate, "quiet_p50_ms": round(_p(quiet, .5), 2),
            "quiet_p99_ms": round(_p(quiet, .99), 2), "attack_p50_ms": round(_p(attacked, .5), 2),
            "attack_p99_ms": round(_p(attacked, .99), 2), "polite_p99_ms": round(_p(loaded, .99), 2),
            "p99_factor_vs_polite": round(_p(attacked, .99) / _p(loaded, .99), 2),
            "p99_factor": round(_p(attacked, .99) / _p(quiet, .99), 2), "hostile_requests": sum(outcomes.values()),
            "server_errors": server_errors, "outcomes": dict(outcomes), "server_up": alive}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--slow", type=int, default=200, help="slowloris connections")
    parser.add_argument("--rate", type=float, default=50, help="hostile requests a second of each other kind")
    parser.add_argument("--kinds", default=",".join(FAST_ATTACKS), help="which kinds (comma-separated)")
    args = parser.parse_args()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    demo = subprocess.Popen([sys.executable, "-m", "command_center", "demo", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        figures = asyncio.run(run(demo, port, args.seconds, args.slow, args.rate, args.kinds.split(",")))
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(30)
    report("hostile", figures)


if __name__ == "__main__":
    main()
