"""Processors: one Kafka consumer group each. PROCESSORS is the one table of them."""

from __future__ import annotations

from command_center.runtime.processor import Processor

PROCESSORS: dict[str, Processor] = {}
