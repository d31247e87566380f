"""Open311 intake under load: POST requests.json from a second process at a fixed rate.

The API runs here as in production (real tansu for Kafka, a real redis-server, the complaints processor
consuming in its own process, started once the load is over so that on a small machine the figure is the
intake's), and a load generator in a second process sends form-encoded complaints on an open-loop
schedule (each request at its planned time, whatever the answers before it), timing each answer. First the
same load goes to a bare aiohttp handler on the same server (the baseline: HTTP and form parsing only), then
to /open311/v2/requests.json. Afterwards every accepted complaint must be in Redis, routed.

    python bench/complaints.py [--rate 600] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from bench._common import report  # noqa: E402
from command_center.api.app import build_app  # noqa: E402
from command_center.api.routes import Routes  # noqa: E402
from command_center.api.tables import API_ROUTES  # noqa: E402
from command_center.config import parse_config  # noqa: E402
from command_center.runtime.host import open_runtime, topic_specs  # noqa: E402
from command_center.runtime.http import HttpServer  # noqa: E402
from command_center.runtime.logs import setup_logging  # noqa: E402
from command_center.store import Store  # noqa: E402
from command_center.testing.estates import complaint_estate  # noqa: E402
from command_center.testing.servers import KafkaBroker, RedisServer  # noqa: E402
from processors.complaints.record import ComplaintRecord, record_key  # noqa: E402

LOAD = r"""
import asyncio, json, random, sys, time
import aiohttp
url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
TEXTS = ["Jalan berlubang di depan pasar", "Sampah menumpuk di TPS", "Lampu jalan mati", "Antrean KTP panjang"]
async def main():
    rng = random.Random(7)
    latencies, ids, errors = [], [], {}
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(due, n):
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            form = {"api_key": "demo-open311", "service_code": rng.choice(["jalan-rusak", "sampah", "lainnya"]),
                    "lat": f"{-7.60 - rng.random() * 0.25:.6f}", "long": f"{110.25 + rng.random() * 0.25:.6f}",
                    "description": f"{rng.choice(TEXTS)} ({n})", "first_name": "Warga", "phone": "0812"}
            started = time.monotonic()
            try:
                async with session.post(url, data=form) as r:
                    body = await r.read()
                    if r.status == 200:
                        latencies.append(time.monotonic() - started)
                        if body.startswith(b"["):
                            ids.append(json.loads(body)[0]["service_request_id"])
                    else:
                        errors[str(r.status)] = errors.get(str(r.status), 0) + 1
            except aiohttp.ClientError as err:
                errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
        t0 = time.monotonic() + 0.5
        count = int(rate * seconds)
        await asyncio.gather(*(one(t0 + i / rate, i) for i in range(count)))
        elapsed = time.monotonic() - t0
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else None
    print(json.dumps({"sent": count, "ok": len(latencies), "errors": errors, "elapsed_s": elapsed,
                      "rate": len(latencies) / elapsed, "p50_ms": pick(0.5), "p95_ms": pick(0.95),
                      "p99_ms": pick(0.99), "max_ms": pick(1.0), "ids": ids}))
asyncio.run(main())
"""

baseline_routes = Routes("bench")


@baseline_routes.post("/bench/baseline.json", public=True, summary="bench: parse the form and answer")
async def _baseline(request: web.Request) -> web.Response:
    form = await request.post()
    return web.json_response([{"service_request_id": str(form.get("description", ""))[:8]}])


def load(url: str, rate: float, seconds: float) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", LOAD, url, str(rate), str(seconds)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


def estate(broker: KafkaBroker, redis: RedisServer) -> dict[str, Any]:
    groups = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500, "rebalance_timeout_ms": 2000}
    return {**complaint_estate(), "kafka": {"bootstrap": broker.bootstrap, **groups}, "redis": {"url": redis.url},
            "ops": {"host": "127.0.0.1", "port": 0}, "log_level": "WARNING"}


async def run(broker: KafkaBroker, redis: RedisServer, rate: float, seconds: float,
              config_path: str) -> dict[str, object]:
    config = parse_config(estate(broker, redis), env={})
    async with open_runtime(config, store=Store.open(redis.url)) as rt:
        await rt.bus.ensure_topics(topic_specs(config))
        app = build_app(rt, (*API_ROUTES, baseline_routes))
        async with HttpServer(app, "127.0.0.1", 0) as server:
            base = f"http://127.0.0.1:{server.port}"
            baseline = await asyncio.to_thread(load, f"{base}/bench/baseline.json", rate, seconds)
            me = psutil.Process()
            cpu0 = me.cpu_times().user + me.cpu_times().system
            ours = await asyncio.to_thread(load, f"{base}/open311/v2/requests.json", rate, seconds)
            ids = ours.pop("ids")
            baseline.pop("ids")
            cpu_s = me.cpu_times().user + me.cpu_times().system - cpu0
            # the processor, in its own process as `command-center run complaints` runs it in production, starts
            # after the load: on a 2-core machine running it alongside would measure the machine, not the intake
            processor = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "command_center", "run", "complaints", "--config", config_path,
                stderr=asyncio.subprocess.DEVNULL)
            started = time.monotonic()
            try:
                missing = list(ids)  # type: ignore[arg-type]
                while missing and time.monotonic() - started < 300:
                    records = await rt.store.get_many([record_key(i) for i in missing], ComplaintRecord)
                    missing = [i for i, r in zip(missing, records, strict=True) if r is None or not r.routed]
                    if missing:
                        await asyncio.sleep(0.5)
                caught_up = time.monotonic() - started
            finally:
                processor.terminate()
                await asyncio.wait_for(processor.wait(), 30)
    return {"baseline": baseline, "open311": ours, "accepted": len(ids), "missing_after": len(missing),  # type: ignore[arg-type]
            "api_cpu_ms_per_request": round(1000 * cpu_s / max(1, len(ids)), 2),  # type: ignore[arg-type]
            "processor_catch_up_s": round(caught_up, 1),
            "processor_complaints_per_s": round(len(ids) / caught_up, 1)}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=600, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    setup_logging("WARNING")
    with KafkaBroker() as broker, RedisServer(persist=False) as redis, \
            tempfile.NamedTemporaryFile("w", suffix=".yaml") as config_file:
        yaml.safe_dump(estate(broker, redis), config_file)
        config_file.flush()
        result = asyncio.run(run(broker, redis, args.rate, args.seconds, config_file.name))
    b, o = result["baseline"], result["open311"]
    for label, r in (("bare aiohttp form handler", b), ("Open311 POST requests.json", o)):
        print(f"{label:28s} offered {args.rate:.0f}/s for {args.seconds:.0f}s: {r['rate']:.1f} answered/s, "  # type: ignore[index]
              f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "  # type: ignore[index]
              f"max {r['max_ms']:.1f} ms, errors {r['errors']}")  # type: ignore[index]
    print(f"accepted {result['accepted']}, not present and routed afterwards: {result['missing_after']} "
          f"(target: 0); targets >= 500/s, p99 < 100 ms; API CPU {result['api_cpu_ms_per_request']} ms a request; "
          f"the processor routed them at {result['processor_complaints_per_s']}/s")
    report("complaints", {"rate_offered": args.rate, "seconds": args.seconds, **result,
                          "target_rate": 500, "target_p99_ms": 100})


if __name__ == "__main__":
    main()
