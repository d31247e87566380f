"""Distances and containment on the WGS 84 sphere: enough for 50-metre duplicates and district boundaries."""

from __future__ import annotations

import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # of latitude (and of longitude at the equator)


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance (haversine), in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def inside(lat: float, long: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Whether (lat, long) lies inside the polygon of (lat, long) points (ray casting; districts are small)."""
    result = False
    j = len(polygon) - 1
    for i, (lat_i, long_i) in enumerate(polygon):
        lat_j, long_j = polygon[j]
        if (lat_i > lat) != (lat_j > lat) and long < (long_j - long_i) * (lat - lat_i) / (lat_j - lat_i) + long_i:
            result = not result
        j = i
    return result
