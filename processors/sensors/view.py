"""The sensor read model: what /api/sensors and the wall's gauges and sparklines show."""

from __future__ import annotations

from typing import Any

from command_center.config import Config, SensorConfig
from command_center.store import Store
from processors.sensors.decide import SensorMemory
from processors.sensors.processor import history_key, memory_key


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
        "measured_at": memory.at.isoformat() if memory.at else None,
        "thresholds": thresholds, "history": history, "recent": recent,
    }


def _points(raws: list[bytes]) -> list[list[float]]:
    out = []
    for raw in raws:
        ts, _, value = raw.decode().partition(",")
        out.append([int(ts), float(value)])
    return out


async def sensor_views(store: Store, config: Config) -> list[dict[str, Any]]:
    memories = await store.get_many([memory_key(s.id) for s in config.sensors], SensorMemory)
    return [await sensor_view(store, s, m) for s, m in zip(config.sensors, memories, strict=True)]
