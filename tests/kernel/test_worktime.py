"""Working time on a test clock: national holidays from the `holidays` package, the site's collective leave,
weekends and opening hours; a complaint's deadlines in working hours and days where its service counts so."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from command_center.config import ConfigError, parse_config
from command_center.config.sections import CalendarConfig
from command_center.worktime import WorkCalendar
from processors.complaints.config import deadlines

WIB = timezone(timedelta(hours=7))
JAKARTA = "Asia/Jakarta"
FLAT = CalendarConfig(hours={d: "08:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")})


def test_friday_evening_before_a_long_weekend_counts_from_when_the_office_opens() -> None:
    # Sunday 31 May 2026 is Vesak, Monday 1 June Pancasila Day: the office next opens Tuesday 2 June at 08:00
    friday_evening = datetime(2026, 5, 29, 19, 0, tzinfo=WIB)
    calendar = WorkCalendar(FLAT, JAKARTA)
    assert not calendar.is_working_day(date(2026, 6, 1))
    assert calendar.add_days(friday_evening, 3) == datetime(2026, 6, 4, 16, 0, tzinfo=WIB)  # Tue, Wed, Thu
    assert calendar.add_hours(friday_evening, 1) == datetime(2026, 6, 2, 9, 0, tzinfo=WIB)


def test_idul_fitri_collective_leave_from_the_configuration_is_not_working_time() -> None:
    # 19 March 2026 is Nyepi, 21-22 March Idul Fitri (a weekend); the site adds cuti bersama on 20, 23 and 24
    leave = CalendarConfig(hours=FLAT.hours, collective_leave=[date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24)])
    filed = datetime(2026, 3, 18, 15, 0, tzinfo=WIB)
    with_leave, without = WorkCalendar(leave, JAKARTA), WorkCalendar(FLAT, JAKARTA)
    assert with_leave.add_days(filed, 3) == datetime(2026, 3, 27, 15, 0, tzinfo=WIB)  # 1 h Wed, then 25, 26, 27
    assert without.add_days(filed, 3) == datetime(2026, 3, 24, 15, 0, tzinfo=WIB)  # 1 h Wed, Fri 20, Mon 23, 7 h Tue
    assert not with_leave.is_working_day(date(2026, 3, 19))  # Nyepi, a national holiday either way


def test_a_service_counts_in_working_time_or_in_wall_clock_minutes() -> None:
    config = parse_config({
        "site": {"calendar": {"hours": FLAT.hours}},
        "services": [{"code": "lapor", "name": "SP4N-LAPOR!", "response_working_hours": 4, "feedback_working_days": 5},
                     {"code": "banjir", "name": "Banjir"}]}, env={})
    friday_evening = datetime(2026, 5, 29, 19, 0, tzinfo=WIB)
    assert deadlines("lapor", friday_evening, config) == (datetime(2026, 6, 2, 12, 0, tzinfo=WIB),
                                                          datetime(2026, 6, 8, 16, 0, tzinfo=WIB))
    assert deadlines("banjir", friday_evening, config) == (friday_evening + timedelta(minutes=60),
                                                           friday_evening + timedelta(hours=24))


def test_a_bad_opening_is_named() -> None:
    with pytest.raises(ConfigError, match=r"calendar.hours.mon: '16:00-08:00'"):
        parse_config({"site": {"calendar": {"hours": {"mon": "16:00-08:00"}}}}, env={})
