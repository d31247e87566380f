"""`command-center state rebuild PROCESSOR`: drop a processor's state and derive it again from the log, with a
progress bar. The processor's own services are stopped first (the command waits for its group to empty)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from command_center.runtime.host import Runtime
from command_center.runtime.processor import Processor
from command_center.runtime.runner import ProcessorRunner
from command_center.store import Store, rebuild_key, whole_key

BAR = 30


async def drop_state(store: Store, processor: Processor) -> int:
    """Delete the processor's state (its `keys`), the offsets it had applied and its marks; how many keys."""
    patterns = (*processor.keys, f"cc:applied:{processor.name}:*")
    dropped = 0
    for pattern in patterns:
        batch: list[bytes] = []
        async for key in store.redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                dropped += await store.redis.unlink(*batch)
                batch = []
        if batch:
            dropped += await store.redis.unlink(*batch)
    await store.redis.delete(whole_key(processor.name), rebuild_key(processor.name))
    return int(dropped)


async def _others(rt: Runtime, processor: Processor, wait_s: float) -> list[str]:
    """The members of the processor's group still running after up to `wait_s` seconds (each says so in the store
    every second; the broker's own list of members is not to be trusted on every broker)."""
    deadline = time.monotonic() + wait_s
    while True:
        running = await rt.store.running_members(processor.name, now=time.time())
        if not running or time.monotonic() >= deadline:
            return running
        await asyncio.sleep(0.5)


def _line(done: int, total: int, rate: float) -> str:
    share = done / total if total else 1.0
    filled = int(share * BAR)
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {share:6.1%}  {done:,}/{total:,} records  {rate:,.0f}/s"


async def rebuild(rt: Runtime, processor: Processor, *, out: TextIO = sys.stderr, wait_s: float = 30.0) -> int:
    """Drop the state of `processor` and derive it from its `replay` inputs up to what its group committed; the
    exit status (1 while its services still run)."""
    running = await _others(rt, processor, wait_s)
    if running:
        print(f"command-center: {processor.name} still runs ({', '.join(running)}): stop its services first", file=out)
        return 1
    dropped = await drop_state(rt.store, processor)
    print(f"{processor.name}: dropped {dropped:,} keys; deriving the state from "
          f"{', '.join(processor.replay)}", file=out)
    runner = ProcessorRunner(processor, bus=rt.bus, store=rt.store, config=rt.config, clock=rt.clock,
                             run_ticks=False)
    started = time.monotonic()
    tty = out.isatty()
    shown = 0.0
    async with runner:
        while not runner.assignment() or runner.rebuilding or not (await rt.store.state_status(processor.name))[0]:
            await asyncio.sleep(0.2)
            done, total = runner.rebuild_progress()
            now = time.monotonic()
            if tty or now - shown >= 5:
                print(("\r" if tty else "") + _line(done, total, done / max(now - started, 1e-9)),
                      end="" if tty else "\n", file=out, flush=True)
                shown = now
    seconds = time.monotonic() - started
    records = sum(r["to"] - r["from"] for r in runner.rebuilt)
    print(("\r" if tty else "") + _line(records, records, records / max(seconds, 1e-9)), file=out)
    print(f"{processor.name}: state derived again from {records:,} records in {seconds:.1f} s", file=out)
    return 0


def rebuildable(processors: dict[str, Processor]) -> list[str]:
    return sorted(name for name, p in processors.items() if p.replay and p.keys)

