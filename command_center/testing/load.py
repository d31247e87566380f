"""An open-loop Open311 load generator, for benchmarks and load tests: run it in its own process.

    python -m command_center.testing.load URL RATE SECONDS [--start N] [--idempotency]

Complaint `n` is sent at its planned time whatever the answers before it, with its own text and its own
citizen (`text(n)`, `citizen(n)`), so the receiver can check afterwards that each stored complaint is the one
sent under its id. Prints one JSON object: counts, answer latencies and `ids` (n -> service_request_id of
every complaint answered 200).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

import aiohttp

TEXTS = ["Jalan berlubang di depan pasar", "Sampah menumpuk di TPS", "Lampu jalan mati", "Antrean KTP panjang"]
SERVICES = ["jalan-rusak", "sampah", "lainnya"]


def text(n: int) -> str:
    return f"{TEXTS[n % len(TEXTS)]} (nomor {n})"


def citizen(n: int) -> tuple[str, str]:
    """The name and phone number complaint `n` is sent with."""
    return f"Warga {n}", f"08{n:010d}"


def form(n: int, rng: random.Random) -> dict[str, str]:
    name, phone = citizen(n)
    return {"api_key": "demo-open311", "service_code": SERVICES[n % len(SERVICES)],
            "lat": f"{-7.60 - rng.random() * 0.25:.6f}", "long": f"{110.25 + rng.random() * 0.25:.6f}",
            "description": text(n), "first_name": name, "phone": phone}


async def run(url: str, rate: float, seconds: float, *, start: int = 0, idempotency: bool = False) -> dict[str, Any]:
    rng = random.Random(start)
    latencies: list[float] = []
    ids: dict[int, str] = {}
    errors: dict[str, int] = {}
    count = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as session:

        async def one(n: int) -> None:
            started = time.monotonic()
            headers = {"Idempotency-Key": f"load-{n}"} if idempotency else {}
            try:
                async with session.post(url, data=form(n, rng), headers=headers) as r:
                    body = await r.read()
                    if r.status == 200:
                        latencies.append(time.monotonic() - started)
                        ids[n] = json.loads(body)[0]["service_request_id"]
                    else:
                        errors[str(r.status)] = errors.get(str(r.status), 0) + 1
            except aiohttp.ClientError as err:
                errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1

        t0 = time.monotonic() + 0.2
        async with asyncio.TaskGroup() as group:
            for i in range(count):  # planned times, not a closed loop: a slow answer does not slow the load
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
                group.create_task(one(start + i))
        elapsed = time.monotonic() - t0
    latencies.sort()

    def pick(q: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else None

    return {"sent": count, "ok": len(latencies), "errors": errors, "elapsed_s": elapsed,
            "rate": len(latencies) / elapsed, "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "max_ms": pick(1.0), "ids": ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("rate", type=float)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--start", type=int, default=0, help="the number of the first complaint")
    parser.add_argument("--idempotency", action="store_true", help="send an Idempotency-Key with each")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.rate, args.seconds, start=args.start,
                                     idempotency=args.idempotency))))


if __name__ == "__main__":
    main()
