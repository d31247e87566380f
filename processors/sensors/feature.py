"""The sensors feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from ingest.sensors.mqtt import ingest_sensors_service
from processors.sensors import routes
from processors.sensors.config import SensorsSettings
from processors.sensors.processor import SENSORS
from processors.sensors.sim import SimulatedSensors

FEATURE = Feature(name="sensors", settings=SensorsSettings, processors=(SENSORS,), services={"ingest-sensors": ingest_sensors_service},
                  routes=(routes.routes,), simulators=(lambda rt: SimulatedSensors(rt.config, rt.bus),))
