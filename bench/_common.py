"""Shared by the benchmarks: peak memory, and one JSON line per run appended to bench/results.jsonl."""

from __future__ import annotations

import asyncio
import json
import platform
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import processors.composition  # noqa: E402, F401  (every feature registers its event types and topics)

RESULTS = Path(__file__).resolve().parent / "results.jsonl"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, figures: dict[str, object]) -> None:
    """Print the figures and append them as one JSON line."""
    line = {"bench": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": sys.version.split()[0],
            "machine": platform.machine(), **figures, "peak_rss_mb": round(peak_rss_mb(), 1)}
    text = json.dumps(line)
    print(text)
    with RESULTS.open("a") as f:
        f.write(text + "\n")


async def on_schedule(jobs: int, interval: float, seconds: float, work: Callable[[int], Awaitable[object]], *,
                      spread: float = 10.0, concurrency: int = 0) -> tuple[int, int]:
    """A bare loop: job i runs `work(i)` every `interval` for `seconds` (first within min(interval, spread) s, at
    random), at most `concurrency` at once (0: no limit), counted late when it starts more than a second after
    it was due, as the ingest scheduler counts. (started, late)"""
    started = late = 0
    t0 = time.monotonic()
    gate = asyncio.Semaphore(concurrency) if concurrency else None

    async def one(i: int) -> None:
        nonlocal started, late
        due = t0 + random.uniform(0, min(interval, spread))
        while True:
            await asyncio.sleep(max(0, due - time.monotonic()))
            if time.monotonic() - t0 > seconds:
                return
            if gate is not None:
                await gate.acquire()
            started += 1
            late += time.monotonic() - due > 1.0
            try:
                await work(i)
            finally:
                if gate is not None:
                    gate.release()
            due += interval

    await asyncio.gather(*(one(i) for i in range(jobs)))
    return started, late
