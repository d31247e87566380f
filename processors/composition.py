"""The composition root: the one module that names every feature. The CLI, the services table, the demo and
the API's route table are built from APP. A new feature is one line here (and its two packages)."""

from __future__ import annotations

from collections.abc import Sequence

from command_center.accounts.feature import FEATURE as ACCOUNTS
from command_center.api import ops, wall
from command_center.features import Application
from processors.archive.feature import FEATURE as ARCHIVE
from processors.cctv.feature import FEATURE as CCTV
from processors.complaints.feature import FEATURE as COMPLAINTS
from processors.health.feature import FEATURE as HEALTH
from processors.incidents.feature import FEATURE as INCIDENTS
from processors.notify.feature import FEATURE as NOTIFY
from processors.police.feature import FEATURE as POLICE
from processors.replies.feature import FEATURE as REPLIES
from processors.sensors.feature import FEATURE as SENSORS
from processors.upstream.feature import FEATURE as UPSTREAM

APP = Application(
    features=(ACCOUNTS, CCTV, HEALTH, SENSORS, COMPLAINTS, INCIDENTS, NOTIFY, POLICE, REPLIES, UPSTREAM, ARCHIVE),
    kernel_routes=(ops.routes, wall.routes))
PROCESSORS = APP.processors
API_ROUTES = APP.routes


def main(argv: Sequence[str] | None = None) -> int:
    """`command-center`: the command line over this application."""
    from command_center.cli import main as cli

    return cli(APP, argv)
