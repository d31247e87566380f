"""Every route table the API process serves, in one place."""

from __future__ import annotations

from command_center.api import apps, cameras, cap, complaints, incidents, open311, ops, sensors, wall
from command_center.api.routes import Routes

API_ROUTES: tuple[Routes, ...] = (ops.routes, wall.routes, cameras.routes, apps.routes, sensors.routes,
                                  incidents.routes, cap.routes, open311.routes, complaints.routes)
