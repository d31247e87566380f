"""Sensors through real transports: mosquitto (MQTT, QoS 1) and the HTTP push endpoint, over both adapters,
into the sensor processor; plus stale on a test clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import aiomqtt
import pytest

from command_center.api.app import build_app
from command_center.api.auth import TokenAuth, demo_tokens
from command_center.clock import ManualClock, SystemClock
from command_center.config import Config, parse_config
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import Runtime
from command_center.runtime.http import HttpServer
from command_center.runtime.readiness import Readiness
from command_center.signing import sign
from command_center.testing.servers import MqttBroker
from ingest.sensors.mqtt import MqttIngest
from processors.composition import API_ROUTES
from processors.sensors import SENSORS
from processors.sensors.events import SENSOR_EVENTS, SENSOR_READINGS
from tests.conftest import Backend
from tests.helpers import T0, drain, eventually, publish

ESTATE = {
    "webhook_secret": "s3cret",
    "sensors": [
        {"id": "tma-1", "name": "TMA Kali Code", "kind": "water_level", "unit": "cm", "area": "depok",
         "rules": [{"kind": "threshold", "raise_above": 250, "clear_below": 230}, {"kind": "range", "min": 0, "max": 800},
                   {"kind": "stale", "intervals": 3}], "interval": 60},
        {"id": "link-1", "name": "Link Dinkes", "kind": "bandwidth", "unit": "%", "max_rate": 10,
         "rules": [{"kind": "threshold", "raise_above": 90, "clear_below": 75}]},
    ],
}


@pytest.fixture
def estate() -> Config:
    return parse_config(ESTATE, env={}).model_copy(update={"tokens": demo_tokens()})


async def test_mqtt_readings_in_every_format_reach_the_processor(
    backend: Backend, mqtt_broker: MqttBroker, estate: Config
) -> None:
    config = estate.model_copy(update={"mqtt": parse_config(
        {"mqtt": {"host": "127.0.0.1", "port": mqtt_broker.port, "client_id": f"cc-{backend.name}"}}, env={}).mqtt})
    async with (
        MqttIngest(config, backend.bus) as ingest,
        ProcessorRunner(SENSORS, bus=backend.bus, store=backend.store, config=config, clock=SystemClock(),
                        poll_timeout=0.1, run_ticks=False),
        aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier=f"field-gateway-{backend.name}") as field,
    ):
        await eventually(lambda: _connected(ingest))
        for payload in (b"200", b"260", json.dumps({"value": 249, "unit": "cm"}).encode(), b"255", b"tinggi",
                        b"NaN", json.dumps([{"bn": "tma-1", "v": 225}]).encode(), b"9999"):
            await field.publish("cc/sensors/tma-1", payload, qos=1)
        await field.publish("cc/sensors/unknown-9", b"12", qos=1)
        await field.publish("cc/other/tma-1", b"12", qos=1)
        readings = await drain(backend.bus, SENSOR_READINGS, group="r", expect=6)
        assert [r.data.value for r in readings] == [200, 260, 249, 255, 225, 9999]
        assert {r.data.via for r in readings} == {"mqtt"}
        anomalies = await drain(backend.bus, SENSOR_EVENTS, group="a", expect=3)
    assert [(e.data.kind, e.data.active) for e in anomalies] == [("threshold", True), ("threshold", False),
                                                                 ("fault", True)]
    assert anomalies[0].data.area == "depok" and anomalies[0].data.state == "alarm"


async def _connected(ingest: MqttIngest) -> bool:
    return ingest.connected.is_set()


@pytest.fixture
async def api(backend: Backend, estate: Config) -> AsyncIterator[str]:
    rt = Runtime(config=estate, bus=backend.bus, store=backend.store, clock=SystemClock(), readiness=Readiness(),
                 tokens=TokenAuth(estate.tokens))
    async with HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.port}"


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_http_push_with_a_token_or_a_signature(backend: Backend, api: str) -> None:
    url = f"{api}/webhooks/sensors"
    batch = json.dumps({"readings": [{"sensor_id": "tma-1", "value": 120}, {"sensor_id": "tma-1", "value": "x"},
                                     {"sensor_id": "nope", "value": 1}]}).encode()
    status, body = await _post(url, batch, {"Authorization": "Bearer demo-ingest"})
    assert status == 202 and body["accepted"] == 1
    assert [r["reason"] for r in body["rejected"]] == ["not_a_number", "unknown_sensor"]

    senml = json.dumps([{"bn": "link-1", "v": 42.5}]).encode()
    assert (await _post(url, senml, sign("s3cret", senml)))[0] == 202
    status, body = await _post(url, senml, {**sign("s3cret", senml), "X-CC-Signature": "sha256=" + "0" * 64})
    assert status == 401 and body["error"]["code"] == "bad_signature"
    status, body = await _post(url, senml, sign("s3cret", senml, timestamp=1_700_000_000))
    assert status == 401 and "replay" in body["error"]["message"]
    assert (await _post(url, senml, {"Authorization": "Bearer demo-operator"}))[0] == 403
    status, body = await _post(url, b'{"value": "NaN"}', {"Authorization": "Bearer demo-ingest"})
    assert status == 422 and body["error"]["code"] == "unprocessable"
    readings = await drain(backend.bus, SENSOR_READINGS, group="r", expect=2)
    assert {(r.data.sensor_id, r.data.value, r.data.via) for r in readings} == {("tma-1", 120, "http"),
                                                                                 ("link-1", 42.5, "http")}


async def test_a_flood_from_one_sensor_does_not_block_the_others(backend: Backend, api: str) -> None:
    flood = json.dumps({"readings": [{"sensor_id": "link-1", "value": 50} for _ in range(10_000)]}).encode()
    status, body = await _post(f"{api}/webhooks/sensors", flood, {"Authorization": "Bearer demo-ingest"})
    # the burst allowance (5 s at 10 readings/s), plus what refills while the batch is read
    assert status == 202 and 50 <= body["accepted"] <= 60
    assert {r["reason"] for r in body["rejected"]} == {"rate_limited"}
    other = json.dumps({"readings": [{"sensor_id": "tma-1", "value": 130}]}).encode()
    status, body = await _post(f"{api}/webhooks/sensors", other, {"Authorization": "Bearer demo-ingest"})
    assert (status, body["accepted"]) == (202, 1)


async def test_stale_fires_on_a_test_clock_and_a_reading_clears_it(backend: Backend, estate: Config) -> None:
    from command_center.events import new_event
    from processors.sensors.events import SensorReading

    clock = ManualClock(T0)
    reading = new_event("id.go.cc.sensor.reading", source="/t", subject="tma-1", time=T0, data=SensorReading(
        sensor_id="tma-1", quantity="water_level", unit="cm", value=100, measured_at=T0))
    await publish(backend.bus, SENSOR_READINGS, [reading])
    runner = ProcessorRunner(SENSORS, bus=backend.bus, store=backend.store, config=estate, clock=clock,
                             poll_timeout=0.1, run_ticks=False)
    async with runner:
        await eventually(lambda: _has_value(backend))
        clock.set(T0 + timedelta(minutes=2, seconds=59))
        await runner.tick()
        clock.set(T0 + timedelta(minutes=3, seconds=1))
        await runner.tick()
        await runner.tick()
        later = T0 + timedelta(minutes=4)
        await publish(backend.bus, SENSOR_READINGS, [new_event(
            "id.go.cc.sensor.reading", source="/t", subject="tma-1", time=later,
            data=SensorReading(sensor_id="tma-1", quantity="water_level", unit="cm", value=101, measured_at=later))])
        events = await drain(backend.bus, SENSOR_EVENTS, group="a", expect=2)
    assert [(e.data.kind, e.data.active) for e in events] == [("stale", True), ("stale", False)]


async def _has_value(backend: Backend) -> bool:
    from processors.sensors.decide import SensorMemory
    from processors.sensors.processor import memory_key

    memory = await backend.store.get(memory_key("tma-1"), SensorMemory)
    return memory is not None and memory.value == 100
