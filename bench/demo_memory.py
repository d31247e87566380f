"""The demo's resident memory over time: starts `command-center demo`, samples its RSS every `--every`
seconds for `--minutes`, with a wall client connected, and reports the figures (target: under 400 MB after
10 minutes, and steady).

    python bench/demo_memory.py [--minutes 10] [--every 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench._common import report  # noqa: E402
from command_center.testing.servers import free_port, wait_for_port  # noqa: E402


async def watch(port: int, seconds: float) -> int:
    """A wall client for the whole run; returns the number of messages it received."""
    received = 0
    async with connect(f"ws://127.0.0.1:{port}/ws", max_size=None,
                       additional_headers={"Authorization": "Bearer demo-operator"}) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channels": ["cctv", "health", "complaints", "sensors",
                                                                    "incidents"]}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(ws.recv(), 1)
                received += 1
            except TimeoutError:
                pass
    return received


def main(minutes: float, every: float) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "command_center", "demo", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []
    try:
        wait_for_port(port, timeout=60, proc=proc)
        process = psutil.Process(proc.pid)
        started = time.monotonic()
        root = str(Path(__file__).resolve().parent.parent)
        client = subprocess.Popen([sys.executable, "-c", (
            f"import asyncio, sys; sys.path.insert(0, {root!r}); from bench.demo_memory import watch; "
            f"print(asyncio.run(watch({port}, {minutes * 60})))")], stdout=subprocess.PIPE, text=True)
        while time.monotonic() - started < minutes * 60:
            rss = process.memory_info().rss / 2**20
            samples.append((time.monotonic() - started, rss))
            print(f"{samples[-1][0]:6.0f} s  {rss:6.1f} MB", flush=True)
            time.sleep(every)
        messages = int((client.communicate(timeout=120)[0] or "0").strip() or 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    final = samples[-1][1]
    half = [rss for t, rss in samples if t >= minutes * 30]
    growth = max(half) - min(half) if half else 0.0
    print(f"\ndemo resident memory after {minutes:g} min: {final:.1f} MB (target < 400 MB: "
          f"{'met' if final < 400 else 'NOT met'}); peak {max(r for _, r in samples):.1f} MB; "
          f"spread over the second half {growth:.1f} MB; a wall client received {messages} messages")
    report("demo_memory", {"minutes": minutes, "final_rss_mb": round(final, 1),
                           "peak_rss_mb_demo": round(max(r for _, r in samples), 1),
                           "second_half_spread_mb": round(growth, 1), "wall_messages": messages,
                           "target_rss_mb": 400})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--every", type=float, default=30)
    args = parser.parse_args()
    main(args.minutes, args.every)
