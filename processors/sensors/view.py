"""The sensor read model: what /api/sensors and the wall's gauges and sparklines show."""

from __future__ import annotations

from typing import Any

from command_center.config import Config
from command_center.config.base import by_id
from command_center.store import Store
from command_center.views import STAFF, ViewSpec, subjects
from processors.sensors.config import SensorConfig, SensorsSettings
from processors.sensors.decide import SensorMemory
from processors.sensors.keys import history_key, memory_key


async def sensor_view(store: Store, sensor: SensorConfig, memory: SensorMemory | None) -> dict[str, Any]:
    memory = memory or SensorMemory(sensor_id=sensor.id)
    history = _points(await store.list_range(history_key(sensor.id)))
    recent = [[int(t), v] for t, v in memory.window]  # the rules' own window: the last readings
    thresholds = [r.raise_above if r.raise_above is not None else r.raise_below
                  for r in sensor.rules if r.kind == "threshold"]
    return {
        "id": sensor.id, "name": sensor.name, "kind": sensor.kind, "state": memory.state,
        "since": memory.since.isoformat() if memory.since else None, "area": sensor.area,
        "location": sensor.location.model_dump() if sensor.location else None,
        "value": memory.value, "unit": sensor.unit,
        "measured_at": memory.at.isoformat() if memory.at else None, "interval_s": sensor.interval,
        "thresholds": thresholds, "history": history, "recent": recent,
    }


def _points(raws: list[bytes]) -> list[list[float]]:
    out = []
    for raw in raws:
        ts, _, value = raw.decode().partition(",")
        out.append([int(ts), float(value)])
    return out


async def sensor_views(store: Store, config: Config) -> list[dict[str, Any]]:
    memories = await store.get_many([memory_key(s.id) for s in SensorsSettings.of(config).sensors], SensorMemory)
    return [await sensor_view(store, s, m) for s, m in zip(SensorsSettings.of(config).sensors, memories, strict=True)]


async def render(store: Store, config: Config, sensor_id: str) -> dict[str, Any] | None:
    from processors.sensors.keys import memory_key

    sensor = by_id(SensorsSettings.of(config).sensors).get(sensor_id)
    return None if sensor is None else await sensor_view(store, sensor, await store.get(memory_key(sensor_id),
                                                                                        SensorMemory))


SENSORS = ViewSpec(state=lambda view: str(view["state"]), channel="sensors", roles=STAFF, entities=subjects, render=render,
                   catalogue=lambda config: [s.id for s in SensorsSettings.of(config).sensors],
                   every_s=1.0)  # readings arrive many times a second; the wall shows the latest each second
