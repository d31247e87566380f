"""The `watch` service: the centre watching itself.

Every `watch.every_s` it sends a beat through the bus and reads it back (Kafka written and read), pings the
store, and reads every processor's consumer-group lag from the bus. A processor at least `watch.lag_records`
behind that has not caught up at all for `watch.lag_minutes` is an anomaly on cc.system.events (an incident,
paged like any other); when it is back under, the anomaly clears. While all of that is well it fetches
`watch.heartbeat_url`: a dead man's switch, so that an outside monitor notices a centre that went silent
(power, network, the whole cluster), which nothing inside it can report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

from command_center.bus import Message
from command_center.errors import Unavailable
from command_center.events import decode, encode, new_event
from command_center.events.types import SystemAnomaly, WatchBeat
from command_center.runtime.host import Runtime
from command_center.runtime.processor import Processor
from command_center.topics import SYSTEM_EVENTS, WATCH

logger = logging.getLogger(__name__)
ROUND_TRIP_S = 10.0


@dataclass
class Behind:
    """One processor's lag over the last `lag_minutes`: (monotonic time, records behind)."""

    samples: deque[tuple[float, int]] = field(default_factory=deque)
    raised: bool | None = None  # None: not yet said either way since this watch started


def stuck(samples: deque[tuple[float, int]], *, records: int, seconds: float) -> bool:
    """Behind by at least `records` in every sample of a window of at least `seconds`, and no less at its end
    than at its start: falling behind, or not moving."""
    if not samples or samples[-1][0] - samples[0][0] < seconds:
        return False
    return min(lag for _, lag in samples) >= records and samples[-1][1] >= samples[0][1]


class Watch:
    def __init__(self, rt: Runtime, processors: Mapping[str, Processor]) -> None:
        self.rt, self.processors = rt, dict(processors)
        self.behind = {name: Behind() for name in self.processors}
        self.beats = 0  # outgoing heartbeats sent
        self.rounds = 0  # checks made
        self._group = f"watch-{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self.stopping = asyncio.Event()

    async def round_trip(self, consumer: object) -> bool:
        """A beat written to cc.watch and read back within ROUND_TRIP_S."""
        nonce = uuid.uuid4().hex
        event = new_event("id.go.cc.watch.beat", source="/watch", subject=nonce, time=self.rt.clock.now(),
                          data=WatchBeat(nonce=nonce))
        await self.rt.bus.publish([Message(WATCH, event.key, encode(event))])
        deadline = time.monotonic() + ROUND_TRIP_S
        while time.monotonic() < deadline:
            for record in await consumer.poll(max_records=100, wait=0.5):  # type: ignore[attr-defined]
                if decode(record.value).subject == nonce:
                    return True
        return False

    async def lag(self) -> list[str]:
        """Sample every processor's lag; raise or clear its anomaly when that changes. The processors stuck now."""
        config = self.rt.config.watch
        now = time.monotonic()
        out, events = [], []
        for name, processor in self.processors.items():
            behind = self.behind[name]
            records = sum((await self.rt.bus.group_lag(name, processor.inputs)).values())
            behind.samples.append((now, records))
            while behind.samples and now - behind.samples[0][0] > config.lag_minutes * 60 + 2 * config.every_s:
                behind.samples.popleft()
            is_stuck = stuck(behind.samples, records=config.lag_records, seconds=config.lag_minutes * 60)
            if is_stuck:
                out.append(name)
            if behind.raised is not is_stuck:
                behind.raised = is_stuck
                detail = f"{records} records behind on {', '.join(processor.inputs)}" if is_stuck else \
                    f"caught up: {records} records behind"
                events.append(new_event(
                    "id.go.cc.system.lag", source="/watch", subject=f"processor:{name}", time=self.rt.clock.now(),
                    data=SystemAnomaly(component=name, kind="lag", active=is_stuck, detail=detail, lag=records)))
        if events:
            await self.rt.bus.publish([Message(SYSTEM_EVENTS, e.key, encode(e)) for e in events])
        return out

    async def beat(self, session: aiohttp.ClientSession) -> None:
        url = self.rt.config.watch.heartbeat_url
        if not url:
            return
        try:
            async with session.get(url, params={"status": "up", "msg": "OK"}) as response:
                await response.read()
            self.beats += 1
        except (aiohttp.ClientError, TimeoutError) as err:
            logger.warning("outgoing heartbeat failed", extra={"error": str(err)[:200]})

    async def run(self) -> None:
        consumer = self.rt.bus.consumer(self._group, [WATCH], offset_reset="latest")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                try:
                    await consumer.start()
                    break
                except Unavailable as err:
                    logger.warning("watch cannot reach the bus yet", extra={"error": str(err)})
                    await asyncio.sleep(self.rt.config.watch.every_s)
            try:
                while not self.stopping.is_set():
                    started = time.monotonic()
                    healthy = False
                    try:
                        async with asyncio.timeout(ROUND_TRIP_S + 20):  # a hung broker is an unwell centre
                            through = await self.round_trip(consumer)
                            stuck_now = await self.lag()
                            healthy = through and await self.rt.store.ping() and not stuck_now
                        if not healthy:
                            logger.warning("the centre is not well: no heartbeat sent",
                                           extra={"bus_round_trip": through, "stuck": stuck_now})
                    except (Unavailable, TimeoutError) as err:
                        logger.warning("watch: a dependency is unavailable; no heartbeat sent",
                                       extra={"error": str(err) or "no answer in time"})
                    if healthy:
                        await self.beat(session)
                    self.rounds += 1
                    rest = max(0.0, self.rt.config.watch.every_s - (time.monotonic() - started))
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(rest):
                            await self.stopping.wait()
            finally:
                await consumer.stop()


@asynccontextmanager
async def watch_service(rt: Runtime, processors: Mapping[str, Processor]) -> AsyncIterator[Watch]:
    watch = Watch(rt, processors)
    task = asyncio.create_task(watch.run(), name="watch")
    try:
        yield watch
    finally:
        # told to stop as well as cancelled: a client library that loses a cancellation arriving mid-command
        # (seen with the in-process store's ping) must not keep the watch going
        watch.stopping.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
