"""The hub's feed: reads the state topics with this instance's own consumer group, from the latest offset,
and shows each changed entity's view. Processors publish before they write their state (that order is the
delivery guarantee), so an entity is rendered a moment after its event and once more a second later; the
hub skips a view identical to the last one sent. High-rate topics (sensor readings) are shown at most once
per DEFER_S per entity."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from command_center.bus import Bus
from command_center.errors import DecodeError, Unavailable
from command_center.events import decode
from command_center.hub.channels import TOPIC_CHANNELS
from command_center.hub.core import Hub
from command_center.runtime.runner import Backoff

logger = logging.getLogger(__name__)

DEFER_S = 1.0
SETTLE_S = (0.05, 1.0)  # render after the processor's state write has (almost surely) landed, then confirm


class HubFeed:
    """An async context manager owning the consuming task and the throttle flusher."""

    def __init__(self, hub: Hub, bus: Bus, *, group: str = "") -> None:
        self.hub, self.bus = hub, bus
        self.group = group or hub.config.hub.group_id or f"hub-{socket.gethostname()}-{hub.epoch}"
        self._task: asyncio.Task[None] | None = None
        self._problem = "starting"
        self._last: dict[tuple[str, str], float] = {}
        self._due: dict[tuple[str, str], float] = {}  # entity -> when to render it
        self._confirm: dict[tuple[str, str], float] = {}  # entity -> when to render it once more

    async def ready(self) -> tuple[bool, str]:
        return (not self._problem, self._problem or f"feeding {len(self.hub.clients)} clients")

    async def __aenter__(self) -> HubFeed:
        self._task = asyncio.create_task(self._run(), name="hub-feed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)

    async def _run(self) -> None:
        backoff = Backoff()
        consumer = self.bus.consumer(self.group, sorted(TOPIC_CHANNELS), offset_reset="latest")
        while True:
            try:
                await consumer.start()
                break
            except Unavailable as err:
                self._problem = str(err)
                await asyncio.sleep(backoff.next())
        self._problem = ""
        try:
            while True:
                try:
                    records = await consumer.poll(max_records=1000, wait=0.05)
                    await self._apply(records)
                    await self._flush_throttled()
                except Unavailable as err:
                    self._problem = str(err)
                    await asyncio.sleep(backoff.next())
                    continue
                self._problem = ""
                backoff.reset()
        finally:
            await consumer.stop()

    async def _apply(self, records: list) -> None:  # type: ignore[type-arg]
        now = time.monotonic()
        for record in records:
            channel = TOPIC_CHANNELS.get(record.topic)
            if channel is None:
                continue
            try:
                event = decode(record.value)
            except DecodeError:
                continue  # the processors dead-letter poison events; the hub only shows state
            key = (channel.name, channel.entity(event))
            if record.topic in channel.deferred:
                due = max(now + 0.2, self._last.get(key, 0.0) + DEFER_S)
                self._due[key] = min(self._due.get(key, due), due)
            else:
                self._due[key] = now + SETTLE_S[0]
                self._confirm[key] = now + SETTLE_S[1]

    async def _flush_throttled(self) -> None:
        now = time.monotonic()
        for pending in (self._due, self._confirm):
            for key, due in list(pending.items()):
                if due <= now:
                    del pending[key]
                    self._last[key] = now
                    await self.hub.touch(*key)
