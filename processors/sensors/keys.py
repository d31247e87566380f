"""The sensors feature's Redis keys, in one table."""

from __future__ import annotations


def memory_key(sensor_id: str) -> str:
    return f"cc:sensor:{sensor_id}"


def history_key(sensor_id: str) -> str:
    return f"cc:sensor:history:{sensor_id}"
