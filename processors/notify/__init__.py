"""On-call notification: escalation until acknowledged, pushes that are retried and never sent twice."""

from processors.notify.processor import NOTIFY

__all__ = ["NOTIFY"]
