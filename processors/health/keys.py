"""The health feature's Redis keys, in one table."""

from __future__ import annotations


def app_key(app_id: str) -> str:
    return f"cc:health:app:{app_id}"


def uptime_key(app_id: str) -> str:
    return f"cc:health:uptime:{app_id}"


def latency_key(app_id: str) -> str:
    return f"cc:health:latency:{app_id}"


def traffic_key(app_id: str) -> str:
    """A device's last SNMP sample and the bit rates it gave."""
    return f"cc:health:traffic:{app_id}"
