"""The bus: one interface (base.py), two adapters, chosen by URL in one table."""

from __future__ import annotations

from command_center.bus.base import Bus, Consumer, Message, Record
from command_center.bus.embedded import EmbeddedBus

EMBEDDED_URL = "embedded://"

__all__ = ["EMBEDDED_URL", "Bus", "Consumer", "EmbeddedBus", "Message", "Record", "open_bus"]


def open_bus(bootstrap: str, **kafka_options: object) -> Bus:
    """`embedded://` for the in-process bus, otherwise a Kafka bootstrap list."""
    if bootstrap == EMBEDDED_URL:
        return EmbeddedBus()
    from command_center.bus.kafka import KafkaBus

    return KafkaBus(bootstrap, **kafka_options)  # type: ignore[arg-type]
