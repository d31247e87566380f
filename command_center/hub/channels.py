"""The hub's channels: which topics feed each one, which entity an event concerns, and how to render it.

Every channel carries entity views (a camera, an app, a sensor, an incident, a complaint) read from the
Redis read model, so a client's state is an upsert by (channel, entity) and a lagging client can be sent
only the latest view of each entity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from command_center.config import Config
from command_center.config.base import by_id
from command_center.events import Event
from command_center.events.types import IncidentState
from command_center.store import Store
from command_center.topics import (
    CCTV_EVENTS,
    CCTV_SNAPSHOTS,
    COMPLAINTS,
    HEALTH_EVENTS,
    INCIDENTS,
    SENSOR_EVENTS,
    SENSOR_READINGS,
)

View = dict[str, Any]


@dataclass(frozen=True)
class Channel:
    name: str
    topics: tuple[str, ...]
    roles: frozenset[str]
    snapshot: Callable[[Store, Config], Awaitable[list[View]]]
    view: Callable[[Store, Config, str], Awaitable[View | None]]
    deferred: tuple[str, ...] = ()  # topics shown at most once a second per entity, after the processor's write

    def entity(self, event: Event) -> str:
        return event.subject


STAFF = frozenset({"admin", "operator", "oncall"})


async def _apps(store: Store, config: Config) -> list[View]:
    from processors.health.view import app_views

    return await app_views(store, config)


async def _app(store: Store, config: Config, app_id: str) -> View | None:
    from processors.health.decide import AppHealth
    from processors.health.processor import app_key
    from processors.health.view import app_view

    app = by_id(config.apps).get(app_id)
    return None if app is None else await app_view(store, app, await store.get(app_key(app_id), AppHealth))


async def _sensors(store: Store, config: Config) -> list[View]:
    from processors.sensors.view import sensor_views

    return await sensor_views(store, config)


async def _sensor(store: Store, config: Config, sensor_id: str) -> View | None:
    from processors.sensors.decide import SensorMemory
    from processors.sensors.processor import memory_key
    from processors.sensors.view import sensor_view

    sensor = by_id(config.sensors).get(sensor_id)
    return None if sensor is None else await sensor_view(store, sensor, await store.get(memory_key(sensor_id),
                                                                                        SensorMemory))


async def _incidents(store: Store, config: Config) -> list[View]:
    from processors.incidents.view import incident_view, recent_incidents

    found = await recent_incidents(store, limit=300)
    active = [i for i in found if i.status != "resolved"]
    done = [i for i in found if i.status == "resolved"][:30]
    return [incident_view(i, config, timeline=5) for i in active + done]


async def _incident(store: Store, config: Config, incident_id: str) -> View | None:
    from processors.incidents.processor import incident_key
    from processors.incidents.view import incident_view

    incident = await store.get(incident_key(incident_id), IncidentState)
    return None if incident is None else incident_view(incident, config, timeline=5)


async def _cameras(store: Store, config: Config) -> list[View]:
    from processors.cctv.view import camera_views

    return await camera_views(store, config)


async def _camera(store: Store, config: Config, camera_id: str) -> View | None:
    from processors.cctv.view import one_camera_view

    camera = by_id(config.cameras).get(camera_id)
    return None if camera is None else await one_camera_view(store, camera)


async def _complaints(store: Store, config: Config) -> list[View]:
    from processors.complaints.view import open_complaints

    return await open_complaints(store, config)


async def _complaint(store: Store, config: Config, complaint_id: str) -> View | None:
    from processors.complaints.record import ComplaintRecord, record_key
    from processors.complaints.view import complaint_view

    record = await store.get(record_key(complaint_id), ComplaintRecord)
    return None if record is None else complaint_view(record, config)


CHANNELS: dict[str, Channel] = {c.name: c for c in (
    Channel("cctv", (CCTV_EVENTS, CCTV_SNAPSHOTS), STAFF | {"police"}, _cameras, _camera, deferred=(CCTV_SNAPSHOTS,)),
    Channel("health", (HEALTH_EVENTS,), STAFF, _apps, _app),
    Channel("complaints", (COMPLAINTS,), STAFF, _complaints, _complaint),
    Channel("sensors", (SENSOR_EVENTS, SENSOR_READINGS), STAFF, _sensors, _sensor, deferred=(SENSOR_READINGS,)),
    Channel("incidents", (INCIDENTS,), STAFF, _incidents, _incident),
)}
TOPIC_CHANNELS: dict[str, Channel] = {topic: c for c in CHANNELS.values() for topic in c.topics}


def allowed(role: str) -> set[str]:
    return {name for name, channel in CHANNELS.items() if role in channel.roles}
