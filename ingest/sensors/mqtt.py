"""The MQTT subscriber: QoS 1 on the configured topic pattern, reconnecting with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt

from command_center.bus import Bus
from command_center.clock import utcnow
from command_center.config import Config
from command_center.runtime.host import Runtime
from command_center.runtime.runner import Backoff
from ingest.publisher import Publisher
from ingest.sensors.gate import SensorGate
from processors.sensors.config import SensorsSettings
from processors.sensors.events import SENSOR_READINGS

logger = logging.getLogger(__name__)


class MqttIngest:
    """An async context manager that subscribes until stopped and survives broker restarts."""

    def __init__(self, config: Config, bus: Bus) -> None:
        mqtt = SensorsSettings.of(config).mqtt
        if mqtt is None:
            raise ValueError("no mqtt section in the configuration")
        self.config = config
        self.mqtt = mqtt
        self.gate = SensorGate(config)
        self.publisher = Publisher(bus, service="ingest-sensors")
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._problem = "connecting"

    async def ready(self) -> tuple[bool, str]:
        return (not self._problem, self._problem or f"mqtt {self.mqtt.host}:{self.mqtt.port}")

    async def __aenter__(self) -> MqttIngest:
        await self.publisher.__aenter__()
        self._task = asyncio.create_task(self._run(), name="ingest-sensors-mqtt")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.publisher.__aexit__(None, None, None)

    async def _run(self) -> None:
        backoff = Backoff(first=0.5, most=30)
        while True:
            try:
                async with aiomqtt.Client(
                    self.mqtt.host, self.mqtt.port, identifier=self.mqtt.client_id, clean_session=False,
                    username=self.mqtt.username or None, password=self.mqtt.password or None, keepalive=30,
                ) as client:
                    await client.subscribe(self.mqtt.subscription, qos=1)
                    logger.info("subscribed", extra={"broker": f"{self.mqtt.host}:{self.mqtt.port}",
                                                     "topic": self.mqtt.subscription})
                    self._problem = ""
                    self.connected.set()
                    backoff.reset()
                    async for message in client.messages:
                        self._receive(message.topic.value, bytes(message.payload))  # type: ignore[arg-type]
            except aiomqtt.MqttError as err:
                self.connected.clear()
                self._problem = f"mqtt {self.mqtt.host}:{self.mqtt.port}: {err}"
                delay = backoff.next()
                logger.warning("mqtt connection lost; reconnecting", extra={"error": str(err), "in_s": delay})
                await asyncio.sleep(delay)

    def _receive(self, topic: str, payload: bytes) -> None:
        sensor_id = self.mqtt.sensor_of(topic) or ""
        events, _ = self.gate.admit(payload[:65536], utcnow(), "mqtt", sensor_id)
        for event in events:
            self.publisher.send(SENSOR_READINGS, event)


@asynccontextmanager
async def ingest_sensors_service(rt: Runtime) -> AsyncIterator[MqttIngest | None]:
    """Subscribes to the MQTT broker; HTTP pushes arrive through the api service's /webhooks/sensors."""
    if SensorsSettings.of(rt.config).mqtt is None:
        logger.info("no mqtt section: sensor readings arrive only by HTTP push to the api")
        yield None
        return
    ingest = MqttIngest(rt.config, rt.bus)
    rt.readiness.add("mqtt", ingest.ready)
    async with ingest:
        yield ingest
