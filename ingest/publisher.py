"""Buffered, acknowledged publishing for ingest services: a bus outage is waited out, not a reason to drop.

Sources call send() without awaiting; one task publishes batches and holds a batch through an outage.
The buffer is bounded: past `max_buffer` the oldest events are dropped and counted, so a long outage
cannot take the process's memory with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from prometheus_client import Counter, Gauge

from command_center.bus import Bus, Message
from command_center.errors import Unavailable
from command_center.events import Event, encode
from command_center.runtime.runner import Backoff

logger = logging.getLogger(__name__)

PUBLISHED = Counter("cc_ingest_published_total", "Events published by ingest", ["service", "topic"])
DROPPED = Counter("cc_ingest_dropped_total", "Events dropped because the buffer was full", ["service"])
BUFFERED = Gauge("cc_ingest_buffered", "Events waiting to be published", ["service"])


class Publisher:
    """An async context manager owning the task that publishes what send() queues."""

    def __init__(self, bus: Bus, *, service: str, max_buffer: int = 50_000, max_batch: int = 1000) -> None:
        self.bus = bus
        self.service = service
        self.max_buffer = max_buffer
        self.max_batch = max_batch
        self._queue: deque[Message] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._in_flight = False
        self._problem = ""

    def send(self, topic: str, event: Event) -> None:
        self.send_raw(Message(topic, event.key, encode(event)))

    def send_raw(self, message: Message) -> None:
        if len(self._queue) >= self.max_buffer:
            self._queue.popleft()
            DROPPED.labels(self.service).inc()
        self._queue.append(message)
        self._wake.set()

    async def flush(self) -> None:
        """Wait until everything queued so far has been acknowledged."""
        while self._queue or self._in_flight:
            self._wake.set()
            await asyncio.sleep(0.01)

    async def ready(self) -> tuple[bool, str]:
        return (not self._problem, self._problem or f"{len(self._queue)} queued")

    async def __aenter__(self) -> Publisher:
        self._task = asyncio.create_task(self._run(), name=f"publisher:{self.service}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                async with asyncio.timeout(10):
                    await self._task
            except TimeoutError:
                logger.warning("stopped with events unpublished", extra={"service": self.service,
                                                                          "queued": len(self._queue)})

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            self._in_flight = True
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            try:
                await self.bus.publish(batch)
            except Unavailable as err:
                self._queue.extendleft(reversed(batch))
                self._in_flight = False
                if not self._problem:
                    logger.warning("bus unavailable; holding events", extra={"service": self.service,
                                                                             "error": str(err)})
                self._problem = str(err)
                if self._closing and backoff.delay >= backoff.most:
                    return
                await asyncio.sleep(backoff.next())
                continue
            for message in batch:
                PUBLISHED.labels(self.service, message.topic).inc()
            self._in_flight = False
            BUFFERED.labels(self.service).set(len(self._queue))
            self._problem = ""
            backoff.reset()
