"""`command-center db upgrade` and `command-center archive rebuild`."""

from __future__ import annotations

import argparse
import logging
import sys
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from command_center.bus import Bus
from command_center.clock import SystemClock
from command_center.config import Config
from command_center.errors import DecodeError
from command_center.events import decode
from command_center.features import Command
from command_center.runtime.host import bus_for
from command_center.sql import open_engine, transaction
from processors.archive import schema
from processors.archive.config import ArchiveSettings
from processors.archive.db import upgrade
from processors.archive.processor import INPUTS
from processors.archive.writer import Archive

logger = logging.getLogger(__name__)


def _url(config: Config) -> str:
    url = ArchiveSettings.of(config).archive.url
    if not url:
        print("command-center: no archive configured (archive.url)", file=sys.stderr)
        raise SystemExit(2)
    return url


async def db_upgrade(config: Config, args: argparse.Namespace) -> int:
    engine = open_engine(_url(config))
    try:
        print(f"archive database at revision {await upgrade(engine)}")
    finally:
        await engine.dispose()
    return 0


async def counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per history table."""
    async with transaction(engine) as conn:
        return {t.name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
                for t in schema.HISTORY}


async def replay(bus: Bus, archive: Archive, *, batch: int = 2000) -> int:
    """Every record of the archive's topics from the earliest offset up to the end as of the start, written by
    the live archive's own writer; answers how many events were read."""
    consumer = bus.consumer(f"archive-rebuild-{uuid.uuid4().hex[:12]}", INPUTS, offset_reset="earliest")
    await consumer.start()
    read = 0
    try:
        ends = None
        while True:
            records = await consumer.poll(max_records=batch, wait=0.5)
            if ends is None and consumer.assignment():
                ends = await consumer.end_offsets()
            events = []
            for record in records:
                try:
                    events.append(decode(record.value, record.headers))
                except DecodeError:
                    continue  # the live processor dead-lettered it too
            read += len(events)
            await archive.write(events)
            if ends is not None and not records and await consumer.read_up_to(ends):
                return read
    finally:
        await consumer.stop()


async def rebuild(config: Config, args: argparse.Namespace) -> int:
    engine = open_engine(args.into or _url(config))
    bus = bus_for(config)
    try:
        await upgrade(engine)
        held = {name: n for name, n in (await counts(engine)).items() if n}
        if held:
            print(f"command-center: the database is not empty ({held}); rebuild into a new, empty database "
                  f"(--into URL), then point archive.url at it", file=sys.stderr)
            return 1
        await bus.start()
        archive = Archive(engine, timezone=config.site.timezone, clock=SystemClock(),
                          dedupe_hours=ArchiveSettings.of(config).archive.dedupe_hours)
        read = await replay(bus, archive)
        print(f"read {read} events")
        for name, n in (await counts(engine)).items():
            print(f"{name}\t{n}")
    finally:
        await bus.stop()
        await engine.dispose()
    return 0


def _rebuild_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--into", help="the empty database to build (a SQLAlchemy URL; default archive.url)")


COMMANDS = (
    Command(group="db", name="upgrade", help="bring the archive database to the newest schema (alembic)",
            run=db_upgrade),
    Command(group="archive", name="rebuild", arguments=_rebuild_arguments,
            help="replay the topics from the earliest offset into an empty archive database", run=rebuild),
)
