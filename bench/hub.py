"""The hub under load: 200 websocket clients in a second process, 500 events/s.

Three runs against servers in this process: bare `websockets.broadcast` of the same messages (the baseline),
the hub, and the hub with 10% of the clients stalled (connected, never reading). Prints p50/p99 delivery
latency, deliveries per second, their ratio to the baseline, the healthy clients' p99 with the stalled ones
present, and the growth of this process's resident memory while they stall.

The clients are Node.js with the `ws` package when Node is installed (fetched from npm on first use): one
Python process cannot take in 100,000 messages a second, so with Python clients the latency measured is
the clients' own backlog. `--client python` keeps everything in Python.

    python bench/hub.py [--clients 200] [--rate 500] [--seconds 10] [--client auto|node|python]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from websockets.asyncio.server import broadcast, serve  # noqa: E402

from bench._common import report  # noqa: E402
from command_center.api.auth import TokenAuth, demo_tokens  # noqa: E402
from command_center.bus import EmbeddedBus  # noqa: E402
from command_center.clock import SystemClock  # noqa: E402
from command_center.config import parse_config  # noqa: E402
from command_center.hub.transports import hub_service  # noqa: E402
from command_center.runtime.host import Runtime  # noqa: E402
from command_center.runtime.readiness import Readiness  # noqa: E402
from command_center.store import MEMORY_URL, Store  # noqa: E402
from command_center.testing.servers import free_port  # noqa: E402
from command_center.views import ViewRecord  # noqa: E402
from processors.composition import APP  # noqa: E402

ENTITIES = 50
CLIENT = r'''
import asyncio, json, sys, time
from websockets.asyncio.client import connect
url, clients, stalled, seconds, subscribe = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1"
latencies, counts = [], 0
async def reader(i):
    global counts
    ws = await connect(url, max_size=None, max_queue=1 if i < stalled else 64,
                       additional_headers={"Authorization": "Bearer demo-operator"})
    if subscribe:
        await ws.send(json.dumps({"type": "subscribe", "channels": ["health"]}))
    if i < stalled:
        await asyncio.sleep(seconds + 3)
        return
    end = time.time() + seconds + 2
    while time.time() < end:
        try:
            text = await asyncio.wait_for(ws.recv(), 1)
        except TimeoutError:
            continue
        k = text.find('"sent":')
        if k < 0:
            continue
        sent = float(text[k + 7:text.find(",", k)].rstrip("}"))
        counts += 1
        if len(latencies) < 400000:
            latencies.append(time.time() - sent)
async def main():
    await asyncio.gather(*(reader(i) for i in range(clients)))
    print(json.dumps({"received": counts, "latencies": sorted(latencies)[::max(1, len(latencies) // 20000)]}))
asyncio.run(main())
'''


NODE_DIR = Path(__file__).resolve().parent / "node"


def node_clients() -> bool:
    """Whether the Node.js clients can run (installing `ws` from npm on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return False
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    return True


CLIENTS = {"python": lambda: [sys.executable, "-c", CLIENT], "node": lambda: ["node", str(NODE_DIR / "hub_clients.mjs")]}
client_kind = "python"


def start_clients(url: str, clients: int, stalled: int, seconds: float, subscribe: bool) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen([*CLIENTS[client_kind](), url, str(clients), str(stalled), str(seconds),
                             "1" if subscribe else "0"], stdout=subprocess.PIPE, text=True)


def summary(out: str, seconds: float) -> dict[str, float]:
    data = json.loads(out)
    lat = data["latencies"] or [0.0]
    return {"p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000,
            "deliveries_per_s": data["received"] / seconds}


async def drive(publish, rate: int, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Call publish(n) `rate` times a second for `seconds`, on schedule."""
    start = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while n < due:
            publish(n)
            n += 1
        await asyncio.sleep(0.002)


async def baseline(clients: int, rate: int, seconds: float) -> dict[str, float]:
    connections = set()

    async def handler(ws):  # type: ignore[no-untyped-def]
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    port = free_port()
    # the same compression as the hub's default (none), so the two runs send the same bytes
    async with serve(handler, "127.0.0.1", port, max_size=None, compression=None):
        proc = start_clients(f"ws://127.0.0.1:{port}/", clients, 0, seconds, False)
        while len(connections) < clients:  # noqa: ASYNC110 (waits for the other process's clients)
            await asyncio.sleep(0.1)
        await drive(lambda n: broadcast(connections, json.dumps({
            "type": "event", "channel": "health", "seq": n, "entity": f"app-{n % ENTITIES}",
            "data": {"id": f"app-{n % ENTITIES}", "state": "up", "sent": time.time(), "n": n}})), rate, seconds)
        out = await asyncio.to_thread(proc.communicate)
    return summary(out[0], seconds)


async def hub_run(clients: int, stalled: int, rate: int, seconds: float) -> tuple[dict[str, float], float]:
    config = parse_config({"hub": {"host": "127.0.0.1", "port": 0}}, env={}).model_copy(
        update={"tokens": demo_tokens()})
    rt = Runtime(config=config, bus=EmbeddedBus(), store=Store.open(MEMORY_URL), clock=SystemClock(),
                 readiness=Readiness(), tokens=TokenAuth(config.tokens))
    me = psutil.Process()
    async with hub_service(rt, APP.channels) as hub:
        url = f"ws://127.0.0.1:{hub.port}/ws"  # type: ignore[attr-defined]
        proc = start_clients(url, clients, stalled, seconds, True)
        while len(hub.clients) < clients:  # noqa: ASYNC110 (waits for the other process's clients)
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        rss_before = me.memory_info().rss
        await drive(lambda n: hub.update(ViewRecord(  # what the feed hands the hub for each record of cc.views
            channel="health", entity=f"app-{n % ENTITIES}",
            view={"id": f"app-{n % ENTITIES}", "state": "up", "sent": time.time(), "n": n})), rate, seconds)
        growth = (me.memory_info().rss - rss_before) / 2**20
        out = await asyncio.to_thread(proc.communicate)
    return summary(out[0], seconds), growth


async def main(clients: int, rate: int, seconds: float) -> None:
    light = max(1, rate // 5)  # a load one client process can take in, so latency is the server's, not its backlog
    base_light = await baseline(clients, light, seconds)
    ours_light, _ = await hub_run(clients, 0, light, seconds)
    base = await baseline(clients, rate, seconds)
    ours, _ = await hub_run(clients, 0, rate, seconds)
    stalled = clients // 10
    slow, growth = await hub_run(clients, stalled, rate, seconds * 2)
    ratio = ours["deliveries_per_s"] / base["deliveries_per_s"]
    healthy = slow["p99_ms"] / max(ours["p99_ms"], 1e-6)
    print(f"{clients} {client_kind} clients in a second process, {seconds:g} s per run; at {light} events/s "
          f"({clients * light:,} deliveries/s):")
    print(f"bare websockets.broadcast  p50 {base_light['p50_ms']:.1f} ms  p99 {base_light['p99_ms']:.1f} ms  "
          f"{base_light['deliveries_per_s']:,.0f} deliveries/s")
    print(f"hub                        p50 {ours_light['p50_ms']:.1f} ms  p99 {ours_light['p99_ms']:.1f} ms  "
          f"{ours_light['deliveries_per_s']:,.0f} deliveries/s  (p99 target < 100 ms)")
    print(f"at {rate} events/s ({clients * rate:,} deliveries/s offered):")
    print(f"bare websockets.broadcast  p50 {base['p50_ms']:.1f} ms  p99 {base['p99_ms']:.1f} ms  "
          f"{base['deliveries_per_s']:,.0f} deliveries/s")
    print(f"hub                        p50 {ours['p50_ms']:.1f} ms  p99 {ours['p99_ms']:.1f} ms  "
          f"{ours['deliveries_per_s']:,.0f} deliveries/s  ({ratio:.2f} of broadcast; target >= 0.9; "
          f"p99 target < 100 ms)")
    print(f"hub, {stalled} clients stalled  others' p99 {slow['p99_ms']:.1f} ms ({healthy:.2f}x; target within 1.2x)  "
          f"{slow['deliveries_per_s']:,.0f} deliveries/s  hub RSS growth {growth:.1f} MB over {seconds * 2:g} s "
          f"(target < 50 MB)")
    report("hub", {"clients": clients, "client": client_kind, "rate": rate, "seconds": seconds, "light_rate": light,
                   "light_broadcast_p99_ms": round(base_light["p99_ms"], 2),
                   "light_hub_p50_ms": round(ours_light["p50_ms"], 2), "light_hub_p99_ms": round(ours_light["p99_ms"], 2),
                   "light_hub_per_s": round(ours_light["deliveries_per_s"]),
                   "broadcast_p50_ms": round(base["p50_ms"], 2), "broadcast_p99_ms": round(base["p99_ms"], 2),
                   "broadcast_per_s": round(base["deliveries_per_s"]), "hub_p50_ms": round(ours["p50_ms"], 2),
                   "hub_p99_ms": round(ours["p99_ms"], 2), "hub_per_s": round(ours["deliveries_per_s"]),
                   "ratio": round(ratio, 3), "stalled_p99_ms": round(slow["p99_ms"], 2),
                   "stalled_p99_factor": round(healthy, 3), "stalled_rss_growth_mb": round(growth, 1)})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--client", choices=["auto", "node", "python"], default="auto",
                        help="the clients' process: Node.js with ws (takes ~5x more messages a second), or Python")
    args = parser.parse_args()
    client_kind = "node" if args.client == "node" or (args.client == "auto" and node_clients()) else "python"
    asyncio.run(main(args.clients, args.rate, args.seconds))
