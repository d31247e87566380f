"""The way in for readings from any transport: parse, validate, rate-limit per sensor, count, publish."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Counter

from command_center.config import Config
from command_center.config.base import by_id
from command_center.events import Event, new_event
from ingest.sensors.parse import Parsed, Rejection, Via, parse_payload
from processors.sensors.config import SensorsSettings
from processors.sensors.events import SensorReading

logger = logging.getLogger(__name__)

READINGS = Counter("cc_sensor_readings_total", "Sensor readings by transport and outcome", ["via", "outcome"])
BURST = 5.0


@dataclass
class _Bucket:
    tokens: float
    at: float = field(default_factory=time.monotonic)


class SensorGate:
    """Turns payloads into reading events; a sensor over its rate is refused, the others are not slowed."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.sensors = by_id(SensorsSettings.of(config).sensors)
        self._buckets: dict[str, _Bucket] = {}

    def _allow(self, sensor_id: str) -> bool:
        rate = self.sensors[sensor_id].max_rate
        now = time.monotonic()
        bucket = self._buckets.setdefault(sensor_id, _Bucket(rate * BURST, now))
        bucket.tokens = min(rate * BURST, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def admit(self, payload: bytes, now: datetime, via: Via, sensor_id: str = "") -> tuple[list[Event], list[Rejection]]:
        """Events to publish and rejections (with reasons) for one payload."""
        return self.sort(parse_payload(self.sensors, payload, now, via, sensor_id), via)

    def sort(self, parsed: list[Parsed], via: Via) -> tuple[list[Event], list[Rejection]]:
        events: list[Event] = []
        rejected: list[Rejection] = []
        for item in parsed:
            if isinstance(item, SensorReading) and not self._allow(item.sensor_id):
                item = Rejection(item.sensor_id, "rate_limited", f"over {self.sensors[item.sensor_id].max_rate:g}/s")
            if isinstance(item, Rejection):
                READINGS.labels(via, item.reason).inc()
                rejected.append(item)
                continue
            READINGS.labels(via, "accepted").inc()
            events.append(reading_event(item))
        if rejected:
            first = rejected[0]
            logger.info("sensor readings rejected", extra={"via": via, "count": len(rejected),
                                                           "sensor": first.sensor_id, "reason": first.reason,
                                                           "detail": first.detail})
        return events, rejected


def reading_event(reading: SensorReading) -> Event:
    return new_event("id.go.cc.sensor.reading", source=f"/ingest/sensors/{reading.via}", subject=reading.sensor_id,
                     time=reading.measured_at, data=reading)
