"""Incidents: deduplicated lifecycle, correlation by area, operators' commands."""

from processors.incidents.processor import INCIDENTS_PROCESSOR

__all__ = ["INCIDENTS_PROCESSOR"]
