"""The incident read model for /api/incidents, the wall and the CAP feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from command_center.config import Config
from command_center.events import Event
from command_center.store import Store
from command_center.views import STAFF, ViewSpec
from processors.incidents.events import IncidentCommand, IncidentState
from processors.incidents.keys import ALL_INDEX, incident_key


def location_of(incident: IncidentState, config: Config) -> dict[str, float] | None:
    """Where the incident's first entity with a known place is."""
    for entity in incident.entities:
        place = config.place(entity)
        if place is not None and place.location is not None:
            return place.location.model_dump()
    return None


def incident_view(incident: IncidentState, config: Config, *, timeline: int | None = 20) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(incident)
    body["name"] = incident.title
    body["since"] = body["opened_at"]
    body["location"] = location_of(incident, config)
    if incident.links.get("cause"):  # a story by cause: what its members share (a switch, a link)
        found = config.place(incident.links["cause"])
        body["cause_name"] = found.name if found else incident.links["cause"]
    if timeline is not None:
        body["timeline"] = body["timeline"][-timeline:]
    return body


async def recent_incidents(store: Store, *, limit: int = 500) -> list[IncidentState]:
    """The most recently updated incidents, newest first."""
    ids = (await store.members(ALL_INDEX))[::-1][:limit]
    return [i for i in await store.get_many([incident_key(x) for x in ids], IncidentState) if i is not None]


def matches(incident: IncidentState, *, statuses: set[str], severities: set[str], areas: set[str],
            sources: set[str], since: datetime | None, until: datetime | None) -> bool:
    return (not statuses or incident.status in statuses) and (not severities or incident.severity in severities) \
        and (not areas or incident.area in areas) and (not sources or incident.source in sources) \
        and (since is None or incident.updated_at >= since) and (until is None or incident.opened_at <= until)


def _incidents_of(event: Event) -> tuple[str, ...]:
    return (event.subject,) if isinstance(event.data, IncidentState | IncidentCommand) else ()


async def render(store: Store, config: Config, incident_id: str) -> dict[str, Any] | None:
    from processors.incidents.keys import incident_key

    incident = await store.get(incident_key(incident_id), IncidentState)
    return None if incident is None else incident_view(incident, config, timeline=5)


INCIDENTS = ViewSpec(channel="incidents", roles=STAFF, entities=_incidents_of, render=render,
                     active=lambda view: view.get("status") != "resolved")
