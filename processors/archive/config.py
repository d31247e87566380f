"""The archive's configuration: where the history is kept, and what the open-data files say of themselves."""

from __future__ import annotations

from pydantic import Field

from command_center.config import Config
from command_center.config.base import Section


class OpenDataConfig(Section):
    """The metadata the regional data portal (Satu Data Indonesia) asks of every dataset."""

    producer: str = Field(default="", description="the producing agency (produsen data); empty: the site's name")
    custodian: str = Field(default="Dinas Komunikasi dan Informatika", description="the data custodian (walidata)")
    licence: str = Field(default="CC-BY-4.0", description="an SPDX licence id")
    contact: str = Field(default="", description="where users of the data write to")


class ArchiveConfig(Section):
    url: str = Field(default="", pattern=r"^$|^(postgresql\+asyncpg|sqlite\+aiosqlite)://", description=(
        "SQLAlchemy URL of the archive: postgresql+asyncpg://user:password@host/db (production), or "
        "sqlite+aiosqlite:///path/archive.db; empty: no archive (the reports and open data answer 404)"))
    dedupe_hours: float = Field(default=48, gt=0, le=24 * 90, description=(
        "how long the id of a check or a reading counted into an hourly roll-up is remembered (a rerun batch "
        "is not counted twice); the ids of complaint and incident events are kept"))
    open_data: OpenDataConfig = Field(default_factory=OpenDataConfig)


class ArchiveSettings(Config):
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)
