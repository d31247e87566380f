"""Sensors: readings into states, sparkline history and anomalies."""

from processors.sensors.processor import SENSORS

__all__ = ["SENSORS"]
