"""The wall page in Debian's Chromium under load: frame time and JavaScript heap over a long run.

The API (the wall page, its vendored map) and the hub run in this process on free ports, with 64 cameras
(each with a JPEG in the store), 40 sensors and 30 applications. Two runs of `--minutes` each, in the same
Chromium: an idle wall (the snapshot, then nothing) as the baseline, then the wall with 500 view changes a
second on the hub (every camera once a second, the rest sensors and applications). For each run it prints
the page's frame intervals (p50, p95, p99, frames over 50 ms), its JS heap at the start, the end and the
peak, and how far behind the hub the page is at the end (events the page has not applied); and appends a
JSON line to bench/results.jsonl.

    python bench/wall.py [--minutes 10] [--rate 500] [--cameras 64]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report  # noqa: E402
from command_center.accounts.feature import add_demo_people, demo_password  # noqa: E402
from command_center.api.app import build_app  # noqa: E402
from command_center.api.auth import demo_tokens  # noqa: E402
from command_center.bus import EmbeddedBus  # noqa: E402
from command_center.config import parse_config  # noqa: E402
from command_center.config.sections import AccountsConfig  # noqa: E402
from command_center.hub.transports import hub_service  # noqa: E402
from command_center.runtime.host import open_runtime  # noqa: E402
from command_center.runtime.http import HttpServer  # noqa: E402
from command_center.store import MEMORY_URL, Store  # noqa: E402
from command_center.store.frames import put_frame  # noqa: E402
from command_center.testing.servers import free_port  # noqa: E402
from command_center.views import ViewRecord  # noqa: E402
from processors.cctv.scenes import Scene, encode  # noqa: E402
from processors.composition import APP  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PROBE = """() => {
  window.__frames = []; window.__heap = [];
  if (window.__probing) return;  // one frame loop and one sampler for every run: each run starts new arrays
  window.__probing = true;
  let last = performance.now();
  const step = (now) => { window.__frames.push(now - last); last = now; requestAnimationFrame(step); };
  requestAnimationFrame(step);
  setInterval(() => window.__heap.push(performance.memory.usedJSHeapSize), 2000);
}"""


def estate(cameras: int, hub_port: int) -> dict:  # type: ignore[type-arg]
    rng = random.Random(3)
    areas = [{"id": f"kec-{i}", "name": f"Kecamatan {i}", "center": {"lat": -7.70 - 0.03 * (i // 4),
                                                                     "long": 110.30 + 0.04 * (i % 4)}}
             for i in range(12)]

    def place() -> dict[str, float]:
        return {"lat": round(rng.uniform(-7.84, -7.58), 4), "long": round(rng.uniform(110.16, 110.52), 4)}

    return {
        "site": {"name": "Bench", "bounds": {"south": -7.86, "west": 110.12, "north": -7.54, "east": 110.56}},
        "hub": {"host": "127.0.0.1", "port": hub_port, "public_url": f"ws://127.0.0.1:{hub_port}/ws"},
        "areas": areas,
        "cameras": [{"id": f"cam-{i:03d}", "name": f"Simpang {i}", "url": f"http://127.0.0.1:9/{i}.jpg",
                     "area": areas[i % 12]["id"], "location": place()} for i in range(cameras)],
        "sensors": [{"id": f"tma-{i:02d}", "name": f"TMA {i}", "kind": "water_level", "unit": "cm", "interval": 5,
                     "area": areas[i % 12]["id"], "location": place(),
                     "rules": [{"kind": "threshold", "raise_above": 250, "clear_below": 230}]} for i in range(40)],
        "apps": [{"id": f"app-{i:02d}", "name": f"Aplikasi {i}",
                  "checks": [{"id": "web", "kind": "http", "target": "http://127.0.0.1:9/"}]} for i in range(30)],
    }


def views(n: int, cameras: int) -> ViewRecord:
    """The n-th change: each camera once a second (at 500/s with 64 cameras), the rest sensors and apps."""
    now = datetime.now(UTC).isoformat()
    if n % 8 == 0:
        i = (n // 8) % cameras
        return ViewRecord(channel="cctv", entity=f"cam-{i:03d}", view={
            "id": f"cam-{i:03d}", "name": f"Simpang {i}", "kind": "snapshot", "state": "ok" if n % 97 else "frozen",
            "since": now, "area": f"kec-{i % 12}", "location": None, "anomalies": [], "reason": "",
            "last_frame_at": now, "motion": 0.1, "people": n % 5, "snapshot": f"/api/cameras/cam-{i:03d}/snapshot.jpg",
            "interval_s": 1, "baseline": "learned", "reference_at": None, "recent_anomalies": []})
    if n % 2:
        i = n % 40
        return ViewRecord(channel="sensors", entity=f"tma-{i:02d}", view={
            "id": f"tma-{i:02d}", "name": f"TMA {i}", "kind": "water_level", "state": "ok", "since": now,
            "area": f"kec-{i % 12}", "location": None, "value": round(120 + 30 * random.random(), 1), "unit": "cm",
            "measured_at": now, "interval_s": 5, "thresholds": [250], "history": [],
            "recent": [[int(time.time()) - k, 120 + k] for k in range(30)]})
    i = n % 30
    return ViewRecord(channel="health", entity=f"app-{i:02d}", view={
        "id": f"app-{i:02d}", "name": f"Aplikasi {i}", "state": "up", "since": now, "area": "", "agency": "",
        "reason": "", "flapping": False, "uptime": {"24h": 99.9}, "checks": [],
        "latency_ms": {"p50": 40 + n % 7, "p95": 90, "recent": [40 + (n + k) % 9 for k in range(30)]}})


async def run(page, hub, rate: int, seconds: float, cameras: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    await page.evaluate(PROBE)
    started = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * rate)
        while n < due:
            hub.update(views(n, cameras))
            n += 1
        await asyncio.sleep(0.01)
    await asyncio.sleep(2)  # what was sent reaches the page
    frames = await page.evaluate("window.__frames")
    heap = await page.evaluate("window.__heap")
    behind = hub.seq - await page.evaluate("wall.seq")
    frames = frames[5:] or [0.0]
    q = statistics.quantiles(frames, n=100) if len(frames) > 2 else [frames[0]] * 99
    return {"events": n, "frames": len(frames), "frame_p50_ms": round(q[49], 1), "frame_p95_ms": round(q[94], 1),
            "frame_p99_ms": round(q[98], 1), "frames_over_50ms": sum(f > 50 for f in frames),
            "heap_start_mb": round(heap[0] / 2**20, 1) if heap else 0.0,
            "heap_end_mb": round(heap[-1] / 2**20, 1) if heap else 0.0,
            "heap_peak_mb": round(max(heap) / 2**20, 1) if heap else 0.0, "events_behind": behind}


async def main(minutes: float, rate: int, cameras: int) -> None:
    from playwright.async_api import async_playwright

    hub_port, api_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-wall-"))
    config = parse_config(estate(cameras, hub_port), env={})
    config = config.model_copy(update={
        "tokens": demo_tokens(), "accounts": AccountsConfig(url=f"sqlite+aiosqlite:///{workdir / 'accounts.db'}"),
        "site": config.site.model_copy(update={"public_url": f"http://127.0.0.1:{api_port}"})})
    await add_demo_people(config)
    store = Store.open(MEMORY_URL)
    jpeg = encode(Scene(1, 640, 360).render(0))
    for i in range(cameras):
        await put_frame(store, f"cam-{i:03d}", 1, jpeg, ttl_s=86_400, latest_ttl_s=86_400)
    async with open_runtime(config, bus=EmbeddedBus(), store=store) as rt, hub_service(rt, APP.channels) as hub, \
            HttpServer(build_app(rt, APP.routes), "127.0.0.1", api_port) as api, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--enable-precise-memory-info", "--disable-background-timer-throttling"])
        page = await (await browser.new_context(viewport={"width": 1920, "height": 1080})).new_page()
        await page.goto(f"http://127.0.0.1:{api.port}/wall/operator")
        await page.fill("#username", "operator")
        await page.fill("#password", demo_password("operator"))
        await page.click("#login button[type=submit]")
        await page.wait_for_selector("#conn.up", timeout=20_000)
        idle = await run(page, hub, 0, minutes * 60, cameras)
        busy = await run(page, hub, rate, minutes * 60, cameras)
        await browser.close()
    print(f"the wall at 1920x1080 in Chromium, {cameras} cameras, {minutes:g} min per run:")
    for name, r in (("idle wall (baseline)", idle), (f"{rate} events/s", busy)):
        print(f"  {name:22} frames p50 {r['frame_p50_ms']:5.1f} ms  p95 {r['frame_p95_ms']:5.1f} ms  "
              f"p99 {r['frame_p99_ms']:6.1f} ms  over 50 ms {r['frames_over_50ms']:5}  heap {r['heap_start_mb']} -> "
              f"{r['heap_end_mb']} MB (peak {r['heap_peak_mb']})  behind the hub {r['events_behind']}")
    report("wall", {"minutes": minutes, "rate": rate, "cameras": cameras,
                    **{f"idle_{k}": v for k, v in idle.items()}, **{f"busy_{k}": v for k, v in busy.items()}})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--cameras", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.rate, args.cameras))
