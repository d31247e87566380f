"""/api/sensors (latest values, states, sparklines) and /webhooks/sensors (HTTP push, token or HMAC)."""

from __future__ import annotations

from aiohttp import web

from command_center.api.app import RUNTIME, principal, runtime, visible
from command_center.api.bodies import decode_json, read_bytes
from command_center.api.errors import bad_request, not_found, unprocessable
from command_center.api.routes import Routes
from command_center.api.validate import problems
from command_center.bus import Message
from command_center.config.base import by_id
from command_center.events import encode
from ingest.sensors.gate import SensorGate
from ingest.sensors.parse import MALFORMED
from processors.sensors.config import SensorsSettings
from processors.sensors.decide import SensorMemory
from processors.sensors.events import SENSOR_READINGS
from processors.sensors.processor import memory_key
from processors.sensors.view import sensor_view, sensor_views

routes = Routes("sensors")
READERS = ("operator", "oncall")
GATE = web.AppKey("sensor_gate", SensorGate)
SENSOR_ITEM = {"type": "object", "required": ["id", "name", "state", "since"],
               "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                              "state": {"enum": ["ok", "alarm", "stale", "flatline", "fault", "unknown"]},
                              "since": {"type": "string", "format": "date-time", "nullable": True},
                              "value": {"type": "number", "nullable": True}, "unit": {"type": "string"},
                              "history": {"type": "array"}}}
READING = {"type": "object", "required": ["sensor_id", "value"], "properties": {
    "sensor_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "value": {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 40}],
              "description": "a number (or a number as text); one that is not, is listed as rejected"},
    "unit": {"type": "string", "maxLength": 20},
    "time": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
             "description": "when it was measured (RFC 3339, or Unix seconds); default: now"}}}
PUSH_BODY = {
    "oneOf": [
        {"type": "object", "required": ["readings"], "properties": {"readings": {
            "type": "array", "minItems": 1, "maxItems": 10_000, "items": READING}}},
        READING,
        {"type": "array", "minItems": 1, "maxItems": 10_000, "items": {"type": "object"},
         "description": "a SenML pack (RFC 8428): bn/bt/bu/bv, n, u, v, t"},
    ]
}


@routes.on_build
def _gate(app: web.Application) -> None:
    app[GATE] = SensorGate(app[RUNTIME].config)


@routes.get("/api/sensors", roles=READERS, summary="Every sensor with its latest value, state and 24 h sparkline",
            response={"type": "object", "properties": {"sensors": {"type": "array", "items": SENSOR_ITEM}}})
async def list_sensors(request: web.Request) -> web.Response:
    rt = runtime(request)
    return web.json_response({"sensors": visible(request, await sensor_views(rt.store, rt.config))})


@routes.get("/api/sensors/{sensor_id}", roles=READERS, summary="One sensor", response=SENSOR_ITEM)
async def get_sensor(request: web.Request) -> web.Response:
    rt = runtime(request)
    sensor = by_id(SensorsSettings.of(rt.config).sensors).get(request.match_info["sensor_id"])
    if sensor is None or not principal(request).sees(sensor.area):
        raise not_found(f"sensor {request.match_info['sensor_id']!r}")
    return web.json_response(await sensor_view(rt.store, sensor, await rt.store.get(memory_key(sensor.id), SensorMemory)))


@routes.post("/webhooks/sensors", roles=("ingest",), signed=True, body=PUSH_BODY,
             summary="Readings pushed over HTTP: a batch or a SenML pack, with an ingest token or an HMAC signature",
             statuses={202: "received: `accepted` readings go on, each of the `rejected` says why (unknown sensor, "
                            "wrong unit, a value no instrument sends, a time out of range)",
                       400: "the body is not a batch, a reading or a SenML pack"})
async def push_readings(request: web.Request) -> web.Response:
    rt = runtime(request)
    raw = await read_bytes(request)
    wrong = problems(PUSH_BODY, decode_json(raw))
    if wrong:
        raise unprocessable("; ".join(wrong))
    events, rejected = request.app[GATE].admit(raw, rt.clock.now(), "http")
    if not events and rejected and rejected[0].reason in MALFORMED:
        raise bad_request(f"{rejected[0].reason}: {rejected[0].detail}".rstrip(": "))
    if events:
        await rt.bus.publish([Message(SENSOR_READINGS, e.key, encode(e)) for e in events])
    return web.json_response({"accepted": len(events), "rejected": [
        {"sensor_id": r.sensor_id, "reason": r.reason, "detail": r.detail} for r in rejected[:100]]}, status=202)
