"""The health-check service: every configured check on its interval (see ingest/schedule.py), each result
published to cc.health.checks."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import aiohttp
from prometheus_client import Counter, Histogram

from command_center.bus import Bus
from command_center.clock import utcnow
from command_center.config import Config
from command_center.events import Event, new_event
from command_center.runtime.host import Runtime
from ingest.health.checks import Outcome, run_check
from ingest.publisher import Publisher
from ingest.schedule import Scheduler
from processors.health.config import AppConfig, CheckConfig, HealthSettings
from processors.health.events import HEALTH_CHECKS, CheckResult

logger = logging.getLogger(__name__)

CHECKS_RUN = Counter("cc_health_checks_total", "Checks run", ["kind", "ok"])
CHECKS_LATE = Counter("cc_health_checks_late_total", "Checks started more than a second after they were due")
CHECK_SECONDS = Histogram("cc_health_check_seconds", "Check duration", ["kind"])


def result_event(app: AppConfig, check: CheckConfig, outcome: Outcome, started_at: datetime) -> Event:
    return new_event(
        "id.go.cc.health.check", source=f"/ingest/health/{app.id}", subject=app.id, time=started_at,
        data=CheckResult(app_id=app.id, check_id=check.id, kind=check.kind, ok=outcome.ok, started_at=started_at,
                         latency_ms=round(outcome.latency_ms, 2), reason=outcome.reason, detail=outcome.detail,
                         http_status=outcome.http_status, cert_days_left=outcome.cert_days_left, sample=outcome.sample,
                         loss_pct=outcome.loss_pct),
    )


FIRST_ROUND_PER_S = 50


class HealthIngest:
    """An async context manager that probes this shard's apps until stopped."""

    def __init__(self, config: Config, bus: Bus, *, publisher: Publisher | None = None) -> None:
        self.config = config
        self.publisher = publisher or Publisher(bus, service="ingest-health")
        self._own_publisher = publisher is None
        self.apps = [a for a in HealthSettings.of(config).apps if config.ingest.owns(a.id)]
        jobs = [((app, check), check.interval) for app in self.apps for check in app.checks if check.kind != "push"]
        # The first round starts at most FIRST_ROUND_PER_S checks a second (SNMP polls cost milliseconds of CPU
        # each): later rounds keep those phases, so no burst comes back every interval.
        self.scheduler = Scheduler(jobs, self._probe, concurrency=config.ingest.concurrency, name="ingest-health",
                                   on_late=CHECKS_LATE.inc, spread_within=max(10.0, len(jobs) / FIRST_ROUND_PER_S))
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> int:
        return self.scheduler.started

    @property
    def late(self) -> int:
        return self.scheduler.late

    async def __aenter__(self) -> HealthIngest:
        if self._own_publisher:
            await self.publisher.__aenter__()
        connector = aiohttp.TCPConnector(limit=self.config.ingest.concurrency, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        self._task = asyncio.create_task(self.scheduler.run(), name="ingest-health")
        logger.info("health checks scheduled", extra={"apps": len(self.apps), "checks": len(self.scheduler.jobs),
                                                      "shard": self.config.ingest.shard})
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.scheduler.stop()
        if self._task is not None:
            await self._task
        if self._session is not None:
            await self._session.close()
        if self._own_publisher:
            await self.publisher.__aexit__(None, None, None)

    async def _probe(self, job: tuple[AppConfig, CheckConfig]) -> None:
        app, check = job
        started_at = utcnow()
        assert self._session is not None
        outcome = await run_check(check, self._session)
        CHECKS_RUN.labels(check.kind, str(outcome.ok).lower()).inc()
        CHECK_SECONDS.labels(check.kind).observe(outcome.latency_ms / 1000)
        if not outcome.ok:
            logger.info("check failed", extra={"app": app.id, "check": check.id, "reason": outcome.reason,
                                               "detail": outcome.detail})
        self.publisher.send(HEALTH_CHECKS, result_event(app, check, outcome, started_at))


def ingest_health_service(rt: Runtime) -> HealthIngest:
    """Probes this shard's applications and publishes every result."""
    return HealthIngest(rt.config, rt.bus)
