"""Work calendars: weekends, public holidays and make-up working days (调休)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which days are working days.

    A day is a working day if it is a listed make-up working day, or a Monday to Friday
    that is not a listed holiday.
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    makeup_workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        """Whether people work on this day."""
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def working_days(self, start: date, end: date) -> int:
        """Working days in [start, end)."""
        return sum(1 for d in days_between(start, end) if self.is_working_day(d))


def days_between(start: date, end: date) -> Iterable[date]:
    """Every day in [start, end)."""
    d = start
    while d < end:
        yield d
        d += timedelta(days=1)
