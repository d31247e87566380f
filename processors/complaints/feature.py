"""The complaints feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from ingest.complaints import open311
from processors.complaints import routes
from processors.complaints.processor import COMPLAINTS_PROCESSOR
from processors.complaints.sim import SimulatedComplaints

FEATURE = Feature(name="complaints", processors=(COMPLAINTS_PROCESSOR,), routes=(open311.routes, routes.routes),
                  simulators=(lambda rt: SimulatedComplaints(rt.config),))
