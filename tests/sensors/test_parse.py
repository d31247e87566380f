"""Sensor payloads: what is accepted, and the reason for everything that is not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.sensors.parse import Rejection, parse_payload
from processors.sensors.config import SensorConfig
from processors.sensors.events import SensorReading

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
SENSORS = {s.id: s for s in [
    SensorConfig(id="tma-1", name="TMA", kind="water_level", unit="cm"),
    SensorConfig(id="link-1", name="Link", kind="bandwidth", unit="%"),
]}


def parse(payload: object, sensor_id: str = "", raw: bytes | None = None) -> list:  # type: ignore[type-arg]
    body = raw if raw is not None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    return parse_payload(SENSORS, body, NOW, "http", sensor_id)


def test_plain_number_with_the_sensor_in_the_topic() -> None:
    [reading] = parse(b"123.5", "tma-1")
    assert isinstance(reading, SensorReading) and reading.value == 123.5 and reading.measured_at == NOW


def test_json_object_and_batch() -> None:
    [one] = parse({"value": 12, "unit": "cm", "time": "2026-02-01T11:59:00Z"}, "tma-1")
    assert isinstance(one, SensorReading) and one.measured_at == NOW - timedelta(minutes=1)
    both = parse({"readings": [{"sensor_id": "tma-1", "value": 1}, {"sensor_id": "link-1", "value": 97.5}]})
    assert [r.sensor_id for r in both] == ["tma-1", "link-1"]


def test_senml_pack_with_base_fields() -> None:
    pack = [{"bn": "tma-1", "bt": NOW.timestamp(), "bu": "cm", "v": 101}, {"t": -60, "v": 100},
            {"n": "", "t": -120, "v": 99.5}]
    readings = parse(pack)
    assert [(r.value, r.measured_at) for r in readings] == [
        (101, NOW), (100, NOW - timedelta(minutes=1)), (99.5, NOW - timedelta(minutes=2))]


def test_senml_relative_time_is_relative_to_now() -> None:
    [reading] = parse([{"n": "link-1", "v": 50, "t": -30}])
    assert reading.measured_at == NOW - timedelta(seconds=30)


@pytest.mark.parametrize(
    ("payload", "sensor_id", "reason"),
    [
        ({"value": "tinggi"}, "tma-1", "not_a_number"),
        ({"value": True}, "tma-1", "not_a_number"),
        (b"NaN", "tma-1", "not_finite"),
        ({"value": 1e400}, "tma-1", "not_finite"),
        (b"12", "tma-9", "unknown_sensor"),
        ({"value": 2.5, "unit": "m"}, "tma-1", "wrong_unit"),
        ({"value": 1, "time": "2026-02-01T13:00:00Z"}, "tma-1", "from_future"),
        ({"value": 1, "time": "2026-01-20T13:00:00Z"}, "tma-1", "too_old"),
        ({"value": 1, "time": "yesterday"}, "tma-1", "bad_time"),
        ({"value": 1, "time": "2026-02-01T11:00:00"}, "tma-1", "bad_time"),
        (b"{nope", "tma-1", "not_json"),
        (b"\xff\xfe", "tma-1", "not_utf8"),
        ([{"bn": "tma-1", "vs": "high"}], "", "not_a_number"),
        ([{"n": "tma-1"}], "", "bad_senml"),
        (["not a record"], "", "bad_senml"),
        ([{"bn": "tma-1", "bt": "x", "v": 1}], "", "bad_senml"),
        ("just a string", "tma-1", "bad_payload"),
        (b"15", "", "no_sensor_id"),
    ],
)
def test_bad_input_is_rejected_with_the_reason(payload: object, sensor_id: str, reason: str) -> None:
    [result] = parse(payload, sensor_id)
    assert isinstance(result, Rejection) and result.reason == reason
