"""Processors: one Kafka consumer group each. PROCESSORS is the one table of them."""

from __future__ import annotations

from command_center.runtime.processor import Processor
from processors.cctv import CCTV
from processors.complaints import COMPLAINTS_PROCESSOR
from processors.health import HEALTH
from processors.incidents import INCIDENTS_PROCESSOR
from processors.notify import NOTIFY
from processors.police import POLICE
from processors.sensors import SENSORS

PROCESSORS: dict[str, Processor] = {p.name: p for p in (CCTV, HEALTH, SENSORS, COMPLAINTS_PROCESSOR, INCIDENTS_PROCESSOR, NOTIFY, POLICE)}
