"""The cctv feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from ingest.cctv.service import ingest_cctv_service
from processors.cctv import routes
from processors.cctv.config import CctvSettings
from processors.cctv.processor import CCTV
from processors.cctv.sim import demo_cameras

FEATURE = Feature(name="cctv", settings=CctvSettings, processors=(CCTV,), services={"ingest-cctv": ingest_cctv_service},
                  routes=(routes.routes,), demo_peers=(demo_cameras,))
