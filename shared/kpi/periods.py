"""Periods: years, quarters, months and ISO weeks, with a fiscal year start per tenant.

Period keys (as in the API):

* ``2026``     the fiscal year that starts in 2026 (on the tenant's fiscal start month);
* ``2026-Q4``  the fourth quarter of that fiscal year;
* ``2026-11``  a calendar month;
* ``2026-W48`` an ISO week, Monday to Sunday.

Ends are exclusive: a period covers ``start <= day < end``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from paceline.shared.i18n import Invalid

PeriodKind = Literal["year", "quarter", "month", "week"]


@dataclass(frozen=True, slots=True)
class Period:
    """A named span of days."""

    key: str
    kind: PeriodKind
    start: date
    end: date  # exclusive

    @property
    def days(self) -> int:
        """How many calendar days the period has."""
        return (self.end - self.start).days

    def contains(self, day: date) -> bool:
        """Whether the day lies in the period."""
        return self.start <= day < self.end

    def start_instant(self, tz: ZoneInfo) -> datetime:
        """The instant the period begins in a time zone."""
        return datetime.combine(self.start, datetime.min.time(), tzinfo=tz)

    def end_instant(self, tz: ZoneInfo) -> datetime:
        """The instant the period ends in a time zone."""
        return datetime.combine(self.end, datetime.min.time(), tzinfo=tz)


def _add_months(year: int, month: int, months: int) -> date:
    index = year * 12 + (month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


MIN_YEAR, MAX_YEAR = 1900, 2999


def parse_period(key: str, *, fiscal_year_start_month: int = 1) -> Period:
    """Parse a period key; raise :class:`~paceline.shared.i18n.Invalid` (a ValueError
    with a catalog message, ``periods.*``) naming what is wrong."""
    if not 1 <= fiscal_year_start_month <= 12:
        raise Invalid("periods.fiscal_start_month", month=str(fiscal_year_start_month))
    text = key.strip()
    year_text = text[:4]
    if year_text.isascii() and year_text.isdigit() and not MIN_YEAR <= int(year_text) <= MAX_YEAR:
        raise Invalid("periods.year_range", key=key, min=str(MIN_YEAR), max=str(MAX_YEAR))
    if m := re.fullmatch(r"(\d{4})", text):
        year = int(m[1])
        start = date(year, fiscal_year_start_month, 1)
        return Period(text, "year", start, _add_months(year, fiscal_year_start_month, 12))
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", text, flags=re.IGNORECASE):
        year, quarter = int(m[1]), int(m[2])
        start = _add_months(year, fiscal_year_start_month, 3 * (quarter - 1))
        end = _add_months(start.year, start.month, 3)
        return Period(f"{year}-Q{quarter}", "quarter", start, end)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise Invalid("periods.month_range", key=key)
        start = date(year, month, 1)
        return Period(text, "month", start, _add_months(year, month, 1))
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", text, flags=re.IGNORECASE):
        year, week = int(m[1]), int(m[2])
        try:
            start = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise Invalid("periods.no_iso_week", year=str(year), week=str(week)) from None
        return Period(f"{year}-W{week:02d}", "week", start, start + timedelta(days=7))
    raise Invalid("periods.not_a_period", key=key)


def period_of(day: date, kind: PeriodKind, *, fiscal_year_start_month: int = 1) -> Period:
    """The period of a kind that contains a day."""
    if kind == "week":
        iso = day.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    if kind == "month":
        return parse_period(f"{day.year}-{day.month:02d}")
    fy = day.year if day.month >= fiscal_year_start_month else day.year - 1
    if kind == "year":
        return parse_period(str(fy), fiscal_year_start_month=fiscal_year_start_month)
    months_in = (day.year * 12 + day.month) - (fy * 12 + fiscal_year_start_month)
    return parse_period(
        f"{fy}-Q{months_in // 3 + 1}", fiscal_year_start_month=fiscal_year_start_month
    )


def months_of(period: Period) -> list[Period]:
    """The calendar months a period touches, in order (a week may touch two)."""
    out = []
    month = period_of(period.start, "month")
    while month.start < period.end:
        out.append(month)
        month = period_of(month.end, "month")
    return out
