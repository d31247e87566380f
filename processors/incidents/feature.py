"""The incidents feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from processors.incidents import cap_routes, routes
from processors.incidents.config import IncidentsSettings
from processors.incidents.processor import INCIDENTS_PROCESSOR

FEATURE = Feature(name="incidents", settings=IncidentsSettings, processors=(INCIDENTS_PROCESSOR,), routes=(routes.routes, cap_routes.routes))
