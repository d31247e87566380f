"""1,000 HTTP checks on a 30 s interval from one process: share started late, and CPU used.

A local aiohttp server in a second process answers the checks. The same load is first run by a bare
loop of aiohttp GETs (the baseline, no scheduler, no events), then by the ingest scheduler publishing
every result as an event, each for `--seconds`.

    python bench/health.py [--checks 1000] [--interval 30] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from bench._common import on_schedule, report  # noqa: E402
from command_center.bus import EmbeddedBus  # noqa: E402
from command_center.config import parse_config  # noqa: E402
from command_center.testing.servers import free_port, wait_for_port  # noqa: E402
from ingest.health.scheduler import HealthIngest  # noqa: E402

SERVER = """
import sys
from aiohttp import web
async def ok(request):
    return web.Response(text="Selamat datang di e-Bansos")
app = web.Application()
app.router.add_get("/{tail:.*}", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def baseline(urls: list[str], interval: float, seconds: float) -> tuple[int, int, float]:
    """Bare aiohttp: each URL fetched every `interval`, started on time or counted late."""
    cpu0, t0 = cpu_seconds(), time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        async def fetch(i: int) -> None:
            async with session.get(urls[i]) as response:
                await response.read()
        started, late = await on_schedule(len(urls), interval, seconds, fetch)
    return started, late, (cpu_seconds() - cpu0) / (time.monotonic() - t0)


async def ours(urls: list[str], interval: float, seconds: float) -> tuple[int, int, float, int]:
    config = parse_config({"apps": [
        {"id": f"app-{i}", "name": f"App {i}",
         "checks": [{"id": "web", "kind": "http", "target": url, "interval": interval, "body_contains": "Bansos"}]}
        for i, url in enumerate(urls)]}, env={})
    bus = EmbeddedBus()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    async with HealthIngest(config, bus) as ingest:
        await asyncio.sleep(seconds)
        started, late = ingest.started, ingest.late
    published = sum(bus.end_offsets("cc.health.checks"))
    return started, late, (cpu_seconds() - cpu0) / (time.monotonic() - t0), published


async def main(port: int, checks: int, interval: float, seconds: float) -> None:
    urls = [f"http://127.0.0.1:{port}/app-{i}/" for i in range(checks)]
    b_started, b_late, b_cpu = await baseline(urls, interval, seconds)
    o_started, o_late, o_cpu, published = await ours(urls, interval, seconds)
    late_share = o_late / max(1, o_started)
    print(f"checks {checks} every {interval:g}s, {seconds:g}s per run, server in a second process")
    print(f"baseline (bare aiohttp)  started {b_started:,}  late {b_late}  CPU {100 * b_cpu:.1f}% of one core")
    print(f"ingest scheduler         started {o_started:,}  late {o_late} ({100 * late_share:.2f}%, target < 1%)  "
          f"CPU {100 * o_cpu:.1f}% of one core (target < 25%)  events published {published:,}")
    print(f"CPU relative to baseline {o_cpu / max(b_cpu, 1e-9):.2f}x")
    report("health", {"checks": checks, "interval_s": interval, "seconds": seconds, "started": o_started,
                      "late": o_late, "late_share": round(late_share, 5), "cpu_share_of_core": round(o_cpu, 4),
                      "baseline_cpu_share_of_core": round(b_cpu, 4), "published": published,
                      "target_late_share": 0.01, "target_cpu_share": 0.25})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    server_port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(server_port)])
    try:
        wait_for_port(server_port, proc=server)
        asyncio.run(main(server_port, args.checks, args.interval, args.seconds))
    finally:
        server.terminate()
        server.wait()
