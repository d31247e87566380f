"""The incidents feature's Redis keys, in one table."""

from __future__ import annotations

from command_center.store import StateOf
from processors.incidents.events import INCIDENTS

# whose state holds the incidents, and what it derives them from (its own compacted output, its changelog)
STATE = StateOf("incidents", (INCIDENTS,))
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


def parked_key(dedup: str) -> str:
    """An outage with no incident of its own: held, or folded under a dependency's incident."""
    return f"cc:incidents:parked:{dedup}"


def down_key(entity: str) -> str:
    """The open outage incident of an entity (what depends on it is folded under it)."""
    return f"cc:incidents:down:{entity}"


def waiting_key(entity: str) -> str:
    """The outages held on a watched dependency."""
    return f"cc:incidents:waiting:{entity}"


def folded_key(incident_id: str) -> str:
    """The outages folded under an incident."""
    return f"cc:incidents:folded:{incident_id}"
