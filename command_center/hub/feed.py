"""The hub's feed: reads the state topics with this instance's own consumer group, from the latest offset,
and touches each changed entity once per batch (and at most once per throttle window where one is set)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from command_center.bus import Bus
from command_center.errors import DecodeError, Unavailable
from command_center.events import decode
from command_center.hub.channels import CHANNELS, TOPIC_CHANNELS
from command_center.hub.core import Hub
from command_center.runtime.runner import Backoff

logger = logging.getLogger(__name__)


class HubFeed:
    """An async context manager owning the consuming task and the throttle flusher."""

    def __init__(self, hub: Hub, bus: Bus, *, group: str = "") -> None:
        self.hub, self.bus = hub, bus
        self.group = group or hub.config.hub.group_id or f"hub-{socket.gethostname()}-{hub.epoch}"
        self._task: asyncio.Task[None] | None = None
        self._problem = "starting"
        self._last: dict[tuple[str, str], float] = {}
        self._dirty: set[tuple[str, str]] = set()

    async def ready(self) -> tuple[bool, str]:
        return (not self._problem, self._problem or f"feeding {len(self.hub.clients)} clients")

    async def __aenter__(self) -> HubFeed:
        self._task = asyncio.create_task(self._run(), name="hub-feed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

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
                    records = await consumer.poll(max_records=1000, wait=0.25)
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
        changed: dict[tuple[str, str], None] = {}
        for record in records:
            channel = TOPIC_CHANNELS.get(record.topic)
            if channel is None:
                continue
            try:
                event = decode(record.value)
            except DecodeError:
                continue  # the processors dead-letter poison events; the hub only shows state
            changed[(channel.name, channel.entity(event))] = None
        now = time.monotonic()
        for key in changed:
            throttle = CHANNELS[key[0]].throttle_s
            if throttle and now - self._last.get(key, 0.0) < throttle:
                self._dirty.add(key)
                continue
            self._last[key] = now
            await self.hub.touch(*key)

    async def _flush_throttled(self) -> None:
        now = time.monotonic()
        for key in list(self._dirty):
            if now - self._last.get(key, 0.0) >= CHANNELS[key[0]].throttle_s:
                self._dirty.discard(key)
                self._last[key] = now
                await self.hub.touch(*key)
