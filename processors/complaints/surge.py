"""Surges: complaints of one category in one area in one hour, far above their own usual count for that hour.

The usual count is the same hour of the day (with the hours either side) over the last `surge_days` days,
taken as an upper estimate of its mean, or the mean hour of the last day if that is higher (so a quiet
night after a busy day is not a surge). A count is a surge
when it reaches `surge_min_count`, is `surge_factor` times the usual count, and would happen less than once
in ten thousand hours by chance (Poisson). A category and area seen for less than a day has no usual count
yet: its hour must then bring at least twice `surge_min_count`. Ordinary daily rhythm (the morning rush of reports) is in the
baseline and raises nothing. A surge is raised once; at the end of each hour it is judged again and
cleared when the new hour is ordinary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec

from processors.complaints.config import ComplaintsConfig

ALPHA = 1e-4
FLOOR = 0.25  # the least usual count: a new area is not a surge at its second complaint


class SurgeMemory(msgspec.Struct, kw_only=True):
    service_code: str
    area: str
    hours: dict[int, int] = {}  # hour number since the epoch -> complaints
    first_hour: int = 0  # the first hour this category and area were seen: a day of history makes a baseline
    active: bool = False
    active_hour: int = 0


@dataclass(frozen=True, slots=True)
class SurgeChange:
    active: bool
    count: int
    baseline: float
    hour: int


def surge_key(service_code: str, area: str) -> str:
    return f"cc:complaints:surge:{service_code}@{area}"


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean)."""
    term = math.exp(-mean)
    below = 0.0
    for k in range(count):
        below += term
        term *= mean / (k + 1)
    return max(0.0, 1.0 - below)


def baseline(memory: SurgeMemory, hour: int, days: int) -> float:
    """The usual count for `hour`: the same hour and its neighbours over the days seen (not days before this key's
    first complaint), as an upper estimate (total + 2 sqrt(total) + 1, over the hours counted), so that a short
    or quiet history does not set a low bar."""
    seen = max(1, min(days, (hour - memory.first_hour) // 24))
    samples = [memory.hours.get(hour - 24 * d + k, 0) for d in range(1, seen + 1) for k in (-1, 0, 1)]
    total = sum(samples)
    same_hour = (total + 2 * math.sqrt(total) + 1) / len(samples)
    last_day = sum(memory.hours.get(hour - h, 0) for h in range(1, 25)) / min(24, max(1, hour - memory.first_hour))
    return max(same_hour, last_day, FLOOR)


def is_surge(count: int, usual: float, config: ComplaintsConfig, *, warm: bool = True) -> bool:
    least = config.surge_min_count if warm else 2 * config.surge_min_count
    return count >= least and count >= config.surge_factor * usual and poisson_tail(count, usual) < ALPHA


def _warm(memory: SurgeMemory, hour: int) -> bool:
    return hour - memory.first_hour >= 24


def counted(memory: SurgeMemory, hour: int, config: ComplaintsConfig) -> tuple[SurgeMemory, SurgeChange | None]:
    """One more complaint in `hour`: the memory after it, and a surge raised by it (once per surge)."""
    keep = hour - 24 * (config.surge_days + 1)
    hours = {h: n for h, n in memory.hours.items() if h > keep}
    hours[hour] = hours.get(hour, 0) + 1
    memory = msgspec.structs.replace(memory, hours=hours, first_hour=memory.first_hour or hour)
    usual = baseline(memory, hour, config.surge_days)
    if memory.active or not is_surge(hours[hour], usual, config, warm=_warm(memory, hour)):
        return memory, None
    return msgspec.structs.replace(memory, active=True, active_hour=hour), SurgeChange(True, hours[hour], usual, hour)


def hour_ended(memory: SurgeMemory, now_hour: int, config: ComplaintsConfig) -> tuple[SurgeMemory, SurgeChange | None]:
    """At the end of a surge's hour: still a surge this hour (kept), or ordinary again (cleared)."""
    if not memory.active or now_hour <= memory.active_hour:
        return memory, None
    count = memory.hours.get(now_hour, 0)
    usual = baseline(memory, now_hour, config.surge_days)
    if is_surge(count, usual, config, warm=_warm(memory, now_hour)):
        return msgspec.structs.replace(memory, active_hour=now_hour), None
    return msgspec.structs.replace(memory, active=False), SurgeChange(False, count, usual, now_hour)
