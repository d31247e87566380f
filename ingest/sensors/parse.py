"""Sensor payloads into validated readings: JSON objects, plain numbers and SenML (RFC 8428).

Each value is checked against the configured sensor: known id, a finite number, the configured unit,
a measurement time neither in the future nor too far past. What fails is a Rejection with the reason.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from processors.sensors.config import SensorConfig
from processors.sensors.events import SensorReading

MAX_AHEAD = timedelta(minutes=5)
MAX_BEHIND = timedelta(hours=24)
SENML_RELATIVE = 2**28  # RFC 8428: smaller times are relative to now
Via = Literal["mqtt", "http", "sim"]


@dataclass(frozen=True, slots=True)
class Rejection:
    sensor_id: str
    reason: str
    detail: str = ""


Parsed = SensorReading | Rejection
MALFORMED = frozenset({"not_utf8", "not_json", "bad_payload", "no_sensor_id"})  # the payload, not one reading


def _time(raw: Any, now: datetime) -> datetime:
    if raw is None:
        return now
    if isinstance(raw, bool):
        raise ValueError("time is a boolean")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError("time is not finite")
        return now + timedelta(seconds=raw) if abs(raw) < SENML_RELATIVE else datetime.fromtimestamp(raw, UTC)
    if isinstance(raw, str):
        when = datetime.fromisoformat(raw)
        if when.tzinfo is None:
            raise ValueError("time has no timezone")
        return when.astimezone(UTC)
    raise ValueError(f"time of type {type(raw).__name__}")


def reading(sensors: dict[str, SensorConfig], sensor_id: str, value: Any, unit: Any, at: Any, now: datetime,
            via: Via) -> Parsed:
    """One value for one sensor, validated."""
    sensor = sensors.get(sensor_id)
    if sensor is None:
        return Rejection(str(sensor_id)[:64], "unknown_sensor")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return Rejection(sensor_id, "not_a_number", f"value {value!r:.40}")
    try:
        number = float(value)
    except ValueError:
        return Rejection(sensor_id, "not_a_number", f"value {value!r:.40}")
    if not math.isfinite(number):
        return Rejection(sensor_id, "not_finite", f"value {value!r:.40}")
    if unit not in (None, "") and unit != sensor.unit:
        return Rejection(sensor_id, "wrong_unit", f"unit {unit!r:.20} is not {sensor.unit!r}")
    low, high = sensor.physical_range()
    if not low <= number <= high:
        return Rejection(sensor_id, "out_of_range", f"{number:g} {sensor.unit} is outside what this sensor can read "
                                                    f"({low:g}..{high:g})")
    try:
        when = _time(at, now)
    except (OverflowError, OSError):
        return Rejection(sensor_id, "bad_time", f"time {at!r:.40} is not a date a reading can have")
    except ValueError as err:
        return Rejection(sensor_id, "bad_time", str(err)[:200])
    if when > now + MAX_AHEAD:
        return Rejection(sensor_id, "from_future", f"measured at {when.isoformat()}")
    if when < now - MAX_BEHIND:
        return Rejection(sensor_id, "too_old", f"measured at {when.isoformat()}")
    return SensorReading(sensor_id=sensor_id, quantity=sensor.quantity or sensor.kind, unit=sensor.unit,
                         value=number, measured_at=when, via=via)


def _object(sensors: dict[str, SensorConfig], sensor_id: str, body: dict[str, Any], now: datetime, via: Via) -> Parsed:
    value = body.get("value", body.get("v"))
    return reading(sensors, sensor_id, value, body.get("unit", body.get("u")), body.get("time", body.get("t")),
                   now, via)


def senml(sensors: dict[str, SensorConfig], records: list[Any], now: datetime, via: Via,
          default_id: str = "") -> list[Parsed]:
    """Resolve a SenML pack: base name/time/unit/value carry forward; the resolved name, or the base name,
    names the sensor."""
    out: list[Parsed] = []
    base_name, base_time, base_unit, base_value = "", 0.0, None, 0.0
    for record in records:
        if not isinstance(record, dict):
            out.append(Rejection(default_id, "bad_senml", "a record is not an object"))
            continue
        try:
            base_name = str(record.get("bn", base_name))
            base_time = float(record.get("bt", base_time))
            base_unit = record.get("bu", base_unit)
            base_value = float(record.get("bv", base_value))
        except (TypeError, ValueError):
            out.append(Rejection(default_id, "bad_senml", "a base field is not valid"))
            continue
        name = base_name + str(record.get("n", ""))
        sensor_id = next((c for c in (name, base_name.rstrip("/:"), default_id) if c in sensors), name or default_id)
        if "v" not in record:
            if {"vs", "vb", "vd"} & record.keys():
                out.append(Rejection(sensor_id, "not_a_number", "only numeric SenML values are readings"))
            elif "bv" in record or "bn" in record:
                continue  # a record that only sets base fields
            else:
                out.append(Rejection(sensor_id, "bad_senml", "record without a value"))
            continue
        value = record["v"]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = base_value + value
        t = record.get("t", 0)
        if isinstance(t, bool) or not isinstance(t, int | float):
            out.append(Rejection(sensor_id, "bad_time", f"t {t!r:.30}"))
            continue
        out.append(reading(sensors, sensor_id, value, record.get("u", base_unit), base_time + t, now, via))
    return out


def parse_payload(sensors: dict[str, SensorConfig], payload: bytes, now: datetime, via: Via,
                  sensor_id: str = "") -> list[Parsed]:
    """An MQTT message or HTTP body: a plain number, a JSON object, a batch, or a SenML pack."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return [Rejection(sensor_id, "not_utf8")]
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not sensor_id:
            return [Rejection("", "no_sensor_id", "a plain number needs the sensor in the topic")]
        return [reading(sensors, sensor_id, number, None, None, now, via)]
    try:
        body = json.loads(text)
    except RecursionError:
        return [Rejection(sensor_id, "not_json", "nested too deeply")]
    except ValueError as err:
        return [Rejection(sensor_id, "not_json", str(err)[:200])]
    if isinstance(body, list):
        return senml(sensors, body, now, via, sensor_id)
    if isinstance(body, dict) and isinstance(body.get("readings"), list):
        out: list[Parsed] = []
        for item in body["readings"]:
            if not isinstance(item, dict):
                out.append(Rejection(sensor_id, "bad_reading", "a reading is not an object"))
                continue
            out.append(_object(sensors, str(item.get("sensor_id", sensor_id)), item, now, via))
        return out
    if isinstance(body, dict):
        return [_object(sensors, str(body.get("sensor_id", sensor_id)), body, now, via)]
    if isinstance(body, int | float) and not isinstance(body, bool) and sensor_id:
        return [reading(sensors, sensor_id, body, None, None, now, via)]
    return [Rejection(sensor_id, "bad_payload", f"a JSON {type(body).__name__} is not a reading")]
