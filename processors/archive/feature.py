"""The archive feature, as the composition root sees it: everything it brings, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from command_center.config import Config
from command_center.features import Feature
from command_center.sql import open_engine
from processors.archive import routes
from processors.archive.commands import COMMANDS
from processors.archive.config import ArchiveSettings
from processors.archive.db import upgrade
from processors.archive.processor import ARCHIVE_PROCESSOR


def _demo_settings(config: Config, workdir: Path) -> dict[str, Any]:
    archive = ArchiveSettings.of(config).archive
    if archive.url:
        return {}
    return {"archive": archive.model_copy(update={"url": f"sqlite+aiosqlite:///{workdir / 'archive.db'}"})}


async def _demo_setup(config: Config) -> None:
    engine = open_engine(ArchiveSettings.of(config).archive.url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


FEATURE = Feature(name="archive", settings=ArchiveSettings, processors=(ARCHIVE_PROCESSOR,), routes=(routes.routes,),
                  commands=COMMANDS, demo_settings=_demo_settings, demo_setup=_demo_setup)
