"""Work calendars: weekends, public holidays and make-up working days (调休).

A tenant's calendar is a built-in base (``cn``: mainland China, shipped for 2026 and,
provisionally, 2027; or ``none``: Monday to Friday) plus the tenant's own changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from paceline.shared.i18n import Invalid

BUILTIN_CALENDARS = ("cn", "none")


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which days are working days.

    A day is a working day if it is a make-up working day, or a Monday to Friday that is
    not a holiday.
    """

    holidays: Mapping[date, str] = field(default_factory=dict)
    makeup_workdays: Mapping[date, str] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        """Whether people work on this day."""
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def working_days(self, start: date, end: date) -> int:
        """Working days in [start, end): weekdays, minus holidays, plus make-up days."""
        if end <= start:
            return 0
        count = _weekdays(start, end)
        for day in self.holidays:
            if start <= day < end and day.weekday() < 5 and day not in self.makeup_workdays:
                count -= 1
        for day in self.makeup_workdays:
            if start <= day < end and day.weekday() >= 5:
                count += 1
        return count

    def working_day_list(self, start: date, end: date) -> list[date]:
        """The working days in [start, end), in order."""
        return [d for d in days_between(start, end) if self.is_working_day(d)]

    def describe(self, day: date) -> tuple[Literal["workday", "weekend", "holiday"], str]:
        """What kind of day it is, and its name if it has one."""
        if day in self.makeup_workdays:
            return "workday", self.makeup_workdays[day]
        if day in self.holidays:
            return "holiday", self.holidays[day]
        return ("workday", "") if day.weekday() < 5 else ("weekend", "")

    def with_changes(
        self, changes: Iterable[tuple[date, Literal["holiday", "workday"], str]]
    ) -> WorkCalendar:
        """This calendar with a tenant's changes on top."""
        holidays = dict(self.holidays)
        workdays = dict(self.makeup_workdays)
        for day, kind, name in changes:
            holidays.pop(day, None)
            workdays.pop(day, None)
            if kind == "holiday":
                holidays[day] = name
            else:
                workdays[day] = name
        return WorkCalendar(holidays=holidays, makeup_workdays=workdays)


def _weekdays(start: date, end: date) -> int:
    """Mondays to Fridays in [start, end), by arithmetic."""
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    first = start.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (first + i) % 7 < 5)


def days_between(start: date, end: date) -> Iterable[date]:
    """Every day in [start, end)."""
    d = start
    while d < end:
        yield d
        d += timedelta(days=1)


@lru_cache(maxsize=8)
def builtin_calendar_data(name: str) -> dict[str, Any]:
    """The raw data of a built-in calendar (with its sources and status per year)."""
    if name == "none":
        return {"name": "Monday to Friday", "years": {}}
    if name not in BUILTIN_CALENDARS:
        raise Invalid("calendar.unknown", name=name, builtin=", ".join(BUILTIN_CALENDARS))
    text = (
        resources.files("paceline.shared.kpi.calendars")
        .joinpath(f"{name}.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=8)
def builtin_calendar(name: str) -> WorkCalendar:
    """A built-in calendar."""
    data = builtin_calendar_data(name)
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for year in data["years"].values():
        holidays.update({date.fromisoformat(d): n for d, n in year["holidays"].items()})
        workdays.update({date.fromisoformat(d): n for d, n in year["workdays"].items()})
    return WorkCalendar(holidays=holidays, makeup_workdays=workdays)
