"""The health feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from ingest.health.scheduler import ingest_health_service
from processors.health import routes
from processors.health.config import HealthSettings
from processors.health.processor import HEALTH
from processors.health.sim import demo_apps

FEATURE = Feature(name="health", settings=HealthSettings, processors=(HEALTH,), services={"ingest-health": ingest_health_service},
                  routes=(routes.routes,), demo_peers=(demo_apps,))
