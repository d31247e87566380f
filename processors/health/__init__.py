"""Application health: results into states, anomalies, uptime and latency."""

from processors.health.processor import HEALTH

__all__ = ["HEALTH"]
