"""The complaints feature, as the composition root sees it: everything it brings, declared once."""

from pathlib import Path
from typing import Any

from command_center.api.auth import demo_api_keys
from command_center.config import Config
from command_center.features import Feature
from ingest.complaints import open311
from processors.complaints import routes, tracking
from processors.complaints.config import ComplaintsSettings
from processors.complaints.processor import COMPLAINTS_PROCESSOR
from processors.complaints.sim import SimulatedComplaints


def demo_settings(config: Config, workdir: Path) -> dict[str, Any]:
    """The demo's Open311 api_key (`demo-open311`) unless the file names clients; photos in its folder."""
    c = ComplaintsSettings.of(config).complaints
    return {"complaints": c.model_copy(update={"api_keys": c.api_keys or demo_api_keys(),
                                               "media_dir": c.media_dir or str(workdir / "media")})}


FEATURE = Feature(name="complaints", settings=ComplaintsSettings, demo_settings=demo_settings,
                  processors=(COMPLAINTS_PROCESSOR,), routes=(open311.routes, routes.routes, tracking.routes),
                  simulators=(lambda rt: SimulatedComplaints(rt.config),))
