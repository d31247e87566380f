"""Sensor payloads: readings and anomalies; its topics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from command_center.events.types import (
    Id,
    Payload,
    Severity,
    Text,
    anomaly_types,
    register,
)
from command_center.topics import DAY_MS, TopicSpec, register_topics

SensorState = Literal["ok", "alarm", "stale", "flatline", "fault", "unknown"]
SensorAnomalyKind = Literal["threshold", "rate", "spike", "stale", "flatline", "fault"]


class SensorReading(Payload, kw_only=True, frozen=True):
    """One measurement from a sensor, at the time it was measured."""

    sensor_id: Id
    quantity: str
    unit: str
    value: float
    measured_at: datetime
    via: Literal["mqtt", "http", "sim"] = "http"


class SensorAnomaly(Payload, kw_only=True, frozen=True):
    """A sensor anomaly was raised or cleared; `state` is the sensor's overall state afterwards."""

    sensor_id: Id
    kind: SensorAnomalyKind
    active: bool
    state: SensorState
    since: datetime
    value: float | None = None
    level: str = ""
    detail: Text = ""
    area: str = ""
    severity: Severity = "major"


# --- Incidents, notifications, audit ----------------------------------------------------------------


register({
    "id.go.cc.sensor.reading": SensorReading,
    **anomaly_types("id.go.cc.sensor", get_args(SensorAnomalyKind), SensorAnomaly),
})


SENSOR_READINGS = "cc.sensors.readings"
SENSOR_EVENTS = "cc.sensors.events"

register_topics(
    TopicSpec(name=SENSOR_READINGS, partitions=12, retention_ms=7 * DAY_MS, description="sensor readings"),
    TopicSpec(name=SENSOR_EVENTS, partitions=3, retention_ms=90 * DAY_MS, description="sensor anomalies"),
)
