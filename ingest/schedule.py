"""Periodic jobs on a heap of due times, with jitter and bounded concurrency: health checks and camera polls.

The next due time is the previous one plus the interval (no drift). A job never runs twice at once: while
its last run is still in flight (a camera hanging until its timeout), its next turn is skipped and
counted, so one hung target holds one slot, not a new one every interval. When `concurrency` jobs are in
flight the scheduler waits for one to finish, so an overloaded instance shows up as late starts: a job
that starts more than `late_after` seconds after it was due is counted as late.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

J = TypeVar("J")


@dataclass(order=True)
class _Due(Generic[J]):
    at: float
    seq: int
    job: J = field(compare=False)
    interval: float = field(compare=False)


class Scheduler(Generic[J]):
    """Runs `work(job)` for every (job, interval) until `stop()`; a job that raises is logged, not fatal."""

    def __init__(self, jobs: Iterable[tuple[J, float]], work: Callable[[J], Awaitable[None]], *, concurrency: int,
                 name: str, late_after: float = 1.0, spread_within: float = 10.0, jitter: float = 0.02,
                 on_late: Callable[[], None] | None = None) -> None:
        self.jobs = list(jobs)
        self.work = work
        self.concurrency = concurrency
        self.name = name
        self.late_after = late_after
        self.spread_within = spread_within
        self.jitter = jitter
        self.on_late = on_late
        self.started = 0
        self.late = 0
        self.skipped = 0
        self._running: set[int] = set()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Start every job within min(interval, spread_within) seconds, then keep each on its interval."""
        now = time.monotonic()
        heap = [_Due(now + random.uniform(0, min(interval, self.spread_within)), seq, job, interval)
                for seq, (job, interval) in enumerate(self.jobs)]
        heapq.heapify(heap)
        limit = asyncio.Semaphore(self.concurrency)
        async with asyncio.TaskGroup() as tasks:
            while heap and not self._stopping.is_set():
                delay = heap[0].at - time.monotonic()
                if delay > 0:
                    try:
                        async with asyncio.timeout(delay):
                            await self._stopping.wait()
                    except TimeoutError:
                        pass
                    continue
                due = heapq.heappop(heap)
                if due.seq in self._running:
                    self.skipped += 1
                else:
                    await limit.acquire()
                    self._running.add(due.seq)
                    tasks.create_task(self._start(due, limit))
                jitter = random.uniform(-self.jitter, self.jitter) * due.interval
                heapq.heappush(heap, _Due(due.at + due.interval + jitter, due.seq, due.job, due.interval))

    async def _start(self, due: _Due[J], limit: asyncio.Semaphore) -> None:
        try:
            self.started += 1
            if time.monotonic() - due.at > self.late_after:
                self.late += 1
                if self.on_late is not None:
                    self.on_late()
            await self.work(due.job)
        except Exception:
            logger.exception("scheduled job crashed", extra={"scheduler": self.name, "job": str(due.job)[:200]})
        finally:
            self._running.discard(due.seq)
            limit.release()
