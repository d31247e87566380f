"""The health-check scheduler: every configured check on its interval, with jitter and bounded concurrency.

Runs are kept on a heap by due time; the next due time is the previous one plus the interval (no drift),
and a run that starts more than a second after it was due is counted as late.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from prometheus_client import Counter, Histogram

from command_center.bus import Bus
from command_center.clock import utcnow
from command_center.config import AppConfig, Config
from command_center.config.sections import CheckConfig
from command_center.events import Event, new_event
from command_center.events.types import CheckResult
from command_center.topics import HEALTH_CHECKS
from ingest.health.checks import Outcome, run_check
from ingest.publisher import Publisher

logger = logging.getLogger(__name__)

CHECKS_RUN = Counter("cc_health_checks_total", "Checks run", ["kind", "ok"])
CHECKS_LATE = Counter("cc_health_checks_late_total", "Checks started more than a second after they were due")
CHECK_SECONDS = Histogram("cc_health_check_seconds", "Check duration", ["kind"])
LATE_AFTER = 1.0


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    app: AppConfig = field(compare=False)
    check: CheckConfig = field(compare=False)


def result_event(app: AppConfig, check: CheckConfig, outcome: Outcome, started_at: datetime) -> Event:
    return new_event(
        "id.go.cc.health.check", source=f"/ingest/health/{app.id}", subject=app.id, time=started_at,
        data=CheckResult(app_id=app.id, check_id=check.id, kind=check.kind, ok=outcome.ok, started_at=started_at,
                         latency_ms=round(outcome.latency_ms, 2), reason=outcome.reason, detail=outcome.detail,
                         http_status=outcome.http_status, cert_days_left=outcome.cert_days_left),
    )


class HealthIngest:
    """An async context manager that probes this shard's apps until stopped."""

    def __init__(self, config: Config, bus: Bus, *, publisher: Publisher | None = None) -> None:
        self.config = config
        self.publisher = publisher or Publisher(bus, service="ingest-health")
        self._own_publisher = publisher is None
        self.apps = [a for a in config.apps if config.ingest.owns(a.id)]
        self.started = 0
        self.late = 0
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def __aenter__(self) -> HealthIngest:
        if self._own_publisher:
            await self.publisher.__aenter__()
        connector = aiohttp.TCPConnector(limit=self.config.ingest.concurrency, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        self._task = asyncio.create_task(self._run(), name="ingest-health")
        checks = sum(1 for a in self.apps for c in a.checks if c.kind != "push")
        logger.info("health checks scheduled", extra={"apps": len(self.apps), "checks": checks,
                                                      "shard": self.config.ingest.shard})
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        if self._session is not None:
            await self._session.close()
        if self._own_publisher:
            await self.publisher.__aexit__(None, None, None)

    async def _run(self) -> None:
        now = time.monotonic()
        heap: list[_Due] = []
        seq = 0
        for app in self.apps:
            for check in app.checks:
                if check.kind != "push":
                    heap.append(_Due(now + random.uniform(0, min(check.interval, 10)), seq, app, check))
                    seq += 1
        heapq.heapify(heap)
        limit = asyncio.Semaphore(self.config.ingest.concurrency)
        async with asyncio.TaskGroup() as tasks:
            while heap and not self._stopping.is_set():
                delay = heap[0].at - time.monotonic()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._stopping.wait(), delay)
                    except TimeoutError:
                        pass
                    continue
                due = heapq.heappop(heap)
                await limit.acquire()
                tasks.create_task(self._probe(due, limit))
                jitter = random.uniform(-0.02, 0.02) * due.check.interval
                heapq.heappush(heap, _Due(due.at + due.check.interval + jitter, due.seq, due.app, due.check))

    async def _probe(self, due: _Due, limit: asyncio.Semaphore) -> None:
        try:
            lateness = time.monotonic() - due.at
            self.started += 1
            if lateness > LATE_AFTER:
                self.late += 1
                CHECKS_LATE.inc()
            started_at = utcnow()
            assert self._session is not None
            outcome = await run_check(due.check, self._session)
            CHECKS_RUN.labels(due.check.kind, str(outcome.ok).lower()).inc()
            CHECK_SECONDS.labels(due.check.kind).observe(outcome.latency_ms / 1000)
            if not outcome.ok:
                logger.info("check failed", extra={"app": due.app.id, "check": due.check.id,
                                                   "reason": outcome.reason, "detail": outcome.detail})
            self.publisher.send(HEALTH_CHECKS, result_event(due.app, due.check, outcome, started_at))
        except Exception:
            logger.exception("check crashed", extra={"app": due.app.id, "check": due.check.id})
        finally:
            limit.release()
