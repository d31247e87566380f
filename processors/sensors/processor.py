"""The sensor processor: readings in, sensor states and sparkline history in Redis, anomalies out."""

from __future__ import annotations

import logging
from datetime import timedelta

import msgspec

from command_center.config.base import by_id
from command_center.events import Event, derive_id, new_event
from command_center.runtime import Context, Processor
from processors.sensors.config import SensorConfig, SensorsSettings
from processors.sensors.decide import Change, SensorMemory, observe, went_stale
from processors.sensors.events import SENSOR_EVENTS, SENSOR_READINGS, SensorAnomaly, SensorReading
from processors.sensors.keys import history_key, memory_key  # noqa: F401 (re-exported)
from processors.sensors.view import SENSORS as SENSORS_VIEW

logger = logging.getLogger(__name__)

STALE_TIMER = "sensor-stale"
HISTORY_POINTS = 288  # one point per 5 minutes over 24 hours
HISTORY_BUCKET_S = 300


def _emit(ctx: Context, sensor: SensorConfig, memory: SensorMemory, changes: list[Change], cause: str) -> None:
    for change in changes:
        at = memory.since if change.kind == "stale" and memory.since else (memory.at or ctx.now())
        ctx.emit(SENSOR_EVENTS, new_event(
            f"id.go.cc.sensor.{change.kind}", id=derive_id("sensor", sensor.id, change.kind, change.active, cause),
            source="/processors/sensors", subject=sensor.id, time=at,
            data=SensorAnomaly(sensor_id=sensor.id, kind=change.kind, active=change.active, state=memory.state,
                               since=memory.since or at, value=memory.value, level=change.level,
                               detail=change.detail, area=sensor.area, severity=change.severity),
        ))
        logger.info("sensor anomaly %s", "raised" if change.active else "cleared",
                    extra={"sensor": sensor.id, "kind": change.kind, "detail": change.detail})


def _stale_after(sensor: SensorConfig) -> float | None:
    rule = next((r for r in sensor.rules if r.kind == "stale"), None)
    return rule.intervals * sensor.interval if rule else None


async def handle(event: Event, ctx: Context) -> None:
    reading = event.data
    if not isinstance(reading, SensorReading):
        return
    sensor = by_id(SensorsSettings.of(ctx.config).sensors).get(reading.sensor_id)
    if sensor is None:
        logger.warning("reading for an unknown sensor ignored", extra={"sensor": reading.sensor_id,
                                                                      "source": event.source})
        return
    before = await ctx.state.get(memory_key(sensor.id), SensorMemory) or SensorMemory(sensor_id=sensor.id)
    after, changes = observe(sensor, before, reading)
    if after is before:
        return
    ctx.state.put(memory_key(sensor.id), after)
    point = f"{reading.measured_at.timestamp():.0f},{reading.value:g}"
    bucket = int(reading.measured_at.timestamp() // HISTORY_BUCKET_S)
    if bucket != before.history_bucket and after.value == reading.value:
        ctx.state.push_capped(history_key(sensor.id), point, HISTORY_POINTS)
        after = msgspec.structs.replace(after, history_bucket=bucket)
        ctx.state.put(memory_key(sensor.id), after)
    _emit(ctx, sensor, after, changes, event.id)
    stale_after = _stale_after(sensor)
    if stale_after:
        ctx.state.schedule(STALE_TIMER, sensor.id, reading.measured_at + timedelta(seconds=stale_after))


async def tick(ctx: Context) -> None:
    """Sensors whose stale timer has passed: raise stale once (the next reading clears it)."""
    now = ctx.now()
    sensors = by_id(SensorsSettings.of(ctx.config).sensors)
    for sensor_id in await ctx.state.claim_due(STALE_TIMER, now):
        sensor = sensors.get(sensor_id)
        ctx.state.cancel(STALE_TIMER, sensor_id)
        if sensor is None:
            continue
        before = await ctx.state.get(memory_key(sensor_id), SensorMemory) or SensorMemory(sensor_id=sensor_id)
        after, changes = went_stale(sensor, before, now)
        ctx.state.put(memory_key(sensor_id), after)
        _emit(ctx, sensor, after, changes, f"stale|{sensor_id}|{before.at.isoformat() if before.at else ''}")


SENSORS = Processor(name="sensors", view=SENSORS_VIEW, inputs=(SENSOR_READINGS,), outputs=(SENSOR_EVENTS,), handle=handle, tick=tick,
                    tick_every=1.0, state_keys=lambda event, config: (memory_key(event.subject),), description="thresholds, rate, spikes, flatline, faults and stale sensors")
