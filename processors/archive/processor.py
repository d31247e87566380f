"""The archive processor (its own consumer group, `archive`): every change to complaints and incidents, the
pages sent, the audit trail, application checks and sensor readings rolled up by hour, written into the SQL
archive in one transaction per batch before the batch's offsets are committed. A crash re-reads the batch;
the writer applies only events it has not applied before, so nothing is written twice."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from command_center.clock import SystemClock
from command_center.config import Config
from command_center.events import Event
from command_center.runtime import Context, Processor
from command_center.sql import open_engine
from command_center.topics import AUDIT
from processors.archive.config import ArchiveSettings
from processors.archive.db import current, head
from processors.archive.writer import Archive
from processors.complaints.events import COMPLAINTS
from processors.health.events import HEALTH_CHECKS
from processors.incidents.events import INCIDENTS
from processors.notify.events import NOTIFICATIONS
from processors.sensors.events import SENSOR_EVENTS, SENSOR_READINGS

logger = logging.getLogger(__name__)
INPUTS = (COMPLAINTS, INCIDENTS, NOTIFICATIONS, AUDIT, HEALTH_CHECKS, SENSOR_READINGS, SENSOR_EVENTS)


class SchemaBehind(RuntimeError):
    """The database is not at the newest migration: `command-center db upgrade` first."""


@asynccontextmanager
async def open_archive(config: Config) -> AsyncIterator[Archive | None]:
    settings = ArchiveSettings.of(config).archive
    if not settings.url:
        logger.warning("no archive configured (archive.url): its input is not kept; `command-center archive "
                       "rebuild` fills a database later from the topics")
        yield None
        return
    engine = open_engine(settings.url)
    try:
        at, newest = await current(engine), head()
        if at != newest:
            raise SchemaBehind(f"the archive database is at revision {at or 'none'}, not {newest}: "
                               f"run `command-center db upgrade --config FILE`")
        yield Archive(engine, timezone=config.site.timezone, clock=SystemClock(),
                      dedupe_hours=settings.dedupe_hours)
    finally:
        await engine.dispose()


async def _handle(event: Event, ctx: Context) -> None:
    """Nothing per event: the whole batch is written at once."""


async def _write(events: Sequence[Event], ctx: Context) -> None:
    archive: Archive | None = ctx.resources
    if archive is not None:
        await archive.write(events)


ARCHIVE_PROCESSOR = Processor(
    name="archive", inputs=INPUTS, handle=_handle, write=_write, resources=open_archive, max_batch=2000,
    description="the history of complaints, incidents, checks and readings into the SQL archive")
