"""The incidents feature's Redis keys, in one table."""

from __future__ import annotations

OPEN_INDEX = "cc:incidents:open"
ALL_INDEX = "cc:incidents:index"


def incident_key(incident_id: str) -> str:
    return f"cc:incident:{incident_id}"


def dedup_key(key: str) -> str:
    return f"cc:incident:dedup:{key}"


def area_key(area: str) -> str:
    return f"cc:incidents:area:{area}"


def cause_key(dependency: str) -> str:
    """Incidents opened recently on something that depends on `dependency` (a switch, a link, a site)."""
    return f"cc:incidents:cause:{dependency}"
