"""Where a complaint is (its district) and who must act on it (the agency, by the routing rules)."""

from __future__ import annotations

from command_center.config import Config
from command_center.events.types import Location
from command_center.geo import distance_m, inside
from processors.complaints.config import ComplaintsSettings


def area_of(config: Config, location: Location | None, address: str) -> str:
    """The first area whose polygon holds the point, else the nearest centre within its radius, else the first
    area named in the address; "" when none fits."""
    if location is not None:
        for area in config.areas:
            if area.polygon and inside(location.lat, location.long, [(p.lat, p.long) for p in area.polygon]):
                return area.id
        near = [(distance_m(location.lat, location.long, a.center.lat, a.center.long), a)
                for a in config.areas if a.center is not None]
        within = [(d, a) for d, a in near if d <= a.radius_km * 1000]
        if within:
            return min(within, key=lambda pair: pair[0])[1].id
    text = address.lower()
    for area in config.areas:
        if area.name.lower() in text or area.id in text.split():
            return area.id
    return ""


def route(config: Config, service_code: str, description: str, area: str) -> tuple[str, str]:
    """(agency, rule) by the first routing rule that fits: every condition it states must hold."""
    text = description.lower()
    for i, rule in enumerate(ComplaintsSettings.of(config).routing):
        if rule.service_codes and service_code not in rule.service_codes:
            continue
        if rule.keywords and not any(k.lower() in text for k in rule.keywords):
            continue
        if rule.areas and area not in rule.areas:
            continue
        return rule.agency, f"routing.{i}"
    return ComplaintsSettings.of(config).complaints.default_agency, "default"
