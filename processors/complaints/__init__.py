"""Complaints: routing to agencies, the 60-minute and 24-hour SLA clocks, duplicates, surges, statistics."""

from processors.complaints.processor import COMPLAINTS_PROCESSOR

__all__ = ["COMPLAINTS_PROCESSOR"]
