"""/api/sensors (latest values, states, sparklines) and /webhooks/sensors (HTTP push, token or HMAC)."""

from __future__ import annotations

from aiohttp import web

from command_center.api.app import RUNTIME, runtime
from command_center.api.bodies import read_bytes
from command_center.api.errors import not_found
from command_center.api.routes import Routes
from command_center.bus import Message
from command_center.config.base import by_id
from command_center.events import encode
from ingest.sensors.gate import SensorGate
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
PUSH_BODY = {
    "oneOf": [
        {"type": "object", "properties": {"readings": {"type": "array", "items": {
            "type": "object", "required": ["sensor_id", "value"],
            "properties": {"sensor_id": {"type": "string"}, "value": {"type": "number"},
                           "unit": {"type": "string"}, "time": {"type": "string", "format": "date-time"}}}}}},
        {"type": "array", "description": "a SenML pack (RFC 8428): bn/bt/bu/bv, n, u, v, t"},
    ]
}


@routes.on_build
def _gate(app: web.Application) -> None:
    app[GATE] = SensorGate(app[RUNTIME].config)


@routes.get("/api/sensors", roles=READERS, summary="Every sensor with its latest value, state and 24 h sparkline",
            response={"type": "object", "properties": {"sensors": {"type": "array", "items": SENSOR_ITEM}}})
async def list_sensors(request: web.Request) -> web.Response:
    rt = runtime(request)
    return web.json_response({"sensors": await sensor_views(rt.store, rt.config)})


@routes.get("/api/sensors/{sensor_id}", roles=READERS, summary="One sensor", response=SENSOR_ITEM)
async def get_sensor(request: web.Request) -> web.Response:
    rt = runtime(request)
    sensor = by_id(SensorsSettings.of(rt.config).sensors).get(request.match_info["sensor_id"])
    if sensor is None:
        raise not_found(f"sensor {request.match_info['sensor_id']!r}")
    return web.json_response(await sensor_view(rt.store, sensor, await rt.store.get(memory_key(sensor.id), SensorMemory)))


@routes.post("/webhooks/sensors", roles=("ingest",), signed=True, body=PUSH_BODY,
             summary="Readings pushed over HTTP: a batch or a SenML pack, with an ingest token or an HMAC signature",
             statuses={202: "accepted (the body lists any rejected readings)", 422: "every reading was rejected"})
async def push_readings(request: web.Request) -> web.Response:
    rt = runtime(request)
    events, rejected = request.app[GATE].admit(await read_bytes(request), rt.clock.now(), "http")
    if events:
        await rt.bus.publish([Message(SENSOR_READINGS, e.key, encode(e)) for e in events])
    body = {"accepted": len(events),
            "rejected": [{"sensor_id": r.sensor_id, "reason": r.reason, "detail": r.detail} for r in rejected[:100]]}
    if not events and rejected:
        first = rejected[0]
        return web.json_response({"error": {"code": "unprocessable",
                                            "message": f"no reading accepted: {first.reason} {first.detail}".strip()},
                                  **body}, status=422)
    return web.json_response(body, status=202)
