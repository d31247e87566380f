"""The hub's feed: reads `cc.views` from its first offset, in a consumer group of this instance's own, and
hands every view record to the hub. A new instance rebuilds the latest view of every entity from the
compacted topic alone (it needs neither Redis nor the processors' topics), and is ready once it has read
up to the end of every partition it was given."""

from __future__ import annotations

import asyncio
import logging
import socket

import msgspec

from command_center.bus import Bus
from command_center.errors import Unavailable
from command_center.hub.core import Hub
from command_center.runtime.runner import Backoff
from command_center.topics import VIEWS
from command_center.views import decode_view

logger = logging.getLogger(__name__)


class HubFeed:
    """An async context manager owning the consuming task."""

    def __init__(self, hub: Hub, bus: Bus, *, group: str = "") -> None:
        self.hub, self.bus = hub, bus
        # never shared: two instances in one group would each read only part of the views
        self.group = group or f"{hub.config.hub.group_id or 'hub'}-{socket.gethostname()}-{hub.epoch}"
        self._task: asyncio.Task[None] | None = None
        self._problem = "starting: reading cc.views"
        self.caught_up = asyncio.Event()

    async def ready(self) -> tuple[bool, str]:
        return (not self._problem, self._problem or f"feeding {len(self.hub.clients)} clients")

    async def __aenter__(self) -> HubFeed:
        await self.hub.prepare()
        self._task = asyncio.create_task(self._run(), name="hub-feed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)

    async def _run(self) -> None:
        backoff = Backoff()
        consumer = self.bus.consumer(self.group, [VIEWS], offset_reset="earliest")
        while True:
            try:
                await consumer.start()
                break
            except Unavailable as err:
                self._problem = str(err)
                await asyncio.sleep(backoff.next())
        ends: dict[tuple[str, int], int] | None = None  # where the views stood when this instance joined
        try:
            while True:
                try:
                    records = await consumer.poll(max_records=2000, wait=0.05)
                    if not self.caught_up.is_set() and consumer.assignment():
                        ends = ends if ends is not None else await consumer.end_offsets()
                        if await consumer.read_up_to(ends):
                            self.caught_up.set()
                            logger.info("hub has every view", extra={"views": sum(
                                len(s.active) + len(s.history) for s in self.hub.shelves.values())})
                except Unavailable as err:
                    self._problem = str(err)
                    await asyncio.sleep(backoff.next())
                    continue
                for record in records:
                    try:
                        self.hub.update(decode_view(record.value))
                    except msgspec.DecodeError:
                        logger.warning("not a view record on cc.views", extra={"offset": record.offset})
                backoff.reset()
                self._problem = "" if self.caught_up.is_set() else "starting: reading cc.views"
        finally:
            await consumer.stop()
