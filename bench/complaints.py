"""Open311 intake under load: POST requests.json from a second process at a fixed rate.

The API runs here as in production (real tansu for Kafka, a real redis-server, the complaints processor
consuming in its own process, started once the load is over so that on a small machine the figure is the
intake's), and a load generator in a second process sends form-encoded complaints on an open-loop
schedule (each request at its planned time, whatever the answers before it), timing each answer. First the
same load goes to a bare aiohttp handler on the same server (the baseline: HTTP and form parsing only), then
to /open311/v2/requests.json. Each complaint carries its own text and its own citizen; afterwards every one
answered 200 is looked up under its id: lost, merged (one id for two), another's text or another's contact
are counted (each must be 0).

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
from command_center.config import parse_config  # noqa: E402
from command_center.runtime.host import open_runtime, topic_specs  # noqa: E402
from command_center.runtime.http import HttpServer  # noqa: E402
from command_center.runtime.logs import setup_logging  # noqa: E402
from command_center.store import Store  # noqa: E402
from command_center.testing.estates import complaint_estate  # noqa: E402
from command_center.testing.load import citizen, text  # noqa: E402
from command_center.testing.servers import KafkaBroker, RedisServer  # noqa: E402
from processors.complaints.events import ComplaintContact  # noqa: E402
from processors.complaints.record import BY_TIME, ComplaintRecord, contact_key, record_key  # noqa: E402
from processors.composition import API_ROUTES  # noqa: E402

baseline_routes = Routes("bench")


@baseline_routes.post("/bench/baseline.json", public=True, summary="bench: parse the form and answer")
async def _baseline(request: web.Request) -> web.Response:
    form = await request.post()
    return web.json_response([{"service_request_id": str(form.get("description", ""))[:8]}])


def load(url: str, rate: float, seconds: float) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "command_center.testing.load", url, str(rate), str(seconds)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


async def audit(store: Store, ids: dict[str, str]) -> dict[str, int]:
    """Each complaint answered 200, looked up under its id: present once, with its own text and its own citizen."""
    numbers = sorted(ids, key=int)
    counts = {"accepted": len(ids), "distinct_ids": len(set(ids.values())), "missing": 0, "wrong_text": 0,
              "wrong_contact": 0, "indexed": int(await store.redis.zcard(BY_TIME))}
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start:start + 1000]
        records = await store.get_many([record_key(ids[n]) for n in chunk], ComplaintRecord)
        contacts = await store.get_many([contact_key(r.contact_ref if r else "-") for r in records], ComplaintContact)
        for n, record, contact in zip(chunk, records, contacts, strict=True):
            if record is None:
                counts["missing"] += 1
                continue
            counts["wrong_text"] += record.description != text(int(n))
            counts["wrong_contact"] += contact is None or (contact.name, contact.phone) != citizen(int(n)) \
                or contact.complaint_id != record.id
    counts["merged"] = counts["accepted"] - counts["distinct_ids"]
    return counts


def estate(broker: KafkaBroker, redis: RedisServer) -> dict[str, Any]:
    groups = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500, "rebalance_timeout_ms": 2000}
    return {**complaint_estate(), "kafka": {"bootstrap": broker.bootstrap, **groups}, "redis": {"url": redis.url},
            "ops": {"host": "127.0.0.1", "port": 0}, "log_level": "WARNING"}


async def run(broker: KafkaBroker, redis: RedisServer, rate: float, seconds: float,
              config_path: str, *, baseline_too: bool = True) -> dict[str, object]:
    config = parse_config(estate(broker, redis), env={})
    async with open_runtime(config, store=Store.open(redis.url)) as rt:
        await rt.bus.ensure_topics(topic_specs(config))
        app = build_app(rt, (*API_ROUTES, baseline_routes))
        async with HttpServer(app, "127.0.0.1", 0) as server:
            base = f"http://127.0.0.1:{server.port}"
            baseline = await asyncio.to_thread(load, f"{base}/bench/baseline.json", rate, seconds) if baseline_too \
                else {"rate": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "errors": {}, "ids": {}}
            me = psutil.Process()
            cpu0 = me.cpu_times().user + me.cpu_times().system
            ours = await asyncio.to_thread(load, f"{base}/open311/v2/requests.json", rate, seconds)
            ids: dict[str, str] = ours.pop("ids")
            baseline.pop("ids")
            cpu_s = me.cpu_times().user + me.cpu_times().system - cpu0
            # the processor, in its own process as `command-center run complaints` runs it in production, starts
            # after the load: on a 2-core machine running it alongside would measure the machine, not the intake
            processor = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "command_center", "run", "complaints", "--config", config_path,
                stderr=asyncio.subprocess.DEVNULL)
            started = time.monotonic()
            try:  # until every record and contact is written (contacts ride their own topic) or 30 s pass idle
                counts, last_change = await audit(rt.store, ids), time.monotonic()
                while (counts["missing"] or counts["wrong_contact"]) and time.monotonic() - last_change < 30:
                    await asyncio.sleep(1)  # noqa: ASYNC110 (polling another process's progress)
                    counts, before = await audit(rt.store, ids), counts
                    last_change = time.monotonic() if counts != before else last_change
                caught_up = last_change - started
            finally:
                processor.terminate()
                await asyncio.wait_for(processor.wait(), 30)
    return {"baseline": baseline, "open311": ours, **counts,
            "api_cpu_ms_per_request": round(1000 * cpu_s / max(1, len(ids)), 2),
            "processor_catch_up_s": round(caught_up, 1),
            "processor_complaints_per_s": round(len(ids) / caught_up, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=600, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=30, help="how long (200,000 complaints: --rate 600 "
                                                                   "--seconds 334)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-handler run (long audits)")
    args = parser.parse_args()
    setup_logging("WARNING")
    with KafkaBroker() as broker, RedisServer(persist=False) as redis, \
            tempfile.NamedTemporaryFile("w", suffix=".yaml") as config_file:
        yaml.safe_dump(estate(broker, redis), config_file)
        config_file.flush()
        result = asyncio.run(run(broker, redis, args.rate, args.seconds, config_file.name,
                                 baseline_too=not args.no_baseline))
    b, o = result["baseline"], result["open311"]
    for label, r in (("bare aiohttp form handler", b), ("Open311 POST requests.json", o)):
        print(f"{label:28s} offered {args.rate:.0f}/s for {args.seconds:.0f}s: {r['rate']:.1f} answered/s, "  # type: ignore[index]
              f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "  # type: ignore[index]
              f"max {r['max_ms']:.1f} ms, errors {r['errors']}")  # type: ignore[index]
    print(f"answered 200: {result['accepted']}; afterwards, looked up by their ids: lost {result['missing']}, "
          f"merged (one id for two complaints) {result['merged']}, another's text {result['wrong_text']}, "
          f"another's or no contact {result['wrong_contact']} (target: 0 each); {result['indexed']} in the index")
    print(f"targets >= 500/s, p99 < 100 ms; API CPU {result['api_cpu_ms_per_request']} ms a request; "
          f"the processor routed them at {result['processor_complaints_per_s']}/s")
    report("complaints", {"rate_offered": args.rate, "seconds": args.seconds, **result,
                          "target_rate": 500, "target_p99_ms": 100})


if __name__ == "__main__":
    main()
