"""The police feed: CCTV events to the police system's endpoint and the cc.police.cctv topic."""

from processors.police.processor import POLICE

__all__ = ["POLICE"]
