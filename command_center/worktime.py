"""Working time over a site's calendar: working hours per weekday, Indonesia's national public holidays (the
`holidays` package), and the site's collective leave days (cuti bersama) and regional holidays.

A target in working hours runs only while the office is open: a complaint filed on Friday evening before a
long weekend starts its clock when the office next opens. A target in working days is that many standard
working days (`day_hours` each) of working time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from command_center.config.sections import WEEKDAYS, CalendarConfig

MAX_DAYS = 3660  # a target that cannot be met within ten years of calendar is refused rather than looped on


@lru_cache(maxsize=64)
def _national(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", years=year))


class WorkCalendar:
    def __init__(self, calendar: CalendarConfig, zone: str) -> None:
        self.calendar = calendar
        self.zone = ZoneInfo(zone)
        self._closed = frozenset(calendar.collective_leave) | frozenset(calendar.regional_holidays)
        self._hours = {day: calendar.opening(day) for day in WEEKDAYS}

    def is_working_day(self, day: date) -> bool:
        if day in self._closed or self._hours[WEEKDAYS[day.weekday()]] is None:
            return False
        return not (self.calendar.national_holidays and day in _national(day.year))

    def _open_on(self, day: date) -> tuple[datetime, datetime] | None:
        hours = self._hours[WEEKDAYS[day.weekday()]]
        if hours is None or not self.is_working_day(day):
            return None
        start, end = hours
        return (datetime.combine(day, start, self.zone), datetime.combine(day, end, self.zone))

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of working time after `start`."""
        left = timedelta(hours=hours)
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(MAX_DAYS):
            period = self._open_on(day)
            if period is not None:
                begin = max(period[0], local)
                if begin < period[1]:
                    if begin + left <= period[1]:
                        return begin + left
                    left -= period[1] - begin
            day += timedelta(days=1)
            local = datetime.combine(day, time(0), self.zone)
        raise ValueError(f"no {hours} working hours within {MAX_DAYS} days of {start.isoformat()}")

    def add_days(self, start: datetime, days: float) -> datetime:
        """The moment `days` standard working days of working time after `start`."""
        return self.add_hours(start, days * self.calendar.day_hours)
