"""The archive's database: its engine, and its schema brought to the newest migration (alembic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from command_center.sql import transaction

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Any = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str:
    """Run the migrations not yet run; answers the revision the database is at."""
    async with transaction(engine) as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    return await current(engine)


async def current(engine: AsyncEngine) -> str:
    async with transaction(engine) as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision() or "")
