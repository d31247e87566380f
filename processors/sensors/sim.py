"""Simulated sensors for the demo: a rain event that floods one area, a link that saturates, one sensor
that goes silent and one that sticks. Readings go through the same gate as MQTT and HTTP pushes."""

from __future__ import annotations

import asyncio
import math
import random
import time

from command_center.bus import Bus
from command_center.clock import utcnow
from command_center.config import Config
from ingest.publisher import Publisher
from ingest.sensors.gate import SensorGate
from ingest.sensors.parse import reading
from processors.sensors.config import SensorsSettings
from processors.sensors.events import SENSOR_READINGS

RAIN_CYCLE = 600  # a storm every 10 minutes, 4 minutes long


def _storm(now: float) -> float:
    """0 outside the storm, rising to 1 at its height."""
    phase = now % RAIN_CYCLE
    return math.sin(math.pi * phase / 240) if phase < 240 else 0.0


PUSHED = frozenset({"suhu-server-01"})  # the demo's sensors that a gateway pushes by HTTP: never simulated


def value_for(kind: str, sensor_id: str, now: float, rng: random.Random) -> float | None:
    """The simulated value of a sensor at `now`, or None while it is silent."""
    storm = _storm(now)
    if sensor_id in PUSHED:
        return None
    if sensor_id == "tma-gendol-01" and (now % 480) < 120:
        return None  # goes silent for two minutes in every eight
    if kind == "water_level":
        return round(120 + 170 * max(0.0, _storm(now - 60)) + rng.gauss(0, 1.5), 1)
    if kind == "rainfall":
        return round(max(0.0, 70 * storm + rng.gauss(1, 0.5)), 1)
    if kind == "bandwidth":
        return round(min(100.0, (96 if (now % 420) < 120 else 45) + rng.gauss(0, 3)), 1)
    if kind == "packet_loss":
        return round(max(0.0, rng.gauss(0.3, 0.2)), 2)
    if kind == "air_quality":
        return 27.3 if (now % 900) < 300 else round(30 + 6 * math.sin(now / 200) + rng.gauss(0, 1), 1)
    return round(rng.gauss(50, 5), 1)


class SimulatedSensors:
    """An async context manager publishing each configured sensor's readings on its interval."""

    def __init__(self, config: Config, bus: Bus) -> None:
        self.config = config
        self.gate = SensorGate(config)
        self.publisher = Publisher(bus, service="sim-sensors")
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SimulatedSensors:
        await self.publisher.__aenter__()
        self._task = asyncio.create_task(self._run(), name="sim-sensors")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.publisher.__aexit__(None, None, None)

    async def _run(self) -> None:
        rng = random.Random(11)
        next_at = {s.id: time.monotonic() + rng.uniform(0, 2) for s in SensorsSettings.of(self.config).sensors}
        while True:
            now_m = time.monotonic()
            for sensor in SensorsSettings.of(self.config).sensors:
                if now_m < next_at[sensor.id]:
                    continue
                next_at[sensor.id] = now_m + sensor.interval
                value = value_for(sensor.kind, sensor.id, time.time(), rng)
                if value is None:
                    continue
                events, _ = self.gate.sort([reading(self.gate.sensors, sensor.id, value, sensor.unit, None, utcnow(),
                                                    "sim")], "sim")
                for event in events:
                    self.publisher.send(SENSOR_READINGS, event)
            await asyncio.sleep(0.5)
